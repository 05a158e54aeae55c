"""Argument checks shared by the public functions.

Every check raises a ``ValueError`` that names the argument, what was received
and what was expected, so a student sees the mistake, not a stack of Keras
internals.
"""

import numbers

import numpy as np


def check_positive_int(value, name, minimum=1):
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_fraction(value, name, low=0.0, high=1.0, include_high=False):
    """Return ``value`` as a float in [low, high) (or [low, high]), or raise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and low <= value and (value <= high if include_high else value < high)
    if not ok:
        bracket = "]" if include_high else ")"
        raise ValueError(f"`{name}` must be a number in [{low}, {high}{bracket}. Received: {name}={value!r}")
    return float(value)


def check_choice(value, name, choices):
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
    return value


def check_images(x, name="x", expected_shape=None):
    """Check a batch of images and return it as a float32 array.

    Images must be a rank-4 array ``(N, H, W, C)`` (``(N, C, H, W)`` under
    ``channels_first``) of floats in [0, 1]. Integer images in 0-255 are refused
    with a hint rather than silently rescaled, because a model trained on [0, 1]
    inputs gives wrong answers on 0-255 inputs without any error.

    Args:
        x: the images.
        name: the argument's name, used in error messages.
        expected_shape: optional per-image shape (``None`` entries match any size).

    Returns:
        ``x`` as a float32 numpy array.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ValueError(f"`{name}` must be an array of images. Received: {name} of type {type(x).__name__}")
    x = np.asarray(x)
    if x.ndim != 4:
        hint = " Add a channel axis, e.g. x[..., None]." if x.ndim == 3 else ""
        raise ValueError(
            f"`{name}` must have rank 4 (batch, height, width, channels). Received: {name}.shape={x.shape}.{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one image. Received: {name}.shape={x.shape}")
    if expected_shape is not None:
        expected = tuple(expected_shape)
        if any(e is not None and e != s for e, s in zip(expected, x.shape[1:], strict=True)):
            raise ValueError(
                f"`{name}` has images of shape {x.shape[1:]}, but the model expects "
                f"{expected}. Received: {name}.shape={x.shape}"
            )
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        raise ValueError(
            f"`{name}` must hold floats in [0, 1]. Received: {name}.dtype={x.dtype} "
            f"(values {x.min()}..{x.max()}). If these are 0-255 pixels, pass "
            f"{name}.astype('float32') / 255."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"`{name}` must hold floats in [0, 1]. Received: {name}.dtype={x.dtype}")
    x = x.astype("float32", copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        hint = f" If these are 0-255 pixels, pass {name} / 255." if high > 1.0 else ""
        raise ValueError(f"`{name}` must hold values in [0, 1]. Received values in [{low:g}, {high:g}].{hint}")
    return x


def check_labels(y, name="y", num_classes=None, length=None):
    """Check integer class labels and return them as an int64 vector.

    Args:
        y: labels, shape ``(N,)`` (or ``(N, 1)``), integers in ``[0, num_classes)``.
        name: the argument's name, used in error messages.
        num_classes: if given, every label must be below it.
        length: if given, the number of labels the images need.

    Returns:
        ``y`` as a 1-D int64 numpy array.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"`{name}` must be a vector of integer class labels, shape (N,). "
            f"Received: {name}.shape={y.shape}. One-hot labels? Pass y.argmax(axis=1)."
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(
                f"`{name}` must hold integer class labels. Received: {name}.dtype={y.dtype} with non-integer values."
            )
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"`{name}` must hold integer class labels. Received: {name}.dtype={y.dtype}")
    y = y.astype("int64")
    if length is not None and len(y) != length:
        raise ValueError(
            f"`{name}` must have one label per image: expected {length} labels. Received: len({name})={len(y)}"
        )
    if len(y) and y.min() < 0:
        raise ValueError(f"`{name}` must hold labels >= 0. Received: min({name})={y.min()}")
    if num_classes is not None and len(y) and y.max() >= num_classes:
        raise ValueError(
            f"`{name}` has a label out of range: the model has {num_classes} classes "
            f"(labels 0..{num_classes - 1}). Received: max({name})={y.max()}"
        )
    return y
