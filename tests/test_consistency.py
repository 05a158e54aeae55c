import keras
import numpy as np
import pytest
from helpers import weights_by_path

from tlkeras.models import build_classifier
from tlkeras.study.consistency import confident_pseudo_labels, strong_augmentation, train_consistency
from tlkeras.study.schedule import Schedule
from tlkeras.study.strategies import Task, train_strategy

QUICK = Schedule(max_steps=4, eval_every=2, patience=1, batch_size=8)


def test_confident_pseudo_labels_keep_only_sure_ones_and_cap_each_class_at_the_median():
    inputs = keras.Input((3,))
    teacher = keras.Model(inputs, keras.layers.Softmax()(inputs))
    logits = np.array([[9, 0, 0], [8, 0, 0], [7, 0, 0], [6, 0, 0], [0, 9, 0], [0, 0, 9], [0, 0, 8], [0, 0.2, 0]])
    picked, labels = confident_pseudo_labels(teacher, logits.astype("float32"), threshold=0.95)
    # counts of sure predictions 4 / 1 / 2: median 2, so class 0 keeps its 2 surest; the unsure row never.
    assert sorted(zip(labels.tolist(), picked.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 4), (2, 5), (2, 6)]
    none, _ = confident_pseudo_labels(teacher, np.zeros((4, 3), "float32"), threshold=0.95)
    assert len(none) == 0


def test_strong_augmentation_changes_images_only_in_training(images):
    layer = strong_augmentation(seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images[:4], training=False)), images[:4])
    assert not np.allclose(keras.ops.convert_to_numpy(layer(images[:4], training=True)), images[:4])


def test_consistency_trains_the_student_on_pseudo_labels_and_keeps_the_autoencoder(tiny_pretrained, images, labels):
    before = weights_by_path(tiny_pretrained.get_layer("encoder"))
    model, info = train_strategy(
        "consistency",
        Task(tiny_pretrained, (images[:9], labels[:9]), images, (images[40:], labels[40:]), 3, schedule=QUICK),
        threshold=0.0,  # every prediction counts as sure: pseudo-labels from the first chunk on
        pool_images=30,
    )
    assert 0 < info["pseudo_labels"] <= 30 and info["steps"] in (2, 4) and 0 <= info["val_accuracy"] <= 1
    after = weights_by_path(tiny_pretrained.get_layer("encoder"))
    assert all(np.array_equal(before[k], after[k]) for k in before)
    _, fixed = train_strategy(
        "consistency_labels_only", Task(tiny_pretrained, (images[:9], labels[:9]), images, None, 3, schedule=QUICK)
    )
    assert fixed["steps"] == 4 and fixed["val_accuracy"] is None


def test_consistency_refuses_bad_arguments_before_training(images, labels):
    from helpers import tiny_autoencoder

    classifier = build_classifier(tiny_autoencoder().get_layer("encoder"), 3)
    for kwargs, message in (
        ({"threshold": 1.5}, "threshold"),
        ({"unlabeled_ratio": 0}, "unlabeled_ratio"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"schedule": {"max_steps": 3}}, "schedule"),
    ):
        with pytest.raises(ValueError, match=message):
            train_consistency(classifier, images[:9], labels[:9], images, **kwargs)
