"""Each defect of the hostile pass (issue #10), as a test that failed before the fix."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import SHAPE, tiny_autoencoder, tiny_classifier, weights_by_path

from tlkeras.data import sample_per_class, split_by_class
from tlkeras.models import build_classifier, build_conv_autoencoder, build_decoder, build_encoder
from tlkeras.precision import mixed_precision
from tlkeras.saving import save_model
from tlkeras.transfer import fine_tune


def test_a_decoder_whose_latent_cannot_reach_the_output_shape_is_refused():
    with pytest.raises(ValueError, match="latent_shape.*\\(8, 8\\)"):
        build_decoder((3, 5, 4), (16, 16, 1), filters=(4,))
    assert build_decoder((8, 8, 4), (16, 16, 1), filters=(4,)).output_shape == (None, 16, 16, 1)


@pytest.mark.parametrize(
    "reference, message",
    [
        (np.full((4, *SHAPE), 255, "uint8"), "/ 255"),
        (np.zeros((0, *SHAPE), "float32"), "at least one image"),
        (np.zeros((4, 16, 16, 3), "float32"), "expects"),
    ],
)
def test_standard_normalisation_checks_its_reference_images(reference, message):
    encoder = build_encoder(SHAPE, filters=(4,), latent_dim=4)
    with pytest.raises(ValueError, match=message):
        build_classifier(encoder, 3, normalize="standard", reference_images=reference)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer": "no-such"}, "optimizer"),
        ({"head_learning_rate": float("inf")}, "head_learning_rate"),
        ({"fine_tune_learning_rate": -1.0}, "fine_tune_learning_rate"),
        ({"validation_data": (1, 2, 3)}, "pair"),
    ],
)
def test_fine_tune_checks_every_argument_before_touching_the_model(images, labels, kwargs, message):
    clf = tiny_classifier()
    before = weights_by_path(clf)
    trainable = [layer.trainable for layer in clf.get_layer("encoder").layers]
    with pytest.raises(ValueError, match=message):
        fine_tune(clf, images, labels, head_epochs=1, fine_tune_epochs=1, verbose=0, **kwargs)
    assert [layer.trainable for layer in clf.get_layer("encoder").layers] == trainable
    assert all(np.array_equal(v, weights_by_path(clf)[k]) for k, v in before.items())


def test_unclear_inputs_get_clear_messages(images, labels):
    with pytest.raises(ValueError, match="size zero"):
        fine_tune(tiny_classifier(), np.zeros((2, 0, 16, 1), "float32"), labels[:2], verbose=0)
    with pytest.raises(ValueError, match="seed"):
        sample_per_class(images, labels, 1, seed=-1)
    with pytest.raises(ValueError, match="NumPy array"):
        sample_per_class(images.tolist(), labels, 1)
    with pytest.raises(ValueError, match="NumPy array"):
        split_by_class(images, labels.tolist(), [0, 1])
    with pytest.raises(ValueError, match="too large"):
        fine_tune(tiny_classifier(), images[:2], np.array([0.0, 1e20]), verbose=0)
    with pytest.raises(ValueError, match="noise_stddev.*\\[0, 1\\]"):
        build_conv_autoencoder(SHAPE, filters=(4,), latent_dim=4, noise_stddev=1.5)
    # NumPy integers are integers.
    assert build_encoder((np.int64(16), np.int64(16), np.int64(1)), filters=(4,), latent_dim=4).input_shape == (
        None,
        16,
        16,
        1,
    )


def test_save_model_cleans_up_after_killed_writers_honours_the_umask_and_writes_through_symlinks(tmp_path):
    target = tmp_path / "model.keras"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".model.keras.tmp{dead.stdout.strip()}-abc.keras"
    stale.write_text("half a model")
    stale_assets = tmp_path / f".model.keras.tmp{dead.stdout.strip()}-xyz"
    stale_assets.mkdir()
    other = tmp_path / ".other.keras.tmp1-abc.keras"  # another file's temporary: not ours to remove
    other.write_text("x")
    old_umask = os.umask(0o022)
    try:
        save_model(tiny_autoencoder(), target)
    finally:
        os.umask(old_umask)
    assert sorted(os.listdir(tmp_path)) == sorted([".other.keras.tmp1-abc.keras", "model.keras"])
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644)
    link = tmp_path / "link.keras"
    link.symlink_to(target)
    save_model(tiny_autoencoder(), link)
    assert link.is_symlink() and os.path.samefile(link, target)


def test_importing_the_plots_leaves_the_matplotlib_backend_alone():
    code = "import matplotlib; b = matplotlib.get_backend(); import tlkeras.plots; print(b == matplotlib.get_backend())"
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().endswith("True"), out.stderr[-500:]


def test_mixed_precision_as_a_context_restores_the_policy_even_on_error():
    with pytest.raises(RuntimeError), mixed_precision("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == "float32"
