import json
import math
import os
import shutil

import keras
import numpy as np
import pytest
from helpers import weights_by_path

from tlkeras.experiments import (
    PretrainConfig,
    TransferConfig,
    compare_with_scratch,
    label_efficiency,
    markdown_table,
    paired_interval,
    pretrain_autoencoder,
    recommend,
    resolve_strategies,
    summarize,
    train_strategy,
    validation_split,
    verdict,
    write_results,
)

TINY = PretrainConfig(dataset="digits", filters=(4, 8), latent_dim=8, epochs=1, batch_size=32)
# One self-training round: semi_supervised then trains twice, not four times (test_semi_supervised tests the rounds).
QUICK = TransferConfig(
    max_steps=6, eval_every=2, patience=1, num_reference_images=32, unlabeled_batch_size=8, pseudo_label_rounds=1
)


def test_pretraining_is_cached_by_configuration_and_images(tmp_path, images):
    first = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert not first.cached and os.path.exists(first.path) and first.history["loss"]
    second = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert second.cached and second.path == first.path and second.history == first.history
    for a, b in zip(first.autoencoder.get_weights(), second.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = PretrainConfig(**{**TINY.to_dict(), "filters": (4, 8), "epochs": 2})
    assert other.cache_key(images) != TINY.cache_key(images)
    upsampled = pretrain_autoencoder(
        PretrainConfig(**{**TINY.to_dict(), "upsampling": "upsampling"}), cache_dir=tmp_path, images=images, verbose=0
    )
    assert not upsampled.cached and upsampled.path != first.path
    assert {type(layer).__name__ for layer in upsampled.autoencoder.get_layer("decoder").layers} >= {"UpSampling2D"}
    # Same configuration, other images (and another shape): a new model, not the cached one.
    flipped = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images[:, ::-1].copy(), verbose=0)
    assert not flipped.cached and flipped.path != first.path
    bigger = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)
    larger = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=bigger, verbose=0)
    assert not larger.cached and larger.autoencoder.input_shape[1:] == (32, 32, 1)


def test_a_read_only_shared_cache_is_read_and_never_written(tmp_path, images, monkeypatch):
    shared = tmp_path / "shared"
    cached = pretrain_autoencoder(TINY, cache_dir=shared, images=images, verbose=0)

    def read_only(model, path):  # what a class's read-only folder answers (even to root, on a read-only mount)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("tlkeras.experiments.save_model", read_only)
    assert pretrain_autoencoder(TINY, cache_dir=shared, images=images, verbose=0).cached
    other = PretrainConfig(**{**TINY.to_dict(), "seed": 1})
    with pytest.warns(UserWarning, match="Not caching the autoencoder: .*Permission denied"):
        fresh = pretrain_autoencoder(other, cache_dir=shared, images=images, verbose=0)
    assert not fresh.cached and fresh.path is None and fresh.history["loss"]
    assert sorted(p.name for p in shared.iterdir()) == sorted(
        os.path.basename(p) for p in (cached.path, cached.path[: -len(".keras")] + ".json")
    )


@pytest.fixture(scope="module")
def cache_entry(tmp_path_factory, digits):
    """A cache folder holding one entry for TINY and the test images (trained once for the module)."""
    folder = tmp_path_factory.mktemp("cache")
    keras.utils.set_random_seed(0)
    return folder, pretrain_autoencoder(TINY, cache_dir=folder, images=digits[0].copy(), verbose=0).path


@pytest.mark.parametrize("garbage", [b"garbage", b"null", b"[]", b'{"seconds": 1}'])
def test_a_corrupt_cache_entry_is_rebuilt(tmp_path, images, garbage, cache_entry):
    shutil.copytree(cache_entry[0], tmp_path, dirs_exist_ok=True)
    first = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert first.cached and os.path.basename(first.path) == os.path.basename(cache_entry[1])
    target = first.path if garbage == b"garbage" else first.path[: -len(".keras")] + ".json"
    with open(target, "wb") as f:
        f.write(garbage)
    with pytest.warns(UserWarning, match="Rebuilding"):
        again = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert not again.cached
    assert pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0).cached


@pytest.mark.parametrize(
    "field, value",
    [
        ("dataset", "imagenet"),
        ("epochs", 0),
        ("learning_rate", -1e-2),
        ("learning_rate", math.inf),
        ("latent_dim", 0),
        ("upsampling", "unpooling"),
        ("noise_stddev", 2.0),
        ("filters", ()),
        ("seed", -1),
    ],
)
def test_pretrain_config_checks_its_fields(field, value):
    with pytest.raises(ValueError, match=field):
        PretrainConfig(**{field: value})


