"""Transfer-learning steps: extract the encoder, freeze, unfreeze, fine-tune, inspect.

About BatchNormalization: Keras 3 runs a BatchNormalization layer in inference
mode (moving statistics used, never updated) whenever the layer's `trainable`
is False, whatever `training` argument `fit()` passes down; passing
`training=False` when calling a sub-model is *not* enough, because `fit()`
overrides it (keras-team/keras#20285). So `freeze` and `unfreeze` work through
`trainable` alone, and `unfreeze` keeps BatchNormalization layers frozen by
default.
"""

import dataclasses
import math
import numbers
import re

import keras
import numpy as np

from tlkeras._validation import (
    check_images,
    check_labeled,
    check_labels,
    check_model,
    check_number,
    check_positive_int,
    check_submodel,
)
from tlkeras.images import streaming
from tlkeras.training import compile_classifier, fit_or_raise, make_optimizer


def leaf_layers(model):
    """The layers of `model` that hold no other layers, nested models flattened, in order.

    Input layers are left out. This is the order `unfreeze(from_layer=index)`
    counts in and `trainable_report` prints.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> ae = build_conv_autoencoder((16, 16, 1), filters=(8,), latent_dim=4)
    >>> [layer.name for layer in leaf_layers(ae)][:2]
    ['encoder_block1_conv', 'encoder_block1_relu']
    """
    check_model(model)
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.extend(leaf_layers(layer))
        else:
            out.append(layer)
    return out


# `extract_encoder(..., output_layer=LAST_BLOCK)`: the last conv block's pooled feature map, under the bottleneck.
LAST_BLOCK = "last_block"


def extract_encoder(autoencoder, copy=True, output_layer=None, encoder_name="encoder"):
    """Take the encoder out of an autoencoder as a model of its own.

    Args:
        autoencoder: a model holding a sub-model named `encoder_name`, as built
            by `build_conv_autoencoder` (or loaded from its `.keras` file).
        copy: if `True`, return a copy whose weights are independent of the
            autoencoder's, so fine-tuning it leaves the autoencoder as it was;
            if `False`, return the sub-model itself (shared weights). Defaults to `True`.
        output_layer: name of an encoder layer to cut at, e.g.
            `"encoder_block2_pool"` to transfer the conv feature map instead of
            the bottleneck, or `"last_block"`: the last conv block's output
            (`LAST_BLOCK`); `None` keeps the whole encoder. Defaults to `None`.
        encoder_name: name of the encoder sub-model. Defaults to `"encoder"`.

    Returns:
        A Functional `keras.Model` named `encoder_name`.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> ae = build_conv_autoencoder((16, 16, 1), filters=(8, 16), latent_dim=4)
    >>> extract_encoder(ae, output_layer="encoder_block2_pool").output_shape
    (None, 4, 4, 16)
    """
    encoder = check_submodel(autoencoder, encoder_name, "autoencoder")
    if output_layer == LAST_BLOCK:
        blocks = [layer.name for layer in encoder.layers if re.fullmatch(r"encoder_block\d+_pool", layer.name)]
        if not blocks:
            raise ValueError(
                f"`output_layer={LAST_BLOCK!r}` cuts at the last `encoder_block<i>_pool` layer (tlkeras.models."
                f"build_encoder), and this encoder has none: name one of its layers. Received: the layers "
                f"{[layer.name for layer in encoder.layers]}"
            )
        output_layer = blocks[-1]
    if output_layer is not None:
        layer_names = [layer.name for layer in encoder.layers]
        if output_layer not in layer_names:
            raise ValueError(
                f"`output_layer` must name a layer of the encoder. Received: "
                f"output_layer={output_layer!r}; the encoder's layers are {layer_names}"
            )
    if copy:
        encoder = fresh_copy(encoder, keep_weights=True)
    if output_layer is not None:
        encoder = keras.Model(encoder.inputs, encoder.get_layer(output_layer).output, name=encoder_name)
    return encoder


