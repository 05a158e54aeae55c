"""How the study's recipes train: by steps, on a `Schedule`, the same for every strategy of a study.

The labeled sets of a few-labels study are tiny, so "epochs" mean little: every
recipe trains by gradient *steps*, in chunks of `eval_every` steps (one Keras
epoch each) of labeled batches drawn with replacement (`LabeledBatches`). A
`Schedule` says how long: with a labeled validation split, the classifier's
accuracy on it is checked after every chunk and training keeps its best check
(Keras' `EarlyStopping(restore_best_weights=True)`); without one, it runs a
fixed `max_steps`, and no label is spent on choosing a length.
"""

import dataclasses
import math

import keras
import numpy as np

from tlkeras._validation import check_number
from tlkeras.training import accuracy_of, fit_or_raise


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How long a classifier trains and how the length is chosen; the same for every strategy of a study.

    Attributes:
        max_steps: the most gradient steps (per phase of a two-phase recipe), rounded up to
            whole chunks of `eval_every`. Defaults to `500`: the study's fixed schedule, the middle
            of the lengths early stopping chose with 1,000 validation labels (250-950 steps at 1
            label per class, 400-600 at 10; docs/benchmarks.md).
        eval_every: steps per chunk (a Keras epoch), between validation checks. Defaults to `50`.
        patience: checks without improvement before stopping early. Defaults to `6`.
        batch_size: labeled images per step. Defaults to `32`.

    Example:
    >>> Schedule(max_steps=120, eval_every=50).epochs
    3
    """

    max_steps: int = 500
    eval_every: int = 50
    patience: int = 6
    batch_size: int = 32

    def __post_init__(self):
        for name in ("max_steps", "eval_every", "patience", "batch_size"):
            check_number(getattr(self, name), name, 1, integer=True)

    @property
    def epochs(self):
        """Keras epochs of one phase: chunks of `eval_every` steps."""
        return max(1, math.ceil(self.max_steps / self.eval_every))

    def to_dict(self):
        return dataclasses.asdict(self)

    def batches(self, x, y, seed, extra=None, pseudo=None):
        """A `LabeledBatches` of one chunk of `eval_every` steps."""
        return LabeledBatches(x, y, self.batch_size, self.eval_every, seed, extra=extra, pseudo=pseudo)

    def callbacks(self, classifier, validation_data):
        """What `fit` needs to follow the schedule: early stopping on `validation_data`, or nothing."""
        if validation_data is None:
            return []
        return [
            ValidationAccuracy(classifier, *validation_data),
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=self.patience, restore_best_weights=True, verbose=0
            ),
        ]

    def outcome(self, *histories):
        """`{"steps", "val_accuracy"}` of the weights kept after the phases that trained with `histories`.

        With early stopping each phase keeps its best check; on a fixed schedule every phase
        runs to its end and `val_accuracy` is `None`.
        """
        steps, score = 0, None
        for history in histories:
            scores = history.history.get("val_accuracy")
            if scores:
                best = int(np.argmax(scores))
                steps, score = steps + (best + 1) * self.eval_every, float(scores[best])
            else:  # a fixed phase: the weights kept are its last, never checked on validation labels
                steps, score = steps + len(history.history.get("loss", [])) * self.eval_every, None
        return {"steps": steps, "val_accuracy": score}


def check_schedule(schedule):
    """Raise unless `schedule` is a `Schedule`; return it."""
    if not isinstance(schedule, Schedule):
        raise ValueError(f"`schedule` must be a tlkeras.study.schedule.Schedule. Received: schedule={schedule!r}")
    return schedule


class LabeledBatches(keras.utils.PyDataset):
    """`steps` batches of `batch_size` labeled images drawn with replacement, from a seeded generator.

    Drawing with replacement keeps every class in play whatever the ratio of
    batch size to labeled images (a front cut of a class-sorted set would not).
    `extra(rng)`, if given, returns more inputs and targets to add to each batch
    (the unlabeled images of the semi-supervised recipe). `pseudo`, if given, is a
    pair `(x, y)` of pseudo-labeled images: half of each batch is drawn from them,
    half from the labeled ones, so that a few true labels are not drowned by many
    guessed ones.
    """

    def __init__(self, x, y, batch_size, steps, seed, extra=None, pseudo=None):
        super().__init__()
        self.x, self.y, self.batch_size, self.steps = x, y, batch_size, steps
        self.rng = np.random.default_rng(seed)
        self.extra, self.pseudo = extra, pseudo

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        if self.pseudo is not None:
            half = self.batch_size // 2
            picked = self.rng.integers(0, len(self.x), self.batch_size - half)
            guessed = self.rng.integers(0, len(self.pseudo[0]), half)
            return (
                np.concatenate([self.x[picked], self.pseudo[0][guessed]]),
                np.concatenate([self.y[picked], self.pseudo[1][guessed]]),
            )
        picked = self.rng.integers(0, len(self.x), self.batch_size)
        if self.extra is None:
            return self.x[picked], self.y[picked]
        inputs, targets = self.extra(self.rng)
        return {"labeled": self.x[picked], **inputs}, {"labels": self.y[picked], **targets}


class ValidationAccuracy(keras.callbacks.Callback):
    """Adds `val_accuracy`, the `accuracy_of` `classifier` on `(x, y)`, to the logs at the end of every epoch."""

    def __init__(self, classifier, x, y):
        super().__init__()
        self.classifier, self.x, self.y = classifier, x, y

    def on_epoch_end(self, epoch, logs=None):
        logs["val_accuracy"] = accuracy_of(self.classifier, self.x, self.y)


def train_on_schedule(model, classifier, batches, validation_data, schedule, hint):
    """Train the compiled `model` for one phase of `schedule`, judged by `classifier`'s validation accuracy.

    Args:
        model: the compiled model `fit` trains (the classifier itself, or a
            model that contains it).
        classifier: the model whose validation accuracy decides.
        batches: a `keras.utils.PyDataset` of one chunk (`schedule.batches(...)`).
        validation_data: `(x_val, y_val)`, or `None` for a fixed schedule.
        schedule: a `Schedule`.
        hint: what to try when training diverges.

    Returns:
        `{"steps", "val_accuracy"}` of the weights kept (`Schedule.outcome`).
    """
    history = fit_or_raise(
        model,
        batches,
        epochs=schedule.epochs,
        callbacks=schedule.callbacks(classifier, validation_data),
        verbose=0,
        hint=hint,
    )
    return schedule.outcome(history)
