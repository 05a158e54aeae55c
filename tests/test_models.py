import keras
import numpy as np
import pytest
from helpers import SHAPE, tiny_autoencoder

from tlkeras.models import build_classifier, build_conv_autoencoder, build_encoder
from tlkeras.saving import load_model, save_model


@pytest.mark.parametrize(
    "input_shape, filters, bottleneck, upsampling, batch_norm",
    [
        ((28, 28, 1), (32, 64), "dense", "transpose", False),
        ((32, 32, 3), (8, 16, 32), "conv", "upsampling", True),
        ((16, 24, 2), (4,), "dense", "upsampling", False),
        ((8, 40, 1), (4, 4, 8), "conv", "transpose", True),
    ],
)
def test_autoencoder_reconstructs_to_the_input_shape(input_shape, filters, bottleneck, upsampling, batch_norm):
    ae = build_conv_autoencoder(
        input_shape,
        filters=filters,
        latent_dim=5,
        bottleneck=bottleneck,
        upsampling=upsampling,
        batch_norm=batch_norm,
    )
    x = np.random.default_rng(0).random((2, *input_shape)).astype("float32")
    out = ae.predict(x, verbose=0)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    encoder = ae.get_layer("encoder")
    assert ae.get_layer("decoder").input_shape[1:] == encoder.output_shape[1:]
    if bottleneck == "dense":
        assert encoder.output_shape == (None, 5)
    else:
        side = 2 ** len(filters)
        assert encoder.output_shape == (None, input_shape[0] // side, input_shape[1] // side, 5)


def test_layers_have_deterministic_names():
    ae = tiny_autoencoder(batch_norm=True)
    encoder = ae.get_layer("encoder")
    for name in ("encoder_block1_conv", "encoder_block1_bn", "encoder_block2_pool", "bottleneck"):
        encoder.get_layer(name)
    decoder = ae.get_layer("decoder")
    for name in ("decoder_dense", "decoder_block1_deconv", "decoder_block2_bn", "reconstruction"):
        decoder.get_layer(name)
    assert [layer.name for layer in ae.layers] == ["image", "encoder", "decoder"]


def test_denoising_noise_acts_only_in_training():
    ae = tiny_autoencoder(noise_stddev=0.5)
    noise = ae.get_layer("noise")
    x = np.full((4, *SHAPE), 0.5, "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(noise(x, training=False)), x)
    assert not np.allclose(keras.ops.convert_to_numpy(noise(x, training=True)), x)
    np.testing.assert_array_equal(ae.predict(x, verbose=0), ae.predict(x, verbose=0))


def test_training_lowers_the_reconstruction_error(images):
    ae = tiny_autoencoder()
    ae.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    before = ae.evaluate(images, images, verbose=0)
    ae.fit(images, images, epochs=15, batch_size=16, verbose=0)
    assert ae.evaluate(images, images, verbose=0) < 0.8 * before


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (28, 28, 1), "filters": (8, 8, 8)}, "divisible by 2\\*\\*len\\(filters\\) = 8"),
        ({"input_shape": (28, 28)}, "input_shape"),
        ({"input_shape": (28, 28, 0)}, "input_shape"),
        ({"filters": ()}, "filters"),
        ({"filters": (8, -1)}, "filters"),
        ({"latent_dim": 0}, "latent_dim=0"),
        ({"bottleneck": "linear"}, "bottleneck"),
        ({"upsampling": "nearest"}, "upsampling"),
        ({"noise_stddev": -0.1}, "noise_stddev"),
    ],
)
def test_autoencoder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_conv_autoencoder(**kwargs)


@pytest.mark.parametrize("pooling", ["flatten", "avg", "max"])
def test_classifier_head_on_feature_map_and_vector_encoders(pooling):
    conv = build_encoder(SHAPE, filters=(4,), latent_dim=3, bottleneck="conv")
    clf = build_classifier(conv, 5, pooling=pooling, normalize="layer", hidden_units=7, dropout=0.2)
    probs = clf.predict(np.zeros((2, *SHAPE), "float32"), verbose=0)
    assert probs.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.get_layer("encoder") is conv
    dense = build_encoder(SHAPE, filters=(4,), latent_dim=3)
    assert build_classifier(dense, 2).output_shape == (None, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "num_classes=1"),
        ({"num_classes": 3, "dropout": 1.0}, "dropout"),
        ({"num_classes": 3, "pooling": "sum"}, "pooling"),
        ({"num_classes": 3, "hidden_units": 0}, "hidden_units"),
    ],
)
def test_classifier_rejects_bad_arguments(kwargs, message):
    encoder = build_encoder(SHAPE, filters=(4,), latent_dim=3)
    with pytest.raises(ValueError, match=message):
        build_classifier(encoder, **kwargs)


def test_classifier_needs_a_model():
    with pytest.raises(ValueError, match="encoder of type str"):
        build_classifier("encoder", 3)


def test_standard_normalisation_uses_the_reference_images_statistics(images):
    encoder = build_encoder(SHAPE, filters=(4,), latent_dim=6)
    clf = build_classifier(encoder, 3, normalize="standard", reference_images=images)
    standardised = keras.Model(clf.input, clf.get_layer("head_norm").output).predict(images, verbose=0)
    np.testing.assert_allclose(standardised.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(standardised.std(axis=0), 1.0, atol=1e-2)
    scaled = keras.Model(clf.input, clf.get_layer("head_rescale").output).predict(images, verbose=0)
    np.testing.assert_allclose(np.linalg.norm(scaled, axis=1), np.sqrt(6), rtol=1e-4)
    with pytest.raises(ValueError, match="reference_images"):
        build_classifier(encoder, 3, normalize="standard")


def test_augmentation_acts_only_in_training(images):
    encoder = build_encoder(SHAPE, filters=(4,), latent_dim=6)
    clf = build_classifier(encoder, 3, augment=("translate", "flip"))
    augment = keras.Sequential([clf.get_layer("augment_translate"), clf.get_layer("augment_flip")])
    x = images[:8]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(x, training=False)), x)
    assert not np.allclose(keras.ops.convert_to_numpy(augment(x, training=True)), x)
    with pytest.raises(ValueError, match="augment"):
        build_classifier(encoder, 3, augment="flip")


def test_an_augmented_classifier_is_compiled_whole_on_jax(tmp_path, images, labels):
    """Keras marks RandomTranslation as not XLA-compilable; on JAX that made an augmented model train op by op."""
    encoder = build_encoder(SHAPE, filters=(4,), latent_dim=6)
    clf = build_classifier(encoder, 3, augment=("translate", "flip"))
    clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    on_jax = keras.backend.backend() == "jax"
    assert clf.get_layer("augment_translate").supports_jit is on_jax  # elsewhere, Keras' own choice
    if on_jax:
        assert clf.jit_compile is True
        history = clf.fit(images[:32], labels[:32], batch_size=8, epochs=2, verbose=0).history
        assert np.all(np.isfinite(history["loss"]))
        path = tmp_path / "clf.keras"
        save_model(clf, path)
        loaded = load_model(path)  # Keras does not save the lifted mark: loading lifts it again
        assert loaded.get_layer("augment_translate").supports_jit is True and loaded.jit_compile is True