def fresh_copy(model, keep_weights=False):
    """The same architecture as `model`, every layer and option kept, with new random weights.

    What a `scratch` baseline trains: the pretrained network without its pretraining. The
    weights are drawn from Keras' global seed (`keras.utils.set_random_seed`).

    Args:
        model: a Functional or Sequential `keras.Model`.
        keep_weights: copy `model`'s weights into the new model instead (an independent copy).
            Defaults to `False`.

    Returns:
        A new `keras.Model` with `model`'s name.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> ae = build_conv_autoencoder((16, 16, 1), filters=(4,), latent_dim=4)
    >>> fresh_copy(ae).count_params() == ae.count_params()
    True
    """
    check_model(model)
    clone = keras.models.clone_model(model)
    if keep_weights:
        clone.set_weights(model.get_weights())
    return clone


def freeze(model):
    """Freeze a whole model or layer: no weight of it changes in training.

    BatchNormalization layers inside it then run in inference mode, so their
    moving statistics stay as they were too. Compile (again) after freezing.

    Returns:
        `model`, for chaining.

    Example:
    >>> from tlkeras.models import build_encoder
    >>> encoder = freeze(build_encoder((16, 16, 1), filters=(8,), latent_dim=4))
    >>> len(encoder.trainable_weights)
    0
    """
    check_model(model, kind=keras.layers.Layer)
    model.trainable = False
    return model


def _resolve_from_layer(leaves, from_layer):
    if from_layer is None:
        return 0
    if isinstance(from_layer, numbers.Integral) and not isinstance(from_layer, bool):
        if not -len(leaves) <= from_layer < len(leaves):
            raise ValueError(
                f"`from_layer` index out of range: the model has {len(leaves)} layers "
                f"(see tlkeras.transfer.leaf_layers). Received: from_layer={from_layer}"
            )
        return from_layer % len(leaves)
    if isinstance(from_layer, str):
        names = [layer.name for layer in leaves]
        if from_layer not in names:
            raise ValueError(
                f"`from_layer` must name a layer of the model. Received: from_layer={from_layer!r}; "
                f"the layers are {names}"
            )
        return names.index(from_layer)
    raise ValueError(f"`from_layer` must be a layer name, an index or None. Received: from_layer={from_layer!r}")


