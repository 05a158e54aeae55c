"""Consistency with strong augmentation (FixMatch-style), for ten labels per class.

FixMatch (Sohn et al., NeurIPS 2020) learns from unlabeled images by asking the network to
predict, for a *strongly* augmented image, the class it is confident of for a *weakly*
augmented one. This version keeps to built-in Keras layers and `fit`, so it runs on every
backend:

- a **teacher**, an exponential moving average (EMA) of the student's weights (moved once a
  chunk of `schedule.eval_every` steps, by what `ema_decay` per step adds up to), labels the
  unlabeled pool (the student's own weak augmentation switched off) before every chunk;
- only predictions at least `threshold` sure become pseudo-labels, **class-balanced**: no class
  keeps more than the median count of the classes (a light form of distribution alignment, so
  that early favourites do not flood the rest);
- the student trains on batches of labeled images (weak augmentation: its own `augment` layers)
  and `unlabeled_ratio` times as many pseudo-labeled ones under **strong augmentation**
  (`strong_augmentation`: shifts, flips, contrast, brightness, erasing).

Its ablation (`consistency_labels_only`, registered below) trains the same network on
the same batches with the pseudo-labels' loss weighted 0: only the unlabeled images removed.
"""

import math

import keras
import numpy as np
from keras import layers

from tlkeras._validation import check_images, check_labeled, check_labels, check_number, check_seed
from tlkeras.models import random_translation
from tlkeras.study.parts import HEAD_DROPOUT, POOL_IMAGES, balanced_confident, network_from
from tlkeras.study.registry import register_ablation, register_strategy, register_variant
from tlkeras.study.schedule import Schedule, check_schedule
from tlkeras.training import compile_model, fit_or_raise
from tlkeras.transfer import fresh_copy


def strong_augmentation(seed=None):
    """The strong augmentation, built-in layers only, active in training: a `keras.Sequential`."""
    return keras.Sequential(
        [
            random_translation(0.125, 0.125, fill_mode="constant", seed=seed),
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomContrast(0.5, value_range=(0, 1), seed=seed),
            layers.RandomBrightness(0.3, value_range=(0, 1), seed=seed),
            layers.RandomErasing(factor=1.0, scale=(0.02, 0.25), fill_value=0.0, value_range=(0, 1), seed=seed),
        ],
        name="strong_augmentation",
    )


class _TeacherAverage(keras.callbacks.Callback):
    """Keeps `teacher`'s weights an exponential moving average of the student's, chunk by chunk.

    The average moves at the end of every chunk of `steps` steps by `decay ** steps`, what a
    per-step average with `decay` moves over a chunk of steady weights: the teacher only labels
    the pool between chunks, and between chunks every backend has the weights at hand (JAX
    keeps them inside `fit` during a chunk).
    """

    def __init__(self, student, teacher, decay, steps):
        super().__init__()
        self.student, self.teacher, self.keep = student, teacher, decay**steps

    def on_epoch_end(self, epoch, logs=None):
        self.teacher.set_weights(
            [
                self.keep * t + (1.0 - self.keep) * s
                for t, s in zip(self.teacher.get_weights(), self.student.get_weights(), strict=True)
            ]
        )


class _Batches(keras.utils.PyDataset):
    """A chunk of labeled batches with `ratio` times as many pseudo-labeled images beside them.

    `refresh(teacher)` relabels the pool between chunks; before any pseudo-label is sure enough,
    the labeled images stand in for them with weight 0.
    """

    def __init__(self, labeled, pool, threshold, batch_size, ratio, steps, seed):
        super().__init__()
        self.labeled, self.pool, self.threshold = labeled, pool, threshold
        self.batch_size, self.ratio, self.steps = batch_size, ratio, steps
        self.rng = np.random.default_rng(seed)
        self.pseudo = (*labeled, np.zeros(len(labeled[0]), "float32"))
        self.count = 0

    def refresh(self, teacher):
        picked, labels = confident_pseudo_labels(teacher, self.pool, self.threshold)
        self.count = len(picked)
        if self.count:
            self.pseudo = (self.pool[picked], labels.astype(self.labeled[1].dtype), np.ones(self.count, "float32"))

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        (x, y), (xp, yp, wp) = self.labeled, self.pseudo
        picked = self.rng.integers(0, len(x), self.batch_size)
        guessed = self.rng.integers(0, len(xp), self.batch_size * self.ratio)
        inputs = {"labeled": x[picked], "pseudo": xp[guessed]}
        targets = {"labels": y[picked], "pseudo_labels": yp[guessed]}
        weights = {"labels": np.ones(self.batch_size, "float32"), "pseudo_labels": wp[guessed]}
        return inputs, targets, weights


class _Refresh(keras.callbacks.Callback):
    """Before every chunk, the teacher labels the pool again."""

    def __init__(self, batches, teacher):
        super().__init__()
        self.batches, self.teacher = batches, teacher

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.refresh(self.teacher)


def confident_pseudo_labels(teacher, images, threshold, batch_size=512):
    """`(indices, labels)` of the images the teacher is at least `threshold` sure of, class-balanced.

    No class keeps more than the median count of the confident classes.

    Example:
    >>> inputs = keras.Input((2,))
    >>> teacher = keras.Model(inputs, keras.layers.Softmax()(inputs))
    >>> logits = np.array([[9, 0], [8, 0], [7, 0], [0, 9], [0, 0.1]], "float32")
    >>> picked, labels = confident_pseudo_labels(teacher, logits, 0.95)
    >>> sorted(labels.tolist())  # 3 sure of class 0, 1 of class 1: the median caps each class at 2
    [0, 0, 1]
    """
    probabilities = teacher.predict(images, batch_size=batch_size, verbose=0)
    sure = probabilities.max(axis=-1) >= threshold
    if not sure.any():
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    counts = np.bincount(probabilities[sure].argmax(axis=-1), minlength=probabilities.shape[-1])
    cap = max(1, int(np.median(counts[counts > 0])))
    confident = np.where(sure[:, None], probabilities, 0.0)
    picked, labels = balanced_confident(confident, cap)
    keep = sure[picked]
    return picked[keep], labels[keep]


