"""Checks a student runs after an exercise: each says in plain words what is wrong.

Every check returns a short confirmation when the answer is right and raises
`CheckFailed` (an `AssertionError`) with a hint when it is not, e.g.::

    >>> from tlkeras.models import build_encoder
    >>> check_frozen(build_encoder((16, 16, 1), filters=(8,), latent_dim=4))
    Traceback (most recent call last):
    ...
    tlkeras.checks.CheckFailed: the encoder still has 4 trainable weights: did you freeze it? ...
"""

import types

import keras
import numpy as np

from tlkeras.transfer import leaf_layers

MSE_NAMES = ("mse", "mean_squared_error", "MeanSquaredError")


class CheckFailed(AssertionError):
    """An exercise's answer is not right yet; the message says why."""


def _require(condition, message):
    if not condition:
        raise CheckFailed(message)


def _require_model(model, what):
    _require(isinstance(model, keras.Model), f"{what} should be a keras.Model, but it is a {type(model).__name__}.")


def _loss_name(model):
    loss = getattr(model, "loss", None)
    return loss if isinstance(loss, str) else type(loss).__name__ if loss is not None else None


def check_autoencoder(autoencoder, input_shape):
    """The autoencoder has `encoder` and `decoder` sub-models, reconstructs `input_shape`, and uses MSE."""
    _require_model(autoencoder, "the autoencoder")
    names = [layer.name for layer in autoencoder.layers]
    for part in ("encoder", "decoder"):
        _require(part in names, f"the autoencoder has no sub-model named '{part}'; its layers are {names}.")
    _require(
        tuple(autoencoder.output_shape[1:]) == tuple(input_shape),
        f"the reconstruction has shape {autoencoder.output_shape[1:]}, not the image shape {tuple(input_shape)}.",
    )
    _require(
        _loss_name(autoencoder) in MSE_NAMES,
        f"the autoencoder is compiled with loss {_loss_name(autoencoder)!r}: use loss='mse', the reconstruction "
        "error 1/(N*D) sum_i sum_j (x_ij - x_hat_ij)^2. (Did you call compile?)",
    )
    return "autoencoder: looks right."


def check_encoder_extracted(encoder, autoencoder):
    """The encoder is a copy of the autoencoder's: same outputs, independent weights."""
    _require_model(encoder, "the encoder")
    original = autoencoder.get_layer("encoder")
    _require(
        encoder is not original,
        "this is the autoencoder's own encoder, not a copy: training it would change the autoencoder too. "
        "Make an independent copy (the section above says which function and what it does).",
    )
    _require(
        encoder.output_shape == original.output_shape,
        f"the encoder outputs {encoder.output_shape}, the autoencoder's encoder {original.output_shape}.",
    )
    shared = {id(v) for v in encoder.weights} & {id(v) for v in original.weights}
    _require(not shared, f"the encoder shares {len(shared)} weights with the autoencoder: copy them.")
    for mine, theirs in zip(encoder.get_weights(), original.get_weights(), strict=False):
        _require(np.array_equal(mine, theirs), "the encoder's weights differ from the pretrained ones: copy them.")
    return "encoder: an independent copy of the pretrained one."


def check_frozen(encoder):
    """No weight of the encoder can be changed by training."""
    _require_model(encoder, "the encoder")
    count = len(encoder.trainable_weights)
    _require(
        count == 0,
        f"the encoder still has {count} trainable weights: did you freeze it? (encoder.trainable = False, "
        "then compile again)",
    )
    return "encoder: frozen."


def check_classifier(classifier, num_classes, encoder_name="encoder"):
    """A classifier on the encoder: softmax over `num_classes`, encoder inside, compiled for integer labels."""
    _require_model(classifier, "the classifier")
    names = [layer.name for layer in classifier.layers]
    _require(
        encoder_name in names,
        f"the classifier does not contain the encoder ('{encoder_name}'); layers: {names}.",
    )
    _require(
        classifier.output_shape[-1] == num_classes,
        f"the classifier outputs {classifier.output_shape[-1]} values per image; there are {num_classes} classes.",
    )
    last = classifier.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    _require(
        activation == "softmax",
        f"the last layer's activation is {activation!r}: use 'softmax' so the outputs are class probabilities.",
    )
    loss = _loss_name(classifier)
    _require(
        loss in ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"),
        f"the classifier is compiled with loss {loss!r}: integer labels need "
        "'sparse_categorical_crossentropy'. (Did you call compile?)",
    )
    return "classifier: looks right."


