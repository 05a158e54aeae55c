"""Argument validation shared by the public functions (not the exercise checks: see `tlkeras.checks`).

One vocabulary, after scikit-learn's `_param_validation`: a number in an
interval, an integer, one of a set of choices, a model, images, labels. Every
check raises a ``ValueError`` that names the argument, what was received and
what was expected, so a student sees the mistake, not a stack of Keras
internals. Functions check every argument before they change any state.
"""

import math
import numbers
import os

import keras
import numpy as np

_BRACKETS = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(value, name, low=-math.inf, high=math.inf, closed="both", integer=False):
    """Return ``value`` (an int if ``integer``, else a float) or raise if it is outside the interval.

    Args:
        value: the value to check.
        name: the argument's name, used in the message.
        low, high: the interval's ends.
        closed: which ends belong to it: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
        integer: require an integer (``numpy`` integers included).

    Example:
    >>> check_number(0.5, "dropout", 0, 1, closed="left")
    0.5
    >>> check_number(2, "dropout", 0, 1, closed="left")
    Traceback (most recent call last):
    ...
    ValueError: `dropout` must be a number in the range [0, 1). Received: dropout=2
    """
    left, right = _BRACKETS[closed]
    if integer:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        kind = "an integer"
    else:
        ok = _is_number(value) and not math.isnan(value)
        kind = "a number"
    if ok:
        ok = (low <= value if left == "[" else low < value) and (value <= high if right == "]" else value < high)
    if not ok:
        if integer and low > -math.inf and high == math.inf:
            bound = f">= {low}" if left == "[" else f"> {low}"
            raise ValueError(f"`{name}` must be an integer {bound}. Received: {name}={value!r}")
        raise ValueError(
            f"`{name}` must be {kind} in the range {left}{low:g}, {high:g}{right}. Received: {name}={value!r}"
        )
    return int(value) if integer else float(value)


def check_positive_int(value, name, minimum=1):
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    return check_number(value, name, low=minimum, integer=True)


def check_seed(value, name="seed"):
    """A seed: an integer in [0, 2**32 - 1], as NumPy and Keras accept."""
    return check_number(value, name, 0, 2**32 - 1, integer=True)


