import keras
import numpy as np
import pytest
from helpers import SHAPE, tiny_autoencoder, weights_by_path

from tlkeras.models import build_classifier
from tlkeras.study.schedule import Schedule
from tlkeras.study.semi_supervised import build_semi_supervised_model, select_pseudo_labels, train_semi_supervised
from tlkeras.transfer import extract_encoder


def _parts(num_classes=3):
    ae = tiny_autoencoder()
    classifier = build_classifier(extract_encoder(ae), num_classes, augment=("translate",), dropout=0.3)
    decoder = keras.models.clone_model(ae.get_layer("decoder"))
    return classifier, decoder


def test_the_training_model_shares_one_encoder_between_its_three_losses():
    classifier, decoder = _parts()
    model = build_semi_supervised_model(classifier, decoder)
    assert sorted(model.output_names) == ["consistency", "labels", "reconstruction"]
    encoder_paths = {w.path for w in classifier.get_layer("encoder").weights}
    model_paths = [w.path for w in model.weights]
    assert encoder_paths <= set(model_paths) and len(model_paths) == len(set(model_paths))  # no copy of the encoder
    batch = {"labeled": np.zeros((2, *SHAPE), "float32"), "unlabeled": np.zeros((4, *SHAPE), "float32")}
    out = model(batch, training=False)
    assert out["labels"].shape == (2, 3) and out["reconstruction"].shape == (4, *SHAPE)
    # Without noise (inference), two passes agree exactly.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out["consistency"]), 0.0, atol=1e-6)
    with_pseudo = build_semi_supervised_model(classifier, decoder, pseudo_labels=True)
    assert "pseudo_labels" in with_pseudo.output_names


def test_a_decoder_that_does_not_fit_the_encoder_is_refused():
    classifier, _ = _parts()
    other = keras.models.clone_model(tiny_autoencoder(latent_dim=5).get_layer("decoder"))
    with pytest.raises(ValueError, match="decoder"):
        build_semi_supervised_model(classifier, other)


def test_pseudo_labels_are_class_balanced_and_the_most_confident():
    inputs = keras.Input((2,))
    classifier = keras.Model(inputs, keras.layers.Softmax()(inputs))
    logits = np.array([[5, 0], [1, 0], [3, 0], [0, 4], [0, 1], [2, 0]], "float32")
    picked, labels = select_pseudo_labels(classifier, logits, per_class=2)
    assert picked.tolist() == [0, 2, 3, 4] and labels.tolist() == [0, 0, 1, 1]


def test_semi_supervised_training_learns_and_keeps_its_best_validation_check(images, labels):
    classifier, decoder = _parts()
    before = weights_by_path(classifier.get_layer("encoder"))
    outcome = train_semi_supervised(
        classifier,
        decoder,
        images[:9],
        labels[:9],
        images,
        (images[32:], labels[32:]),
        schedule=Schedule(max_steps=8, eval_every=4, patience=2, batch_size=8),
        unlabeled_batch_size=8,
        pseudo_label_rounds=1,
        pseudo_label_share=0.2,
        seed=0,
    )
    steps, score = outcome["steps"], outcome["val_accuracy"]
    assert steps % 4 == 0 and 4 <= steps <= 16 and 0.0 <= score <= 1.0
    after = weights_by_path(classifier.get_layer("encoder"))
    assert any(not np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"schedule": {"max_steps": 8}}, "schedule"),
        ({"unlabeled_batch_size": 0}, "unlabeled_batch_size"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"consistency_weight": -1.0}, "consistency_weight"),
        ({"pseudo_label_share": 0.0}, "pseudo_label_share"),
        ({"validation_data": (1, 2, 3)}, "pair"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_arguments_are_refused(images, labels, kwargs, message):
    classifier, decoder = _parts()
    arguments = {"validation_data": (images[32:], labels[32:]), **kwargs}
    with pytest.raises(ValueError, match=message):
        train_semi_supervised(classifier, decoder, images[:9], labels[:9], images, **arguments)