def check_unfrozen_from(model, layer_name, max_learning_rate=1e-4):
    """Layers before `layer_name` frozen, from it on trainable, recompiled at a low learning rate.

    Low means at most `max_learning_rate`, by default ten times below Adam's default of 1e-3.
    """
    _require_model(model, "the model")
    leaves = leaf_layers(model)
    names = [layer.name for layer in leaves]
    _require(layer_name in names, f"the model has no layer '{layer_name}'.")
    start = names.index(layer_name)
    trainable_ids = {id(v) for v in model.trainable_weights}
    for i, layer in enumerate(leaves):
        if not layer.weights or isinstance(layer, keras.layers.BatchNormalization):
            continue
        is_trainable = any(id(v) in trainable_ids for v in layer.weights)
        if i < start:
            _require(
                not is_trainable,
                f"'{layer.name}' comes before '{layer_name}' but is trainable: keep it frozen.",
            )
        else:
            _require(is_trainable, f"'{layer.name}' should be trainable (it comes at or after '{layer_name}').")
    optimizer = getattr(model, "optimizer", None)
    _require(optimizer is not None, "the model is not compiled: compile it again after unfreezing.")
    learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    _require(
        learning_rate <= max_learning_rate,
        f"the learning rate is {learning_rate:g}: fine-tune with a low one (at most {max_learning_rate:g}, ten "
        "times below Adam's default) so the pretrained weights are adjusted, not overwritten.",
    )
    return f"unfrozen from '{layer_name}', learning rate {learning_rate:g}."


def _names(code):
    """Every global name a code object (and the functions defined in it) looks up."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _names(constant)
    return names


def check_own_code(function):
    """The exercise's function computes its answer itself: it calls nothing of tlkeras, whose helpers answer it.

    Example:
    >>> from tlkeras.study.statistics import paired_interval
    >>> def mine(gains):
    ...     return sum(gains) / len(gains)
    >>> check_own_code(mine)
    'mine: your own code.'
    >>> def shortcut(gains):
    ...     return paired_interval(gains)
    >>> check_own_code(shortcut)
    Traceback (most recent call last):
    ...
    tlkeras.checks.CheckFailed: shortcut calls paired_interval from tlkeras.study.statistics: ...
    >>> def imports_it(probabilities, per_class):
    ...     from tlkeras.study.parts import balanced_confident
    ...     return balanced_confident(probabilities, per_class)
    >>> check_own_code(imports_it)
    Traceback (most recent call last):
    ...
    tlkeras.checks.CheckFailed: imports_it calls tlkeras.study.parts from tlkeras.study.parts: ...
    """
    _require(callable(function), f"the exercise asks for a function, but this is a {type(function).__name__}.")
    enclosing = {}  # the names it reads from the function that defined it
    for name, cell in zip(function.__code__.co_freevars, function.__closure__ or (), strict=True):
        try:
            enclosing[name] = cell.cell_contents
        except ValueError:  # a name the enclosing function has not assigned yet
            enclosing[name] = None
    for name in sorted(_names(function.__code__) | set(enclosing)):
        found = enclosing[name] if name in enclosing else function.__globals__.get(name)
        module = found.__name__ if isinstance(found, types.ModuleType) else getattr(found, "__module__", None)
        module = name if name.startswith("tlkeras") else str(module or "")  # an import inside the function
        _require(
            not module.startswith("tlkeras"),
            f"{function.__name__} calls {name} from {module}: the exercise is to write that part yourself, "
            "with NumPy (and Keras where it asks for layers).",
        )
    return f"{function.__name__}: your own code."


def check_built_by_hand(model, autoencoder):
    """A model the student wrote: no layer shared with the autoencoder, none made by tlkeras' builders.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> autoencoder = build_conv_autoencoder((16, 16, 1), filters=(4,), latent_dim=4)
    >>> check_built_by_hand(autoencoder.get_layer("encoder"), autoencoder)
    Traceback (most recent call last):
    ...
    tlkeras.checks.CheckFailed: your model is (or shares layers with) the autoencoder's: ...
    """
    _require_model(model, "your model")
    theirs = {id(weight) for weight in autoencoder.weights}
    _require(
        not any(id(weight) in theirs for weight in model.weights),
        "your model is (or shares layers with) the autoencoder's: build new layers with keras.layers.",
    )
    built = [layer.name for layer in leaf_layers(model) if layer.name.startswith(("encoder_block", "bottleneck"))]
    _require(
        not built,
        f"your model has the layers of tlkeras.models.build_encoder ({built[:2]}...): write the Conv2D and "
        "pooling layers yourself.",
    )
    return "your model: built by hand."
