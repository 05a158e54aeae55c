import json
import os

import numpy as np
import pytest
from helpers import tiny_autoencoder

from tlkeras.models import build_classifier
from tlkeras.saving import atomic_path, load_model, save_model, write_json
from tlkeras.transfer import extract_encoder, freeze


@pytest.mark.parametrize("which", ["autoencoder", "encoder", "classifier"])
def test_models_survive_a_keras_round_trip_with_identical_predictions(tmp_path, images, which):
    ae = tiny_autoencoder(batch_norm=True, noise_stddev=0.1, upsampling="upsampling")
    encoder = extract_encoder(ae)
    model = {
        "autoencoder": ae,
        "encoder": encoder,
        "classifier": build_classifier(
            freeze(encoder),
            3,
            normalize="standard",
            reference_images=images,
            augment=("translate", "flip"),
            dropout=0.5,
        ),
    }[which]
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / f"{which}.keras"
    save_model(model, path)
    loaded = load_model(path)  # plain keras.saving.load_model underneath, safe_mode on
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    assert [w.path for w in loaded.trainable_weights] == [w.path for w in model.trainable_weights]
    assert sorted(os.listdir(tmp_path)) == [f"{which}.keras"]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    ae = tiny_autoencoder()
    path = tmp_path / "ae.keras"
    save_model(ae, path)
    good = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(type(ae), "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(ae, path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ae.keras"]


def test_load_model_names_a_missing_or_corrupt_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        load_model(tmp_path / "missing.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="corrupt"):
        load_model(corrupt)
    save_model(tiny_autoencoder(), tmp_path / "ae.keras")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes((tmp_path / "ae.keras").read_bytes()[:-200])
    with pytest.raises(ValueError, match="truncated.keras"):
        load_model(truncated)
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(tiny_autoencoder(), tmp_path / "ae.h5")


def test_atomic_writes(tmp_path):
    write_json(tmp_path / "r.json", {"a": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2]}
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "r.json") as tmp:
            with open(tmp, "w") as f:
                f.write("partial")
            raise RuntimeError("crash")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2]}
    assert os.listdir(tmp_path) == ["r.json"]