def test_training_that_turns_nan_stops_with_a_clear_error():
    from tlkeras._training import fit_or_raise

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=lambda y, p: keras.ops.log(-keras.ops.abs(p) - 1.0))  # log of < 0: NaN
    with pytest.raises(ValueError, match="diverged.*lower the learning rate"):
        fit_or_raise(model, np.ones((8, 2), "float32"), np.ones((8, 1), "float32"), epochs=3, verbose=0)
    assert model.stop_training  # TerminateOnNaN stopped it in the first epoch


def test_pretraining_never_ends_an_epoch_on_a_batch_of_one_image(images):
    # 64 images: Keras' 10 % split trains on 57, a last batch of one image at batch size 8, which
    # PyTorch cannot train the one-filter reconstruction layer on: the validation part takes it.
    config = PretrainConfig(filters=(4, 8), latent_dim=6, epochs=1, batch_size=8)
    result = pretrain_autoencoder(config, cache_dir=False, images=images, verbose=0)
    assert math.isfinite(result.history["loss"][0]) and math.isfinite(result.history["val_loss"][0])


@pytest.fixture(scope="module")
def tiny_pretrained(digits):
    keras.utils.set_random_seed(0)
    return pretrain_autoencoder(TINY, cache_dir=False, images=digits[0], verbose=0).autoencoder


def test_label_efficiency_records_every_run_reproducibly(tiny_pretrained, images, labels):
    kwargs = dict(
        labels_per_class=(1, 2),
        strategies=("scratch", "lp_ft"),
        seeds=(0, 1),
        config=QUICK,
        validation_size=12,
        progress=False,
    )
    runs = label_efficiency(tiny_pretrained, (images, labels), (images[:20], labels[:20]), **kwargs)
    assert len(runs) == 2 * 2 * 2
    assert set(runs[0]) == {
        "setting",
        "strategy",
        "labels_per_class",
        "seed",
        "accuracy",
        "val_accuracy",
        "steps",
        "seconds",
    }
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["seconds"] > 0 and r["setting"] == "in_domain" for r in runs)
    assert all(r["steps"] % QUICK.eval_every == 0 and r["steps"] <= 2 * QUICK.max_steps for r in runs)
    # The same seed gives the same numbers: rerun one cell of each strategy (a full rerun doubles the time).
    again = label_efficiency(
        tiny_pretrained,
        (images, labels),
        (images[:20], labels[:20]),
        **{**kwargs, "labels_per_class": (2,), "seeds": (1,)},
    )
    assert [r["accuracy"] for r in again] == [
        r["accuracy"] for r in runs if (r["labels_per_class"], r["seed"]) == (2, 1)
    ]


def test_validation_split_is_stratified_disjoint_and_seeded():
    x = np.arange(100, dtype="float32")[:, None, None, None]
    y = np.repeat(np.arange(4), 25)
    (rest, y_rest), (val, y_val) = validation_split(x, y, 20, seed=3)
    assert len(val) == 20 and np.bincount(y_val).tolist() == [5, 5, 5, 5]
    assert not set(rest[:, 0, 0, 0]) & set(val[:, 0, 0, 0]) and len(rest) == 80
    assert np.array_equal(validation_split(x, y, 20, seed=3)[1][0], val)
    with pytest.raises(ValueError, match="size"):
        validation_split(x, y, 100)


@pytest.mark.parametrize("strategy", ["frozen", "fine_tuned", "semi_supervised"])
def test_every_strategy_trains_and_frozen_leaves_the_encoder_unchanged(tiny_pretrained, images, labels, strategy):
    before = weights_by_path(tiny_pretrained.get_layer("encoder"))
    model, info = train_strategy(
        strategy, tiny_pretrained, (images[:30], labels[:30]), images, (images[30:], labels[30:]), 3, QUICK, seed=0
    )
    assert 0.0 <= info["val_accuracy"] <= 1.0 and info["steps"] >= QUICK.eval_every
    after = weights_by_path(model.get_layer("encoder"))
    changed = [path for path in before if not np.array_equal(before[path], after[path])]
    if strategy == "frozen":
        assert changed == []
    else:
        assert changed, f"{strategy} never trained the encoder"
    # The pretrained autoencoder itself is never changed.
    assert all(np.array_equal(v, weights_by_path(tiny_pretrained.get_layer("encoder"))[k]) for k, v in before.items())


