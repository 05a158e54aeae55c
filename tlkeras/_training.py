"""Training helpers shared by the recipes: labeled batches by steps, early stopping on a validation split, NaN stops.

Every recipe of `tlkeras.experiments` and `tlkeras.semi_supervised` trains by
gradient *steps* (the labeled sets are tiny, so "epochs" mean little), checks
the classifier's accuracy on a validation split every `eval_every` steps, and
keeps the weights of its best check (Keras' `EarlyStopping` with
`restore_best_weights`): the training length is chosen on the validation
split, never on the test set.
"""

import math

import keras
import numpy as np

from tlkeras.streaming import CheckedBatches


class LabeledBatches(keras.utils.PyDataset):
    """`steps` batches of `batch_size` labeled images drawn with replacement, from a seeded generator.

    Drawing with replacement keeps every class in play whatever the ratio of
    batch size to labeled images (a front cut of a class-sorted set would not).
    `extra(rng)`, if given, returns more inputs and targets to add to each batch
    (the unlabeled images of the semi-supervised recipe).
    """

    def __init__(self, x, y, batch_size, steps, seed, extra=None):
        super().__init__()
        self.x, self.y, self.batch_size, self.steps = x, y, batch_size, steps
        self.rng = np.random.default_rng(seed)
        self.extra = extra

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        picked = self.rng.integers(0, len(self.x), self.batch_size)
        if self.extra is None:
            return self.x[picked], self.y[picked]
        inputs, targets = self.extra(self.rng)
        return {"labeled": self.x[picked], **inputs}, {"labels": self.y[picked], **targets}


class ValidationAccuracy(keras.callbacks.Callback):
    """Adds `val_accuracy` of `classifier` on `(x, y)` to the logs at the end of every epoch."""

    def __init__(self, classifier, x, y):
        super().__init__()
        self.classifier, self.x, self.y = classifier, x, y

    def on_epoch_end(self, epoch, logs=None):
        predictions = self.classifier.predict(self.x, batch_size=512, verbose=0)
        logs["val_accuracy"] = float(np.mean(predictions.argmax(axis=-1) == self.y))


def fit_or_raise(model, *args, hint="lower the learning rate", **kwargs):
    """`model.fit(*args, **kwargs)` with Keras' `TerminateOnNaN`; raise if it fired.

    Returns:
        The `History`.

    Raises:
        ValueError: the loss became NaN or infinite (the message ends with
            `hint`), or a batch of a checked stream is wrong (its own message,
            whatever the backend wrapped it in).
    """
    callbacks = [*(kwargs.pop("callbacks", None) or []), keras.callbacks.TerminateOnNaN()]
    try:
        history = model.fit(*args, callbacks=callbacks, **kwargs)
    except Exception as e:  # a bad batch of a stream: its own error, not the backend's wrapping of it
        for data in (*args, kwargs.get("x"), kwargs.get("validation_data")):
            if isinstance(data, CheckedBatches) and data.error is not None:
                raise data.error from e
        raise
    losses = history.history.get("loss", [])
    if losses and not math.isfinite(losses[-1]):
        raise ValueError(
            f"Training diverged: the loss became {losses[-1]} in epoch {len(losses)}, so the weights "
            f"are no longer usable. Try again: {hint}."
        )
    return history


def train_with_early_stopping(model, classifier, batches, validation, max_steps, eval_every, patience, hint):
    """Train `model` on `batches` for at most `max_steps`, keeping `classifier`'s best validation check.

    Args:
        model: the compiled model `fit` trains (the classifier itself, or a
            model that contains it).
        classifier: the model whose validation accuracy decides.
        batches: a callable `steps -> PyDataset` of `eval_every` steps.
        validation: `(x_val, y_val)`.
        max_steps: the most gradient steps, rounded up to a whole number of checks.
        eval_every: steps between validation checks.
        patience: checks without improvement before stopping.
        hint: what to try when training diverges.

    Returns:
        `(steps, val_accuracy)`: the steps of the kept weights and their validation accuracy.
    """
    epochs = max(1, math.ceil(max_steps / eval_every))
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True, verbose=0
    )
    history = fit_or_raise(
        model,
        batches(eval_every),
        epochs=epochs,
        callbacks=[ValidationAccuracy(classifier, *validation), stop],
        verbose=0,
        hint=hint,
    )
    scores = history.history["val_accuracy"]
    best = int(np.argmax(scores))
    return (best + 1) * eval_every, float(scores[best])