def check_seeds(seeds, name="seeds"):
    """A non-empty tuple of distinct seeds: repeated seeds are not independent runs (a falsely narrow interval).

    Example:
    >>> check_seeds([0, 1])
    (0, 1)
    """
    if isinstance(seeds, (str, numbers.Integral)) or not isinstance(seeds, (tuple, list, range)) or not seeds:
        raise ValueError(f"`{name}` must be a non-empty tuple of seeds. Received: {name}={seeds!r}")
    seeds = tuple(check_seed(s, name) for s in seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`{name}` must not repeat a seed (repeats are not independent runs). Received: {seeds}")
    return seeds


def describe_choices(choices, most=20):
    """The allowed values in words, without materialising a range or a long list.

    Example:
    >>> describe_choices(range(1, 2**31)), describe_choices(("a", "b"))
    ('an integer in [1, 2147483647]', "one of ['a', 'b']")
    """
    if isinstance(choices, range) and choices.step == 1:
        return f"an integer in [{choices.start}, {choices.stop - 1}]"
    if len(choices) > most:
        return f"one of {list(choices)[:most]} ... ({len(choices)} in all)"
    return f"one of {list(choices)}"


def check_choice(value, name, choices):
    """Raise unless ``value`` is one of ``choices``."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set or dict
        ok = False
    if not ok:
        raise ValueError(f"`{name}` must be {describe_choices(choices)}. Received: {name}={value!r}")
    return value


def check_choices(values, name, choices):
    """A non-empty tuple of distinct entries of ``choices`` (a single string is refused, not split)."""
    if isinstance(values, str) or not isinstance(values, (tuple, list)) or not values:
        raise ValueError(
            f"`{name}` must be a non-empty tuple, each entry {describe_choices(choices)}. Received: {name}={values!r}"
        )
    for value in values:
        check_choice(value, name, choices)
    if len(set(values)) != len(values):
        raise ValueError(f"`{name}` must not repeat an entry. Received: {name}={values!r}")
    return tuple(values)


def check_model(model, name="model", kind=keras.Model):
    """Raise unless ``model`` is a ``keras.Model`` (or another ``kind``)."""
    if not isinstance(model, kind):
        raise ValueError(
            f"`{name}` must be a {kind.__module__.split('.')[0]}.{kind.__name__}. "
            f"Received: {name} of type {type(model).__name__}"
        )
    return model


def check_submodel(model, sub_name, name="model", arg="encoder_name"):
    """Return the sub-model of ``model`` named ``sub_name``, or raise naming the layers there are.

    ``arg`` names the argument that chose ``sub_name``; ``None`` when the name is fixed.
    """
    check_model(model, name)
    names = [layer.name for layer in model.layers]
    if sub_name not in names:
        chosen = f" (`{arg}`)" if arg else ""
        raise ValueError(f"`{name}` has no sub-model named {sub_name!r}{chosen}. Its layers are: {names}")
    return check_model(model.get_layer(sub_name), f"{name}.get_layer({sub_name!r})")


def check_array(x, name):
    """Raise unless ``x`` is a NumPy array (lists are refused, with a hint, rather than guessed at)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(
            f"`{name}` must be a NumPy array. Received: {name} of type {type(x).__name__}; pass np.asarray({name})."
        )
    return x


def looks_channels_first(shape):
    """Whether a rank-4 image shape reads as (N, C, H, W): 1, 3 or 4 on axis 1, no such count last, H and W over 4.

    Example:
    >>> looks_channels_first((8, 3, 32, 32)), looks_channels_first((8, 32, 32, 3)), looks_channels_first((8, 3, 3, 3))
    (True, False, False)
    """
    return len(shape) == 4 and shape[1] in (1, 3, 4) and shape[3] not in (1, 3, 4) and min(shape[2:]) > 4


def check_images(x, name="x", expected_shape=None):
    """Check a batch of images and return it as a float32 array.

    Images must be a rank-4 array ``(N, H, W, C)`` of floats in [0, 1]; an array that
    reads as channels-first ``(N, C, H, W)`` is refused with a hint. Integer images in 0-255 are refused
    with a hint rather than silently rescaled, because a model trained on [0, 1]
    inputs gives wrong answers on 0-255 inputs without any error.

    Args:
        x: the images.
        name: the argument's name, used in error messages.
        expected_shape: optional per-image shape (``None`` entries match any size).

    Returns:
        ``x`` as a float32 numpy array.

    Example:
    >>> check_images(np.zeros((2, 4, 4, 1), "uint8"), "x_train")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `x_train` must hold floats in [0, 1]. Received: x_train.dtype=uint8 (values 0..0). ...
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
    if keras.config.image_data_format() == "channels_last" and looks_channels_first(x.shape):
        raise ValueError(
            f"`{name}` must be channels-last (batch, height, width, channels). Received: {name}.shape={x.shape}, "
            f"which looks channels-first (batch, channels, height, width), as PyTorch saves images: pass "
            f"np.moveaxis({name}, 1, -1)."
        )
    if 0 in x.shape[1:]:
        raise ValueError(f"`{name}` has images of size zero. Received: {name}.shape={x.shape}")
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
        if len(y) and np.abs(y).max() >= 2**31:
            raise ValueError(f"`{name}` holds a label too large to be a class index. Received: max({name})={y.max():g}")
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


def check_pair(pair, name):
    """Raise unless ``pair`` is a 2-tuple ``(images, labels)``."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        got = f"a {type(pair).__name__} of length {len(pair)}" if isinstance(pair, (tuple, list)) else repr(type(pair))
        raise ValueError(f"`{name}` must be a pair (images, labels). Received: {got}")
    return pair


def check_labeled(pair, name, image_shape=None, num_classes=None):
    """``(images, labels)`` checked as a pair, as images of ``image_shape`` and as labels in range, one per image."""
    x, y = check_pair(pair, name)
    x = check_images(x, f"{name}[0]", expected_shape=image_shape)
    return x, check_labels(y, f"{name}[1]", num_classes=num_classes, length=len(x))


FAST_MODE_VARIABLE = "TLKERAS_FAST"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def fast_mode(environ=None):
    """Whether `$TLKERAS_FAST` asks for the quick run CI makes: `1`/`true`/`yes`/`on`, or `0`/`false`/`no`/`off`/unset.

    Anything else is an error, not a silent "no".

    Example:
    >>> fast_mode({"TLKERAS_FAST": "true"}), fast_mode({})
    (True, False)
    """
    value = (os.environ if environ is None else environ).get(FAST_MODE_VARIABLE, "")
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ValueError(
        f"`{FAST_MODE_VARIABLE}` must be one of {_TRUE} (fast) or {_FALSE[1:]} or unset (full). "
        f"Received: {FAST_MODE_VARIABLE}={value!r}"
    )