def test_label_efficiency_rejects_bad_arguments(tiny_pretrained, images, labels):
    data = (images, labels)
    with pytest.raises(ValueError, match="strategies"):
        label_efficiency(tiny_pretrained, data, data, strategies=("magic",))
    with pytest.raises(ValueError, match="strategies"):
        label_efficiency(tiny_pretrained, data, data, strategies="scratch")
    with pytest.raises(ValueError, match="n=50"):
        label_efficiency(tiny_pretrained, data, data, labels_per_class=(50,), validation_size=5, progress=False)
    with pytest.raises(ValueError, match="test\\[0\\]"):
        label_efficiency(tiny_pretrained, data, (images[:, :8], labels))
    with pytest.raises(ValueError, match="repeat"):
        label_efficiency(tiny_pretrained, data, data, seeds=(0, 0))
    with pytest.raises(ValueError, match="repeat"):
        label_efficiency(tiny_pretrained, data, data, labels_per_class=(1, 1))
    with pytest.raises(ValueError, match="seeds"):
        label_efficiency(tiny_pretrained, data, data, seeds=(-1,))
    with pytest.raises(ValueError, match="pair"):
        label_efficiency(tiny_pretrained, data, (images, labels, labels))
    # A test class the training labels never hold is an error, not a silent extra class.
    with pytest.raises(ValueError, match="out of range"):
        label_efficiency(tiny_pretrained, data, (images[:2], np.array([0, 7])), progress=False)


def test_the_old_name_recommended_still_means_lp_ft():
    with pytest.warns(DeprecationWarning, match="lp_ft"):
        assert resolve_strategies(("scratch", "recommended")) == ("scratch", "lp_ft")


def test_paired_interval_and_verdicts():
    mean, low, high = paired_interval([0.05, 0.06, 0.07, 0.05, 0.06])
    assert mean == pytest.approx(0.058) and 0 < low < mean < high
    # t(0.975, 4) = 2.776; std(ddof=1) of these = 0.008367
    assert high - mean == pytest.approx(2.776 * 0.008367 / math.sqrt(5), rel=1e-3)
    assert verdict(low, high) == "wins" and verdict(-0.2, -0.1) == "loses" and verdict(-0.1, 0.1) == "no difference"
    assert verdict(*paired_interval([0.1])[1:]) == "too few seeds"


def _runs():
    rows = []
    for seed, (s, f) in enumerate([(0.40, 0.50), (0.60, 0.72), (0.50, 0.61)]):
        for strategy, accuracy, val in (("scratch", s, 0.5), ("frozen", f, 0.6)):
            rows.append(
                {
                    "setting": "in_domain",
                    "strategy": strategy,
                    "labels_per_class": 1,
                    "seed": seed,
                    "accuracy": accuracy,
                    "val_accuracy": val,
                    "steps": 10,
                    "seconds": 1.0,
                }
            )
    return rows


def test_comparisons_are_paired_per_seed():
    [row] = compare_with_scratch(_runs())
    # Unpaired, the seed-to-seed spread (0.4..0.6) would swamp the gain; paired, every seed gains 0.10..0.12.
    assert row["gain"] == pytest.approx(0.11) and row["low"] > 0 and row["verdict"] == "wins" and row["seeds"] == 3
    missing = [r for r in _runs() if not (r["strategy"] == "scratch" and r["seed"] == 2)]
    assert compare_with_scratch(missing)[0]["seeds"] == 2


def test_summary_recommendation_table_and_files(tmp_path):
    runs = _runs()
    summary = summarize(runs)
    scratch = next(r for r in summary if r["strategy"] == "scratch")
    assert scratch["mean"] == pytest.approx(0.5) and scratch["runs"] == 3
    assert recommend(summary) == {1: "frozen"}
    table = markdown_table(summary)
    assert "| 1 | 50.0 ± 8.2 % | 61.0 ± 9.0 % |" in table
    write_results(tmp_path, runs, {"seed": 0}, generative=[{"seed": 0}])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["runs"] == runs and saved["configuration"] == {"seed": 0} and saved["generative"] == [{"seed": 0}]
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].startswith("setting,strategy") and lines[1] == "in_domain,scratch,1,0,0.400000,0.500000,10,1.000"