def unfreeze(model, from_layer=None, keep_batchnorm_frozen=True):
    """Unfreeze a model, all of it or from one layer onwards.

    Layers are counted as in `leaf_layers(model)`: nested models (the encoder
    inside a classifier) are flattened, so `from_layer="encoder_block2_conv"`
    unfreezes that layer, every later encoder layer and the head, and keeps the
    layers before it frozen. Compile (again) after unfreezing.

    Args:
        model: the model to unfreeze.
        from_layer: a layer name, an index into `leaf_layers(model)` (negative
            counts from the end), or `None` for the whole model. Defaults to `None`.
        keep_batchnorm_frozen: keep BatchNormalization layers frozen (inference
            mode, statistics fixed): the usual advice when fine-tuning on few
            images, whose batch statistics are noisy. Defaults to `True`.

    Returns:
        `model`, for chaining.

    Example:
    >>> from tlkeras.models import build_encoder
    >>> encoder = freeze(build_encoder((16, 16, 1), filters=(8, 16), latent_dim=4))
    >>> _ = unfreeze(encoder, from_layer="encoder_block2_conv")
    >>> [w.path for w in encoder.trainable_weights][:1]
    ['encoder_block2_conv/kernel']
    """
    check_model(model)
    leaves = leaf_layers(model)
    start = _resolve_from_layer(leaves, from_layer)
    model.trainable = True
    for i, layer in enumerate(leaves):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = i >= start and not (keep_batchnorm_frozen and is_bn)
    return model


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One line of a `TrainableReport`."""

    name: str
    kind: str
    trainable: bool
    trainable_params: int
    non_trainable_params: int


class TrainableReport:
    """Per layer: trainable or not, and the trainable / non-trainable parameter counts.

    `str(report)` (or `print(report)`) gives a table; `report.rows` holds `LayerRow`s.
    """

    def __init__(self, rows):
        self.rows = list(rows)

    @property
    def trainable_params(self):
        return sum(r.trainable_params for r in self.rows)

    @property
    def non_trainable_params(self):
        return sum(r.non_trainable_params for r in self.rows)

    def __getitem__(self, name):
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __str__(self):
        header = ("layer", "type", "trainable", "trainable params", "frozen params")
        lines = [
            (
                r.name,
                r.kind,
                "yes" if r.trainable else "no",
                f"{r.trainable_params:,}",
                f"{r.non_trainable_params:,}",
            )
            for r in self.rows
        ]
        lines.append(("total", "", "", f"{self.trainable_params:,}", f"{self.non_trainable_params:,}"))
        widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(5)]
        fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
        out = [fmt.format(*header), "-" * (sum(widths) + 8)]
        out += [fmt.format(*row) for row in lines]
        return "\n".join(out)

    __repr__ = __str__


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def trainable_report(model):
    """What freezing did: each layer's trainable flag and parameter counts.

    A layer counts as trainable when it would be updated by `fit`: its own flag
    and those of every model around it are True.

    Returns:
        A `TrainableReport`; print it for a table.

    Example:
    >>> from tlkeras.models import build_encoder
    >>> report = trainable_report(freeze(build_encoder((16, 16, 1), filters=(8,), latent_dim=4)))
    >>> report.trainable_params
    0
    """
    check_model(model)
    trainable_ids = {id(v) for v in model.trainable_weights}
    rows = []
    for layer in leaf_layers(model):
        weights = layer.weights
        trainable = [w for w in weights if id(w) in trainable_ids]
        rows.append(
            LayerRow(
                name=layer.name,
                kind=type(layer).__name__,
                trainable=bool(trainable) or (layer.trainable and not weights and model.trainable),
                trainable_params=_count(trainable),
                non_trainable_params=_count(weights) - _count(trainable),
            )
        )
    return TrainableReport(rows)


@dataclasses.dataclass
class FineTuneHistory:
    """The training histories of `fine_tune`'s two phases.

    Attributes:
        head: `keras.callbacks.History` of phase 1 (encoder frozen).
        fine_tune: `History` of phase 2 (encoder unfrozen), or `None` if skipped.
    """

    head: keras.callbacks.History
    fine_tune: keras.callbacks.History | None

    @property
    def history(self):
        """Both phases' metrics, epoch by epoch, in one dict of lists."""
        merged = {k: list(v) for k, v in self.head.history.items()}
        if self.fine_tune is not None:
            for k, v in self.fine_tune.history.items():
                merged.setdefault(k, []).extend(v)
        return merged

    @property
    def head_epochs(self):
        """Epochs run in phase 1 (where phase 2 starts on a plot)."""
        return len(next(iter(self.head.history.values()), []))


