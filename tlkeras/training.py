"""How every model of tlkeras compiles, trains and is scored: one compile, one fit that refuses to diverge.

`compile_model` (the one compile, inside the model's distribution scope), `compile_classifier`
(cross-entropy, accuracy, an optimizer by name), `fit_or_raise`
(Keras' `fit` that raises when the loss becomes NaN) and `accuracy_of` are what the
course's steps 3 and 4 (`tlkeras.transfer`) train with. How long the study's recipes
train, by steps on a `Schedule`, is `tlkeras.study.schedule`.
"""

import contextlib
import math

import keras
import numpy as np

from tlkeras.images.streaming import CheckedBatches


def accuracy_of(classifier, x, y):
    """The share of `x` that `classifier` puts in the class `y`."""
    return float(np.mean(classifier.predict(x, batch_size=512, verbose=0).argmax(axis=-1) == y))


def make_optimizer(optimizer, learning_rate):
    """The Keras optimizer named `optimizer` at `learning_rate`; an unknown name is a `ValueError`."""
    try:
        return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"`optimizer` must name a Keras optimizer such as 'adam' or 'sgd'. Received: optimizer={optimizer!r}"
        ) from e


def compile_model(model, loss, learning_rate, optimizer="adam", **compile_kwargs):
    """The one compile of tlkeras: `model.compile(optimizer at learning_rate, loss, ...)` inside its distribution scope.

    Under tf.distribute the optimizer's variables must be made in the strategy the model was
    built in (TensorFlow models carry it as `distribute_strategy`; other backends don't).
    `compile_kwargs` (`metrics`, `loss_weights`, ...) go to `model.compile`.
    """
    strategy = getattr(model, "distribute_strategy", None)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss=loss, **compile_kwargs)


def compile_classifier(model, learning_rate, optimizer="adam"):
    """Compile a softmax classifier for integer labels: cross-entropy, accuracy, `optimizer` at `learning_rate`."""
    compile_model(model, "sparse_categorical_crossentropy", learning_rate, optimizer, metrics=["accuracy"])


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