def train_consistency(
    classifier,
    x_labeled,
    y_labeled,
    x_unlabeled,
    validation_data=None,
    schedule=Schedule(),
    threshold=0.95,
    unlabeled_ratio=3,
    pool_images=POOL_IMAGES,
    ema_decay=0.99,
    pseudo_label_weight=1.0,
    learning_rate=1e-3,
    seed=0,
):
    """Train `classifier` on the labels and on confident, strongly augmented pseudo-labels (see the module).

    Args:
        classifier: a softmax classifier (its own `augment` layers are the weak augmentation).
        x_labeled, y_labeled: the few labeled images and their integer labels.
        x_unlabeled: the unlabeled images; the first `pool_images` are pseudo-labeled.
        validation_data: `(x_val, y_val)` to keep the best check on, or `None`: a fixed schedule.
        schedule: a `tlkeras.training.Schedule` (`eval_every` steps between teacher refreshes).
        threshold: the confidence a pseudo-label needs. Defaults to `0.95`.
        unlabeled_ratio: pseudo-labeled images per labeled one in a batch. Defaults to `3`.
        pool_images: unlabeled images the teacher labels. Defaults to `POOL_IMAGES` (10,000).
        ema_decay: the teacher's moving-average decay per step. Defaults to `0.99`.
        pseudo_label_weight: weight of the pseudo-labels' cross-entropy. Defaults to `1.0`.
        learning_rate: Adam's learning rate. Defaults to `1e-3`.
        seed: seed of the batches and the strong augmentation. Defaults to `0`.

    Returns:
        `{"steps", "val_accuracy", "pseudo_labels"}` (`Schedule.outcome`, and the pseudo-labels
        of the last chunk).
    """
    shape = classifier.input_shape[1:]
    num_classes = classifier.output_shape[-1]
    x_labeled = check_images(x_labeled, "x_labeled", expected_shape=shape)
    y_labeled = check_labels(y_labeled, "y_labeled", num_classes=num_classes, length=len(x_labeled))
    pool = check_images(x_unlabeled, "x_unlabeled", expected_shape=shape)[
        : check_number(pool_images, "pool_images", 1, integer=True)
    ]
    if validation_data is not None:
        validation_data = check_labeled(validation_data, "validation_data", shape, num_classes)
    check_schedule(schedule)
    check_number(threshold, "threshold", 0, 1)
    unlabeled_ratio = check_number(unlabeled_ratio, "unlabeled_ratio", 1, integer=True)
    check_number(ema_decay, "ema_decay", 0, 1, closed="left")
    check_number(pseudo_label_weight, "pseudo_label_weight", 0, math.inf, closed="left")
    check_number(learning_rate, "learning_rate", 0, math.inf, closed="neither")
    seed = check_seed(seed)

    labeled = keras.Input(shape, name="labeled")
    unlabeled = keras.Input(shape, name="pseudo")
    outputs = {
        "labels": layers.Identity(name="labels")(classifier(labeled)),
        "pseudo_labels": layers.Identity(name="pseudo_labels")(classifier(strong_augmentation(seed)(unlabeled))),
    }
    model = keras.Model({"labeled": labeled, "pseudo": unlabeled}, outputs, name="consistency")
    compile_model(
        model,
        {"labels": "sparse_categorical_crossentropy", "pseudo_labels": "sparse_categorical_crossentropy"},
        learning_rate,
        loss_weights={"labels": 1.0, "pseudo_labels": pseudo_label_weight},
    )
    teacher = fresh_copy(classifier, keep_weights=True)
    batches = _Batches(
        (x_labeled, y_labeled), pool, threshold, schedule.batch_size, unlabeled_ratio, schedule.eval_every, seed
    )
    history = fit_or_raise(
        model,
        batches,
        epochs=schedule.epochs,
        callbacks=[
            _Refresh(batches, teacher),
            _TeacherAverage(classifier, teacher, ema_decay, schedule.eval_every),
            *schedule.callbacks(classifier, validation_data),
        ],
        verbose=0,
        hint="lower `learning_rate`",
    )
    return {**schedule.outcome(history), "pseudo_labels": batches.count}


@register_strategy(forwards_to=train_consistency)
def consistency(task, *, start="random", dropout=HEAD_DROPOUT, **options):
    """FixMatch-style consistency: an EMA teacher's sure, class-balanced labels learned under strong augmentation.

    `start`: `"random"` (the autoencoder's architecture, new weights) or `"autoencoder"` (its
    pretrained encoder); the other options go to `tlkeras.study.consistency.train_consistency`.
    Its ablation `consistency_labels_only` trains the same network on the same batches with the
    pseudo-labels' loss weighted 0: the unlabeled images removed, nothing else.
    """
    classifier = network_from(task, start, dropout)
    outcome = train_consistency(
        classifier,
        **task.training_data,
        **options,
    )
    return classifier, outcome


# Its ablation: the unlabeled images removed (tests/test_ablations.py checks the pair).
register_variant(
    "consistency_labels_only",
    consistency,
    "`consistency` without the unlabeled images: the same network, batches and steps, the pseudo-labels weighted 0.",
    pseudo_label_weight=0.0,
)
register_ablation("consistency", "consistency_labels_only", "the unlabeled images", differs_in="losses")
