import math
import os
import shutil

import keras
import numpy as np
import pytest

from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder

TINY = PretrainConfig(dataset="digits", filters=(4, 8), latent_dim=8, epochs=1, batch_size=32)


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

    monkeypatch.setattr("tlkeras.pretraining.save_model", read_only)
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
    from tlkeras.training import fit_or_raise

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


def test_a_small_dataset_gets_enough_steps_to_learn_more_than_the_mean_image(images):
    from tlkeras.pretraining import reconstruction_quality

    short = PretrainConfig(filters=(4, 8), latent_dim=8, epochs=1, batch_size=16)
    long = PretrainConfig(filters=(4, 8), latent_dim=8, epochs=1, batch_size=16, min_steps=200)
    # 64 images: 57 train, 4 steps an epoch; min_steps=200 makes it 50 epochs. One epoch leaves the
    # autoencoder worse than predicting the mean image (ratio above 1); 200 steps take it much closer
    # (below it on TensorFlow, 1.07 on JAX).
    quick = pretrain_autoencoder(short, cache_dir=False, images=images, verbose=0)
    keras.utils.set_random_seed(0)
    trained = pretrain_autoencoder(long, cache_dir=False, images=images, verbose=0)
    assert len(quick.history["loss"]) == 1 and len(trained.history["loss"]) == 50
    # The key names the training done: 50 passes, however they were asked for.
    assert long.cache_key(images, 50) == PretrainConfig(**{**long.to_dict(), "epochs": 50, "min_steps": 0}).cache_key(
        images
    )
    assert long.cache_key(images, 50) != short.cache_key(images, 1)
    before, after = (reconstruction_quality(p.autoencoder, images, images) for p in (quick, trained))
    assert before["mean_image_mse"] == after["mean_image_mse"] > 0
    assert before["ratio"] > 1.0 and after["ratio"] < 0.6 * before["ratio"]
