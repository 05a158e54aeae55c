import keras
import numpy as np
import pytest
from helpers import SHAPE, tiny_autoencoder, tiny_classifier, weights_by_path

from tlkeras.models import build_classifier
from tlkeras.transfer import (
    extract_encoder,
    fine_tune,
    freeze,
    leaf_layers,
    trainable_report,
    unfreeze,
)


def _fit(model, x, y, epochs=2, learning_rate=1e-2):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)


def _changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


def test_frozen_encoder_is_bit_for_bit_unchanged_by_fit(images, labels):
    clf = tiny_classifier(batch_norm=True)
    encoder = freeze(clf.get_layer("encoder"))
    before = weights_by_path(clf)
    _fit(clf, images, labels)
    after = weights_by_path(clf)
    encoder_paths = {w.path for w in encoder.weights}
    assert any("moving_mean" in p for p in encoder_paths)
    assert not _changed(before, after) & encoder_paths
    assert _changed(before, after) == {w.path for w in clf.get_layer("predictions").weights}


@pytest.mark.parametrize("from_layer", ["encoder_block2_conv", "bottleneck", 5, -1])
def test_partial_unfreeze_changes_exactly_the_layers_from_the_named_one(images, labels, from_layer):
    clf = freeze(tiny_classifier(batch_norm=True))
    unfreeze(clf, from_layer=from_layer)
    leaves = leaf_layers(clf)
    start = [layer.name for layer in leaves].index(from_layer) if isinstance(from_layer, str) else from_layer
    expected = {
        w.path
        for layer in leaves[start:]
        if not isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.weights
    }
    before = weights_by_path(clf)
    _fit(clf, images, labels)
    assert _changed(before, weights_by_path(clf)) == expected


def test_unfreeze_can_release_batchnorm_too(images, labels):
    clf = freeze(tiny_classifier(batch_norm=True))
    unfreeze(clf, keep_batchnorm_frozen=False)
    before = weights_by_path(clf)
    _fit(clf, images, labels, epochs=1)
    changed = _changed(before, weights_by_path(clf))
    assert "encoder_block1_bn/moving_mean" in changed and "encoder_block1_bn/gamma" in changed


@pytest.mark.parametrize(
    "from_layer, message", [("no_such_layer", "no_such_layer"), (99, "out of range"), (1.5, "name")]
)
def test_unfreeze_rejects_unknown_layers(from_layer, message):
    with pytest.raises(ValueError, match=message):
        unfreeze(tiny_classifier(), from_layer=from_layer)


def test_extracted_copy_is_independent_of_the_autoencoder(images, labels):
    ae = tiny_autoencoder(batch_norm=True)
    ae_before = weights_by_path(ae)
    encoder = extract_encoder(ae, copy=True)
    assert encoder.name == "encoder"
    np.testing.assert_array_equal(
        encoder.predict(images, verbose=0), ae.get_layer("encoder").predict(images, verbose=0)
    )
    encoder_before = weights_by_path(encoder)
    clf = build_classifier(encoder, 3)
    fine_tune(clf, images, labels, head_epochs=1, fine_tune_epochs=2, fine_tune_learning_rate=1e-2, verbose=0)
    assert "encoder_block1_conv/kernel" in _changed(encoder_before, weights_by_path(encoder))
    assert not _changed(ae_before, weights_by_path(ae))


def test_extract_without_copy_shares_weights():
    ae = tiny_autoencoder()
    encoder = extract_encoder(ae, copy=False)
    assert encoder is ae.get_layer("encoder")


def test_extract_can_cut_at_a_feature_map():
    ae = tiny_autoencoder()
    encoder = extract_encoder(ae, output_layer="encoder_block2_pool")
    assert encoder.output_shape == (None, 4, 4, 8)
    with pytest.raises(ValueError, match="output_layer='nope'"):
        extract_encoder(ae, output_layer="nope")
    with pytest.raises(ValueError, match="no sub-model named 'encoder'"):
        extract_encoder(encoder)


def test_fine_tune_runs_both_phases_and_trains_the_encoder_only_in_the_second(images, labels):
    clf = tiny_classifier(batch_norm=True)
    encoder = clf.get_layer("encoder")
    start = weights_by_path(encoder)
    result = fine_tune(clf, images, labels, head_epochs=2, fine_tune_epochs=0, verbose=0)
    assert result.fine_tune is None and not _changed(start, weights_by_path(encoder))
    result = fine_tune(
        clf,
        images,
        labels,
        head_epochs=2,
        fine_tune_epochs=3,
        fine_tune_learning_rate=1e-2,
        validation_data=(images[:8], labels[:8]),
        verbose=0,
    )
    assert result.head_epochs == 2 and len(result.history["loss"]) == 5
    assert "val_accuracy" in result.history
    changed = _changed(start, weights_by_path(encoder))
    assert "encoder_block1_conv/kernel" in changed
    assert not {p for p in changed if "_bn/" in p}  # BatchNorm stays frozen by default


