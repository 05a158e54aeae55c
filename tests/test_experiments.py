import json
import os

import numpy as np
import pytest

from tlkeras.experiments import (
    PretrainConfig,
    TransferConfig,
    label_efficiency,
    markdown_table,
    pretrain_autoencoder,
    summarize,
    write_results,
)

TINY = PretrainConfig(dataset="digits", filters=(4, 8), latent_dim=8, epochs=1, batch_size=32)


def test_pretraining_is_cached_by_configuration(tmp_path, images):
    first = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert not first.cached and os.path.exists(first.path) and first.history["loss"]
    second = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert second.cached and second.path == first.path and second.history == first.history
    for a, b in zip(first.autoencoder.get_weights(), second.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = PretrainConfig(**{**TINY.to_dict(), "filters": (4, 8), "epochs": 2})
    assert other.cache_key() != TINY.cache_key()


def test_a_corrupt_cache_entry_is_rebuilt(tmp_path, images):
    first = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    with open(first.path, "wb") as f:
        f.write(b"garbage")
    with pytest.warns(UserWarning, match="Rebuilding"):
        again = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert not again.cached
    assert pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0).cached


def test_pretrain_config_checks_its_fields():
    with pytest.raises(ValueError, match="dataset"):
        PretrainConfig(dataset="imagenet")
    with pytest.raises(ValueError, match="epochs"):
        PretrainConfig(epochs=0)


@pytest.fixture
def tiny_pretrained(images, tmp_path):
    return pretrain_autoencoder(TINY, cache_dir=False, images=images, verbose=0).autoencoder


def test_label_efficiency_records_every_run_reproducibly(tiny_pretrained, images, labels):
    config = TransferConfig(steps=4, reference_images=32)
    kwargs = dict(
        labels_per_class=(1, 2),
        strategies=("scratch", "recommended"),
        seeds=(0,),
        config=config,
        progress=False,
    )
    runs = label_efficiency(tiny_pretrained, (images, labels), (images[:20], labels[:20]), **kwargs)
    assert len(runs) == 2 * 2
    assert set(runs[0]) == {"strategy", "labels_per_class", "seed", "accuracy", "seconds"}
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["seconds"] > 0 for r in runs)
    again = label_efficiency(tiny_pretrained, (images, labels), (images[:20], labels[:20]), **kwargs)
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in runs]


@pytest.mark.parametrize("strategy", ["frozen", "fine_tuned"])
def test_every_strategy_trains(tiny_pretrained, images, labels, strategy):
    runs = label_efficiency(
        tiny_pretrained,
        (images, labels),
        (images, labels),
        labels_per_class=(3,),
        strategies=(strategy,),
        seeds=(0,),
        config=TransferConfig(steps=4, reference_images=32),
        progress=False,
    )
    assert runs[0]["strategy"] == strategy and runs[0]["labels_per_class"] == 3


def test_label_efficiency_rejects_bad_arguments(tiny_pretrained, images, labels):
    with pytest.raises(ValueError, match="strategies"):
        label_efficiency(tiny_pretrained, (images, labels), (images, labels), strategies=("magic",))
    with pytest.raises(ValueError, match="n=50"):
        label_efficiency(tiny_pretrained, (images, labels), (images, labels), labels_per_class=(50,), progress=False)
    with pytest.raises(ValueError, match="test\\[0\\]"):
        label_efficiency(tiny_pretrained, (images, labels), (images[:, :8], labels))


def test_summary_table_and_files(tmp_path):
    runs = [
        {"strategy": s, "labels_per_class": n, "seed": seed, "accuracy": acc, "seconds": 1.0}
        for s, n, seed, acc in [("scratch", 1, 0, 0.4), ("scratch", 1, 1, 0.6), ("frozen", 1, 0, 0.7)]
    ]
    summary = summarize(runs)
    scratch = next(r for r in summary if r["strategy"] == "scratch")
    assert scratch["mean"] == pytest.approx(0.5) and scratch["std"] == pytest.approx(0.1) and scratch["runs"] == 2
    table = markdown_table(summary)
    assert "| 1 | 50.0 ± 10.0 % | 70.0 ± 0.0 % |" in table
    write_results(tmp_path, runs, {"seed": 0})
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["runs"] == runs and saved["configuration"] == {"seed": 0}
    assert (tmp_path / "results.csv").read_text().splitlines()[1] == "scratch,1,0,0.400000,1.000"


def test_tiling_keeps_every_class_when_the_budget_is_smaller_than_the_set():
    from tlkeras.experiments import _tile

    x = np.arange(100, dtype="float32")[:, None, None, None]
    y = np.repeat(np.arange(10), 10)  # sorted by class, as sample_per_class returns them
    xs, ys = _tile(x, y, 50)
    assert len(xs) == 50 and len(set(xs[:, 0, 0, 0].tolist())) == 50
    assert set(ys.tolist()) == set(range(10)) and np.all(y[xs[:, 0, 0, 0].astype(int)] == ys)
    xs, ys = _tile(x, y, 250)
    counts = np.bincount(xs[:, 0, 0, 0].astype(int), minlength=100)
    assert counts.min() >= 2 and counts.max() <= 3 and len(xs) == 250