def fine_tune(
    model,
    x,
    y,
    encoder_name="encoder",
    head_epochs=10,
    fine_tune_epochs=10,
    head_learning_rate=1e-3,
    fine_tune_learning_rate=1e-4,
    from_layer=None,
    keep_batchnorm_frozen=True,
    optimizer="adam",
    batch_size=32,
    validation_data=None,
    callbacks=None,
    verbose="auto",
):
    """The two-phase transfer recipe on a classifier built on a pretrained encoder.

    Phase 1 freezes the encoder and trains the new head at `head_learning_rate`
    (a random head would otherwise send large gradients into the pretrained
    weights). Phase 2 unfreezes the encoder, all of it or from `from_layer`,
    and trains on at the lower `fine_tune_learning_rate`. The model is
    recompiled at each change of `trainable`: without it TensorFlow keeps
    training the weights it had compiled for, and JAX raises.

    Args:
        model: a classifier with a softmax output and a sub-model named
            `encoder_name`, e.g. from `build_classifier`.
        x: training images, float32 in [0, 1], shaped like the model's input; or
            a stream of `(images, labels)` batches (`tlkeras.images.streaming`: a
            `keras.utils.PyDataset` such as `tlkeras.images.folders.ImageFolderStream`,
            or a `tf.data.Dataset`), which then does the batching and shuffling.
        y: integer labels in `[0, num_classes)`; `None` when `x` is a stream.
        encoder_name: name of the encoder inside `model`. Defaults to `"encoder"`.
        head_epochs: epochs of phase 1. Defaults to `10`.
        fine_tune_epochs: epochs of phase 2; `0` stops after phase 1 (the
            encoder stays frozen). Defaults to `10`.
        head_learning_rate: learning rate of phase 1. Defaults to `1e-3`.
        fine_tune_learning_rate: learning rate of phase 2. Defaults to `1e-4`.
        from_layer: in phase 2, a layer name or index (as in `unfreeze`) of
            `model` to unfreeze from; `None` unfreezes the whole encoder. Defaults to `None`.
        keep_batchnorm_frozen: keep BatchNormalization in inference mode in
            phase 2. Defaults to `True`.
        optimizer: name of a Keras optimizer. Defaults to `"adam"`.
        batch_size: batch size of arrays (a stream batches itself). Defaults to `32`.
        validation_data: optional `(x_val, y_val)`, or a stream of `(images, labels)` batches.
        callbacks: optional list of Keras callbacks, used in both phases.
        verbose: passed to `fit`. Defaults to `"auto"`.

    Returns:
        A `FineTuneHistory` with the `History` of each phase.
    """
    check_model(model)
    check_submodel(model, encoder_name)
    num_classes = model.output_shape[-1]
    shape = model.input_shape[1:]
    if streaming.is_stream(x):
        if y is not None:
            raise ValueError(
                f"`y` must be None when `x` is a stream of (images, labels). Received: y of type {type(y)}"
            )
        x, _ = streaming.for_fit(x, "x", shape, num_classes)
        data = (x,)
    else:
        x = check_images(x, "x", expected_shape=shape)
        data = (x, check_labels(y, "y", num_classes=num_classes, length=len(x)))
    head_epochs = check_positive_int(head_epochs, "head_epochs")
    fine_tune_epochs = check_positive_int(fine_tune_epochs, "fine_tune_epochs", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    check_number(head_learning_rate, "head_learning_rate", 0, math.inf, closed="neither")
    check_number(fine_tune_learning_rate, "fine_tune_learning_rate", 0, math.inf, closed="neither")
    if not isinstance(optimizer, str):
        raise ValueError(f"`optimizer` must be the name of a Keras optimizer. Received: optimizer={optimizer!r}")
    make_optimizer(optimizer, head_learning_rate)  # an unknown name fails here, before the model changes
    if streaming.is_stream(validation_data):
        validation_data, _ = streaming.for_fit(validation_data, "validation_data", shape, num_classes)
    elif validation_data is not None:
        validation_data = check_labeled(validation_data, "validation_data", shape, num_classes)
    if from_layer is not None:
        _resolve_from_layer(leaf_layers(model), from_layer)  # fail before any training

    encoder = model.get_layer(encoder_name)
    fit_kwargs = dict(validation_data=validation_data, callbacks=callbacks, verbose=verbose)
    if len(data) == 2:  # arrays; a stream batches and shuffles itself
        fit_kwargs["batch_size"] = batch_size
    else:
        fit_kwargs["shuffle"] = False

    model.trainable = True
    freeze(encoder)
    compile_classifier(model, head_learning_rate, optimizer)
    head = fit_or_raise(model, *data, epochs=head_epochs, hint="lower `head_learning_rate`", **fit_kwargs)
    if fine_tune_epochs == 0:
        return FineTuneHistory(head=head, fine_tune=None)

    if from_layer is None:
        unfreeze(encoder, keep_batchnorm_frozen=keep_batchnorm_frozen)
    else:
        unfreeze(model, from_layer=from_layer, keep_batchnorm_frozen=keep_batchnorm_frozen)
    compile_classifier(model, fine_tune_learning_rate, optimizer)
    tuned = fit_or_raise(
        model,
        *data,
        epochs=head_epochs + fine_tune_epochs,
        initial_epoch=head_epochs,
        hint="lower `fine_tune_learning_rate`",
        **fit_kwargs,
    )
    return FineTuneHistory(head=head, fine_tune=tuned)