def test_fine_tune_from_a_layer_leaves_earlier_layers_alone(images, labels):
    clf = tiny_classifier()
    start = weights_by_path(clf)
    fine_tune(
        clf,
        images,
        labels,
        head_epochs=1,
        fine_tune_epochs=2,
        from_layer="encoder_block2_conv",
        fine_tune_learning_rate=1e-2,
        verbose=0,
    )
    changed = _changed(start, weights_by_path(clf))
    assert "encoder_block2_conv/kernel" in changed and "encoder_block1_conv/kernel" not in changed


@pytest.mark.parametrize(
    "x_change, y_change, kwargs, message",
    [
        (lambda x: (x * 255).astype("uint8"), None, {}, "/ 255"),
        (lambda x: x[:, :8, :8], None, {}, "model expects"),
        (lambda x: x[..., 0], None, {}, "rank 4"),
        (None, lambda y: y + 3, {}, "out of range"),
        (None, lambda y: y[:-1], {}, "one label per image"),
        (None, None, {"encoder_name": "backbone"}, "backbone"),
        (None, None, {"from_layer": "nope"}, "from_layer='nope'"),
        (None, None, {"head_epochs": 0}, "head_epochs"),
        (None, None, {"fine_tune_learning_rate": 0}, "fine_tune_learning_rate"),
    ],
)
def test_fine_tune_rejects_bad_input_before_training(images, labels, x_change, y_change, kwargs, message):
    clf = tiny_classifier()
    before = weights_by_path(clf)
    x = x_change(images) if x_change else images
    y = y_change(labels) if y_change else labels
    with pytest.raises(ValueError, match=message):
        fine_tune(clf, x, y, verbose=0, **kwargs)
    assert not _changed(before, weights_by_path(clf))


def test_trainable_report_matches_keras_counts():
    clf = tiny_classifier(batch_norm=True)
    freeze(clf.get_layer("encoder"))
    report = trainable_report(clf)
    assert report.trainable_params == sum(int(np.prod(w.shape)) for w in clf.trainable_weights)
    assert report.trainable_params + report.non_trainable_params == clf.count_params()
    assert not report["encoder_block1_conv"].trainable and report["predictions"].trainable
    unfreeze(clf)
    report = trainable_report(clf)
    assert report["encoder_block1_conv"].trainable and not report["encoder_block1_bn"].trainable
    assert report["encoder_block1_bn"].non_trainable_params == 4 * 4
    assert "encoder_block1_conv" in str(report) and "total" in str(report)


def test_same_seed_gives_the_same_weights(images, labels):
    def run():
        keras.utils.set_random_seed(42)
        ae = tiny_autoencoder(noise_stddev=0.1)
        ae.compile(optimizer="adam", loss="mse")
        ae.fit(images, images, epochs=2, batch_size=16, verbose=0)
        clf = build_classifier(extract_encoder(ae), 3, dropout=0.3)
        fine_tune(clf, images, labels, head_epochs=1, fine_tune_epochs=1, verbose=0)
        return weights_by_path(clf)

    first, second = run(), run()
    assert first.keys() == second.keys()
    for path in first:
        np.testing.assert_array_equal(first[path], second[path], err_msg=path)


def test_leaf_layers_flattens_nested_models():
    names = [layer.name for layer in leaf_layers(tiny_classifier())]
    assert names[0] == "encoder_block1_conv" and names[-1] == "predictions" and "encoder" not in names
    assert SHAPE == tiny_classifier().input_shape[1:]


def test_the_last_block_is_a_cut_by_name_and_an_encoder_without_blocks_is_told_so():
    from tlkeras.models import build_conv_autoencoder
    from tlkeras.transfer import LAST_BLOCK

    ae = build_conv_autoencoder((16, 16, 1), filters=(4, 8, 8), latent_dim=4)
    assert extract_encoder(ae, output_layer=LAST_BLOCK).layers[-1].name == "encoder_block3_pool"
    inputs = keras.Input((16, 16, 1))
    plain = keras.Model(inputs, keras.layers.Flatten()(inputs), name="encoder")
    wrapper = keras.Model(inputs, plain(inputs))
    with pytest.raises(ValueError, match="last `encoder_block<i>_pool` layer.*has none"):
        extract_encoder(wrapper, output_layer=LAST_BLOCK)
