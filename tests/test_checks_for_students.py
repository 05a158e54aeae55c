import keras
import pytest
from helpers import SHAPE, tiny_autoencoder, tiny_classifier

from tlkeras import checks
from tlkeras.models import build_classifier
from tlkeras.transfer import extract_encoder, freeze, unfreeze


def test_check_autoencoder():
    ae = tiny_autoencoder()
    with pytest.raises(checks.CheckFailed, match="Did you call compile"):
        checks.check_autoencoder(ae, SHAPE)
    ae.compile(optimizer="adam", loss="mae")
    with pytest.raises(checks.CheckFailed, match="loss='mse'"):
        checks.check_autoencoder(ae, SHAPE)
    ae.compile(optimizer="adam", loss="mse")
    assert "looks right" in checks.check_autoencoder(ae, SHAPE)
    with pytest.raises(checks.CheckFailed, match="not the image shape"):
        checks.check_autoencoder(ae, (28, 28, 1))


def test_check_encoder_extracted():
    ae = tiny_autoencoder()
    with pytest.raises(checks.CheckFailed, match="not a copy") as failure:
        checks.check_encoder_extracted(ae.get_layer("encoder"), ae)
    assert "extract_encoder" not in str(failure.value), "a hint, not the answer"
    with pytest.raises(checks.CheckFailed, match="differ from the pretrained"):
        checks.check_encoder_extracted(keras.models.clone_model(ae.get_layer("encoder")), ae)
    assert "independent copy" in checks.check_encoder_extracted(extract_encoder(ae), ae)


def test_check_frozen_names_the_trainable_weights():
    encoder = extract_encoder(tiny_autoencoder())
    with pytest.raises(checks.CheckFailed, match="still has 6 trainable weights: did you freeze it"):
        checks.check_frozen(encoder)
    assert checks.check_frozen(freeze(encoder)) == "encoder: frozen."


def test_check_classifier():
    encoder = extract_encoder(tiny_autoencoder())
    wrong = keras.Model(encoder.input, keras.layers.Dense(3)(encoder.output))
    with pytest.raises(checks.CheckFailed, match="does not contain the encoder"):
        checks.check_classifier(wrong, 3)
    clf = build_classifier(encoder, 3)
    with pytest.raises(checks.CheckFailed, match="3 classes|outputs 3"):
        checks.check_classifier(clf, 4)
    clf.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(checks.CheckFailed, match="sparse_categorical_crossentropy"):
        checks.check_classifier(clf, 3)
    clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert "looks right" in checks.check_classifier(clf, 3)


def test_check_unfrozen_from():
    clf = freeze(tiny_classifier())
    unfreeze(clf)  # everything, not from the named layer
    clf.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    with pytest.raises(checks.CheckFailed, match="'encoder_block1_conv' comes before"):
        checks.check_unfrozen_from(clf, "encoder_block2_conv")
    freeze(clf)
    unfreeze(clf, from_layer="encoder_block2_conv")
    for too_high in (1e-2, 1e-3):  # Adam's default is not "low"
        clf.compile(optimizer=keras.optimizers.Adam(too_high), loss="sparse_categorical_crossentropy")
        with pytest.raises(checks.CheckFailed, match=f"learning rate is {too_high:g}"):
            checks.check_unfrozen_from(clf, "encoder_block2_conv")
    clf.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    assert "unfrozen from" in checks.check_unfrozen_from(clf, "encoder_block2_conv")


def test_check_own_code_refuses_the_library_however_it_is_reached():
    import numpy as np

    import tlkeras
    from tlkeras.study.statistics import paired_interval

    def by_hand(transfer, scratch):
        gains = np.subtract(transfer, scratch)
        return float(gains.mean())

    def through_a_name(gains):
        return paired_interval(gains)

    def through_the_package(gains):
        return tlkeras.study.statistics.paired_interval(gains)

    def imported_inside(probabilities, per_class):
        from tlkeras.study.parts import balanced_confident

        return balanced_confident(probabilities, per_class)

    def nested(gains):
        def helper():
            return paired_interval(gains)

        return helper()

    assert "your own code" in checks.check_own_code(by_hand)
    for shortcut in (through_a_name, through_the_package, imported_inside, nested):
        with pytest.raises(checks.CheckFailed, match="write that part yourself"):
            checks.check_own_code(shortcut)


def test_check_built_by_hand_refuses_the_autoencoders_encoder_and_the_builder():
    from keras import layers

    from tlkeras.models import build_encoder

    ae = tiny_autoencoder()
    with pytest.raises(checks.CheckFailed, match="shares layers"):
        checks.check_built_by_hand(ae.get_layer("encoder"), ae)
    with pytest.raises(checks.CheckFailed, match="build_encoder"):
        checks.check_built_by_hand(build_encoder(SHAPE, filters=(4, 8), latent_dim=6), ae)
    inputs = keras.Input(SHAPE)
    mine = keras.Model(inputs, layers.Dense(6)(layers.Flatten()(layers.Conv2D(4, 3)(inputs))))
    assert "built by hand" in checks.check_built_by_hand(mine, ae)
