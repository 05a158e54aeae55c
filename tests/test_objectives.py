"""The pretraining objectives: each trains the same encoder under a cache key of its own, and refuses misuse."""

import keras
import numpy as np
import pytest

from tlkeras import objectives
from tlkeras.models import build_conv_autoencoder
from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder

TINY = PretrainConfig(dataset="digits", filters=(4, 8), latent_dim=8, epochs=1, batch_size=32)


def _encoder_kernel(pretrained):
    return pretrained.autoencoder.get_layer("encoder").get_layer("encoder_block1_conv").get_weights()[0]


@pytest.mark.parametrize("objective", ["denoising", "masked", "contrastive", "supervised"])
def test_each_objective_trains_the_encoder_and_is_cached_under_its_own_key(tmp_path, images, labels, objective):
    config = PretrainConfig(**{**TINY.to_dict(), "objective": objective})
    given = labels if objective == "supervised" else None
    first = pretrain_autoencoder(config, cache_dir=tmp_path, images=images, labels=given, verbose=0)
    again = pretrain_autoencoder(config, cache_dir=tmp_path, images=images, labels=given, verbose=0)
    assert not first.cached and again.cached and np.isfinite(first.history["loss"]).all()
    np.testing.assert_array_equal(_encoder_kernel(first), _encoder_kernel(again))
    # the same architecture as the autoencoder of the course, and other weights than it from the same start
    reconstruction = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert first.path != reconstruction.path
    assert [w.shape for w in first.autoencoder.get_weights()] == [
        w.shape for w in reconstruction.autoencoder.get_weights()
    ]
    assert not np.array_equal(_encoder_kernel(first), _encoder_kernel(reconstruction))


def test_random_trains_nothing_and_starts_where_every_other_objective_starts(tmp_path, images):
    # The ablation of pretraining: the same seeded network, not one step taken.
    untrained = pretrain_autoencoder(PretrainConfig(**{**TINY.to_dict(), "objective": "random"}), False, images)
    assert untrained.history == {}
    keras.utils.set_random_seed(TINY.seed)
    fresh = build_conv_autoencoder(
        images.shape[1:], TINY.filters, TINY.latent_dim, upsampling=TINY.upsampling, noise_stddev=TINY.noise_stddev
    )
    fresh_kernel = fresh.get_layer("encoder").get_layer("encoder_block1_conv").get_weights()[0]
    np.testing.assert_array_equal(_encoder_kernel(untrained), fresh_kernel)
    trained = pretrain_autoencoder(TINY, cache_dir=tmp_path, images=images, verbose=0)
    assert not np.array_equal(_encoder_kernel(untrained), _encoder_kernel(trained))


def test_supervised_pretraining_learns_the_labels_and_its_key_names_them(images, labels):
    config = PretrainConfig(**{**TINY.to_dict(), "objective": "supervised", "epochs": 3})
    pretrained = pretrain_autoencoder(config, cache_dir=False, images=images, labels=labels, verbose=0)
    assert pretrained.history["loss"][-1] < pretrained.history["loss"][0]
    assert config.cache_key(images, labels=labels) != config.cache_key(images, labels=(labels + 1) % 3)


def test_the_default_objective_is_reconstruction_and_each_other_has_a_key_of_its_own(images):
    # A key names what trained: another objective on the same images is another cache entry.
    assert "objective" in TINY.to_dict() and TINY.objective == "reconstruction"
    denoising = PretrainConfig(**{**TINY.to_dict(), "objective": "denoising"})
    assert denoising.cache_key(images) != TINY.cache_key(images)


def test_labels_go_with_the_objective_that_uses_them(images, labels):
    with pytest.raises(ValueError, match="objective='supervised' needs them"):
        pretrain_autoencoder(PretrainConfig(**{**TINY.to_dict(), "objective": "supervised"}), False, images)
    with pytest.raises(ValueError, match="objective='reconstruction' trains without them"):
        pretrain_autoencoder(TINY, False, images, labels=labels)
    with pytest.raises(ValueError, match="`labels` must have one label per image"):
        pretrain_autoencoder(
            PretrainConfig(**{**TINY.to_dict(), "objective": "supervised"}), False, images, labels=labels[:-1]
        )
    with pytest.raises(ValueError, match="objective. must be one of .'reconstruction'.*Received: objective='rotation'"):
        PretrainConfig(objective="rotation")


def test_a_stream_serves_only_the_objectives_that_reconstruct(images):
    class Stream(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return images[index * 32 : (index + 1) * 32]

    with pytest.raises(ValueError, match="'contrastive' objective trains on arrays"):
        pretrain_autoencoder(PretrainConfig(**{**TINY.to_dict(), "objective": "contrastive"}), False, Stream())


def test_the_patch_mask_hides_whole_patches_in_training_only():
    layer = objectives.PatchMask(4, 0.5, seed=0)
    x = np.ones((64, 16, 16, 1), "float32")
    masked = keras.ops.convert_to_numpy(layer(x, training=True))
    patches = masked.reshape(64, 4, 4, 4, 4).transpose(0, 1, 3, 2, 4).reshape(64, 16, 16)
    assert set(np.unique(patches.min(-1) == patches.max(-1))) == {True}  # each patch all kept or all hidden
    assert 0.4 < 1 - masked.mean() < 0.6
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


def test_nt_xent_is_low_for_matching_views_and_high_for_unrelated_ones():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(16, 8)).astype("float32")
    loss = objectives.NTXent(temperature=0.5)
    matching = keras.ops.convert_to_numpy(loss([first, first + 0.01]))
    unrelated = keras.ops.convert_to_numpy(loss([first, rng.normal(size=(16, 8)).astype("float32")]))
    assert matching.shape == (16,) and matching.mean() < unrelated.mean() - 1.0
    assert (matching > -1e-5).all()  # the positive is one of the terms it is weighed against: never below 0
