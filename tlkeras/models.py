"""Builders for the convolutional autoencoder and the classifier put on its encoder.

Every builder is a plain function that returns a Functional `keras.Model` with
deterministically named layers, so `model.get_layer(name)` works in lessons and
tests. Only built-in Keras layers are used: a saved `.keras` file loads with
plain `keras.saving.load_model`, `safe_mode` left on.
"""

import numbers

import keras
import numpy as np
from keras import layers

from tlkeras._validation import check_choice, check_images, check_model, check_number, check_positive_int, fast_mode

# The decoder's ways back up to the image size (`build_decoder`'s `upsampling`).
UPSAMPLING = ("transpose", "upsampling")


def decoder_upsampling(fast=None, backend=None):
    """The decoder the course builds: `"transpose"`, but `"upsampling"` in the quick run on JAX.

    XLA's CPU backend runs Conv2DTranspose several times slower than UpSampling2D + Conv2D, which
    would make the tests' quick runs of the notebooks on JAX the longest of the suite; the full
    run, what students do, keeps the Conv2DTranspose decoder on every backend.

    Args:
        fast: whether this is the quick run (default: `fast_mode()`, from `$TLKERAS_FAST`).
        backend: the Keras backend (default: the active one).

    Example:
    >>> decoder_upsampling(fast=False, backend="jax"), decoder_upsampling(fast=True, backend="jax")
    ('transpose', 'upsampling')
    """
    fast = fast_mode() if fast is None else fast
    backend = keras.backend.backend() if backend is None else backend
    return "upsampling" if fast and backend == "jax" else "transpose"


def _spatial_shape(input_shape):
    """(height, width, channels) of an image shape, following Keras' data format."""
    if keras.config.image_data_format() == "channels_first":
        channels, height, width = input_shape
    else:
        height, width, channels = input_shape
    return height, width, channels


def _check_input_shape(input_shape, depth):
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            "`input_shape` must be 3 positive integers (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    height, width, _ = _spatial_shape(input_shape)
    factor = 2**depth
    if height % factor or width % factor:
        raise ValueError(
            f"`input_shape` height and width must be divisible by 2**len(filters) = {factor}, "
            f"because each of the {depth} encoder blocks halves them. Received: "
            f"input_shape={tuple(input_shape)}. Pad or resize the images, or use fewer filters."
        )
    return tuple(int(d) for d in input_shape)


def _check_latent_shape(latent_shape, small, depth):
    """A vector latent `(d,)` or a feature map whose height and width are the output's / 2**depth."""
    if (
        not isinstance(latent_shape, (tuple, list))
        or len(latent_shape) not in (1, 3)
        or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in latent_shape)
    ):
        raise ValueError(
            "`latent_shape` must be (features,) or a feature map (height, width, channels) of positive "
            f"integers. Received: latent_shape={latent_shape!r}"
        )
    latent_shape = tuple(int(d) for d in latent_shape)
    if len(latent_shape) == 3:
        spatial = _spatial_shape(latent_shape)[:2]
        if spatial != small:
            raise ValueError(
                f"`latent_shape` must have height and width {small} (the output's divided by 2**len(filters) = "
                f"{2**depth}), so that {depth} upsampling block(s) reach the output shape. Received: "
                f"latent_shape={latent_shape}"
            )
    return latent_shape


def _check_filters(filters):
    if not isinstance(filters, (tuple, list)) or not filters:
        raise ValueError(f"`filters` must be a non-empty tuple of positive integers. Received: filters={filters!r}")
    return tuple(check_positive_int(f, "filters") for f in filters)


def _conv_block(x, filters, prefix, batch_norm, activation, transpose=False, upsample=False):
    """Conv (or transposed conv / upsample + conv), optional BatchNorm, activation."""
    if upsample:
        x = layers.UpSampling2D(2, name=f"{prefix}_upsample")(x)
    if transpose:
        x = layers.Conv2DTranspose(
            filters, 3, strides=2, padding="same", use_bias=not batch_norm, name=f"{prefix}_deconv"
        )(x)
    else:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"{prefix}_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{prefix}_bn")(x)
    return layers.Activation(activation, name=f"{prefix}_{activation}")(x)


def build_encoder(
    input_shape=(28, 28, 1),
    filters=(32, 64),
    latent_dim=64,
    bottleneck="dense",
    batch_norm=False,
    activation="relu",
    name="encoder",
):
    """The encoder half: Conv2D + max-pooling blocks, then a bottleneck.

    Block `i` (from 1) is `encoder_block{i}_conv` (3x3, "same"), optionally
    `encoder_block{i}_bn`, the activation, and `encoder_block{i}_pool` (2x2 max
    pooling), so each block halves height and width. The bottleneck layer is
    named `bottleneck`: with `bottleneck="dense"` a linear `Dense(latent_dim)`
    on the flattened feature map (the latent is a vector); with
    `bottleneck="conv"` a linear 1x1 `Conv2D(latent_dim)` (the latent is a
    feature map of `latent_dim` channels).

    Args:
        input_shape: one image's shape. Defaults to `(28, 28, 1)`.
        filters: filters of each block. Defaults to `(32, 64)`.
        latent_dim: size (dense) or channels (conv) of the latent code. Defaults to `64`.
        bottleneck: `"dense"` or `"conv"`. Defaults to `"dense"`.
        batch_norm: put BatchNormalization after each conv. Defaults to `False`.
        activation: activation of the conv blocks. Defaults to `"relu"`.
        name: the model's name. Defaults to `"encoder"`.

    Returns:
        A Functional `keras.Model` from images to latent codes.

    Example:
    >>> encoder = build_encoder((32, 32, 3), filters=(8, 16), latent_dim=10)
    >>> encoder.output_shape
    (None, 10)
    """
    filters = _check_filters(filters)
    input_shape = _check_input_shape(input_shape, len(filters))
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    check_choice(bottleneck, "bottleneck", ("dense", "conv"))
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = _conv_block(x, f, f"encoder_block{i}", batch_norm, activation)
        x = layers.MaxPooling2D(2, name=f"encoder_block{i}_pool")(x)
    if bottleneck == "dense":
        x = layers.Flatten(name="encoder_flatten")(x)
        x = layers.Dense(latent_dim, name="bottleneck")(x)
    else:
        x = layers.Conv2D(latent_dim, 1, name="bottleneck")(x)
    return keras.Model(inputs, x, name=name)


def build_decoder(
    latent_shape,
    output_shape=(28, 28, 1),
    filters=(64, 32),
    upsampling="transpose",
    batch_norm=False,
    activation="relu",
    output_activation="sigmoid",
    name="decoder",
):
    """The decoder half: from a latent code back to an image of `output_shape`.

    A vector latent first goes through `decoder_dense` and `decoder_reshape` to
    a feature map of `1 / 2**len(filters)` the output's size. Each block `i`
    then doubles height and width: with `upsampling="transpose"` a strided
    `decoder_block{i}_deconv` (Conv2DTranspose), with `"upsampling"` an
    `decoder_block{i}_upsample` (UpSampling2D) followed by a 3x3
    `decoder_block{i}_conv`. The last layer, `reconstruction`, is a 3x3 conv to
    the image's channels with `output_activation` (sigmoid for [0, 1] pixels).

    Args:
        latent_shape: shape of one latent code (`(64,)` or `(7, 7, 16)`).
        output_shape: one image's shape. Defaults to `(28, 28, 1)`.
        filters: filters of each block, from the latent outwards. Defaults to `(64, 32)`.
        upsampling: `"transpose"` or `"upsampling"`. Defaults to `"transpose"`.
        batch_norm: put BatchNormalization after each conv. Defaults to `False`.
        activation: activation of the blocks. Defaults to `"relu"`.
        output_activation: activation of `reconstruction`. Defaults to `"sigmoid"`.
        name: the model's name. Defaults to `"decoder"`.

    Returns:
        A Functional `keras.Model` from latent codes to images.
    """
    filters = _check_filters(filters)
    output_shape = _check_input_shape(output_shape, len(filters))
    check_choice(upsampling, "upsampling", UPSAMPLING)
    height, width, channels = _spatial_shape(output_shape)
    factor = 2 ** len(filters)
    latent_shape = _check_latent_shape(latent_shape, (height // factor, width // factor), len(filters))
    inputs = keras.Input(shape=tuple(latent_shape), name=f"{name}_input")
    x = inputs
    if len(latent_shape) == 1:
        small = (height // factor, width // factor)
        shape = (filters[0], *small) if keras.config.image_data_format() == "channels_first" else (*small, filters[0])
        x = layers.Dense(small[0] * small[1] * filters[0], activation=activation, name="decoder_dense")(x)
        x = layers.Reshape(shape, name="decoder_reshape")(x)
    for i, f in enumerate(filters, start=1):
        transpose = upsampling == "transpose"
        x = _conv_block(x, f, f"decoder_block{i}", batch_norm, activation, transpose=transpose, upsample=not transpose)
    # float32 even under mixed precision: the sigmoid and the loss need the range.
    outputs = layers.Conv2D(
        channels, 3, padding="same", activation=output_activation, dtype="float32", name="reconstruction"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def build_conv_autoencoder(
    input_shape=(28, 28, 1),
    filters=(32, 64),
    latent_dim=64,
    bottleneck="dense",
    upsampling="transpose",
    batch_norm=False,
    noise_stddev=0.0,
    activation="relu",
    name="conv_autoencoder",
):
    """A convolutional autoencoder made of two named sub-models, `encoder` and `decoder`.

    Train it with `compile(loss="mse")` and `fit(x, x)`: it minimises the
    reconstruction error L = 1/(N*D) sum_i sum_j (x_ij - x_hat_ij)^2 over N images
    of D pixels (Keras' `mse`). `noise_stddev > 0` makes it a
    denoising autoencoder: a `GaussianNoise` layer named `noise`, active only in
    training, corrupts the input before the encoder, while the target stays the
    clean image. The encoder comes out with `ae.get_layer("encoder")` or
    `tlkeras.transfer.extract_encoder(ae)`.

    Args:
        input_shape: one image's shape; height and width must be divisible by
            `2**len(filters)`. Defaults to `(28, 28, 1)`.
        filters: encoder filters per block; the decoder mirrors them. Defaults to `(32, 64)`.
        latent_dim: size (dense) or channels (conv) of the latent code. Defaults to `64`.
        bottleneck: `"dense"` (vector latent) or `"conv"` (1x1 conv, feature-map
            latent). Defaults to `"dense"`.
        upsampling: decoder blocks with `"transpose"` (Conv2DTranspose) or
            `"upsampling"` (UpSampling2D + Conv2D). Defaults to `"transpose"`.
        batch_norm: BatchNormalization after every conv. Defaults to `False`.
        noise_stddev: standard deviation of the training-time input noise; `0`
            for a plain autoencoder. Defaults to `0.0`.
        activation: activation of the conv blocks. Defaults to `"relu"`.
        name: the model's name. Defaults to `"conv_autoencoder"`.

    Returns:
        A Functional `keras.Model` mapping images to reconstructions of the same shape.

    Example:
    >>> ae = build_conv_autoencoder((16, 16, 1), filters=(8, 16), latent_dim=8)
    >>> ae.output_shape, ae.get_layer("encoder").output_shape
    ((None, 16, 16, 1), (None, 8))
    """
    noise_stddev = check_number(noise_stddev, "noise_stddev", 0, 1)  # GaussianNoise accepts [0, 1]
    encoder = build_encoder(input_shape, filters, latent_dim, bottleneck, batch_norm, activation, name="encoder")
    decoder = build_decoder(
        encoder.output_shape[1:],
        input_shape,
        tuple(reversed(filters)),
        upsampling,
        batch_norm,
        activation,
        name="decoder",
    )
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if noise_stddev > 0:
        x = layers.GaussianNoise(noise_stddev, name="noise")(x)
    outputs = decoder(encoder(x))
    return keras.Model(inputs, outputs, name=name)


AUGMENTATIONS = ("translate", "flip")


def random_translation(height_factor, width_factor, **kwargs):
    """`keras.layers.RandomTranslation(height_factor, width_factor, **kwargs)`, compiled with its model on JAX.

    Keras marks this layer as one XLA cannot compile (TensorFlow's image transform has no XLA kernel), and a
    model holding a layer so marked is not jit-compiled: on JAX it then trains op by op, several times slower
    (docs/benchmarks.md). JAX's own affine transform compiles, so on JAX the mark is lifted; the other
    backends keep Keras' choice.
    """
    layer = layers.RandomTranslation(height_factor, width_factor, **kwargs)
    if keras.backend.backend() == "jax":
        layer.supports_jit = True
    return layer


def compile_translations_on_jax(model):
    """Lift Keras' no-jit mark from every `RandomTranslation` in `model` on JAX, as `random_translation` does.

    The mark is not saved, so a model loaded from a file gets it back, and Keras then compiles it
    without XLA whatever it was saved with; where it was saved compiled whole (`jit_compile=True`, what
    `"auto"` gives a model tlkeras built), it is compiled whole again. Other backends: `model` unchanged.
    """
    if keras.backend.backend() != "jax":
        return model

    def walk(layer):
        yield layer
        for inner in getattr(layer, "layers", ()):
            yield from walk(inner)

    every = list(walk(model))
    for layer in every:
        if isinstance(layer, layers.RandomTranslation):
            layer.supports_jit = True
    saved_whole = getattr(model, "compiled", False) and model.get_compile_config().get("jit_compile") in (True, "auto")
    if saved_whole and all(getattr(layer, "supports_jit", True) for layer in every):
        model.jit_compile = True
    return model


def feature_statistics(encoder, images, reduce=(), batch_size=256):
    """Per-feature mean and variance of an encoder's output on `images`.

    Used to standardise frozen features with statistics of the *unlabeled*
    pretraining images, which are far more reliable than those of a handful of
    labeled ones.

    Args:
        encoder: the encoder.
        images: the reference images.
        reduce: layers applied to the encoder's output first (pooling); the
            result is flattened. Defaults to `()`.
        batch_size: batch size of the forward passes. Defaults to `256`.

    Returns:
        `(mean, variance)`, two float32 vectors of the feature size.
    """
    total, total_sq, count = 0.0, 0.0, 0
    for start in range(0, len(images), 4096):
        features = encoder.predict(images[start : start + 4096], batch_size=batch_size, verbose=0)
        for layer in reduce:
            features = keras.ops.convert_to_numpy(layer(features))
        features = features.reshape(len(features), -1).astype("float64")
        total, total_sq, count = (
            total + features.sum(0),
            total_sq + (features**2).sum(0),
            count + len(features),
        )
    mean = total / count
    return mean.astype("float32"), np.maximum(total_sq / count - mean**2, 0.0).astype("float32")


def build_classifier(
    encoder,
    num_classes,
    pooling="flatten",
    normalize=None,
    reference_images=None,
    augment=(),
    hidden_units=None,
    dropout=0.0,
    name="classifier",
):
    """A classifier head on an encoder: the encoder, then a new softmax layer.

    The encoder is used as one layer (named like the encoder model, `encoder`
    by default), so `tlkeras.transfer.freeze(clf.get_layer("encoder"))` freezes
    exactly the pretrained part. Optional `augment_*` layers (active only in
    training) come before the encoder. A feature-map output is reduced by
    `pooling`; then come an optional normalisation (`head_norm`), an optional
    `head_hidden` Dense layer, `head_dropout`, and `predictions`
    (`Dense(num_classes, activation="softmax")`). Train it with
    `loss="sparse_categorical_crossentropy"` on integer labels.

    Args:
        encoder: a `keras.Model` from images to features.
        num_classes: number of classes, >= 2.
        pooling: for a feature-map encoder output: `"flatten"`, `"avg"`,
            `"max"`, or an integer `k` (k x k average pooling, then flatten).
            Defaults to `"flatten"`.
        normalize: `None`; `"layer"` (LayerNormalization); or `"standard"`:
            standardise each feature with its mean and variance over
            `reference_images` (a fixed `Normalization` layer), then scale
            every feature vector to norm sqrt(dim). `"standard"` is what makes
            a frozen encoder's features usable with few labels. Defaults to `None`.
        reference_images: unlabeled images for `normalize="standard"`.
        augment: any of `"translate"` (random shifts up to 10 %) and `"flip"`
            (random horizontal flips). Defaults to `()`.
        hidden_units: units of an extra ReLU Dense layer, or `None`. Defaults to `None`.
        dropout: dropout rate before the output layer. Defaults to `0.0`.
        name: the model's name. Defaults to `"classifier"`.

    Returns:
        A Functional `keras.Model` from images to class probabilities.

    Example:
    >>> encoder = build_encoder((16, 16, 1), filters=(8,), latent_dim=4)
    >>> build_classifier(encoder, num_classes=3).output_shape
    (None, 3)
    """
    check_model(encoder, "encoder")
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    if not (isinstance(pooling, int) and not isinstance(pooling, bool) and pooling > 0):
        check_choice(pooling, "pooling", ("flatten", "avg", "max"))
    check_choice(normalize, "normalize", (None, "layer", "standard"))
    if normalize == "standard":
        if reference_images is None:
            raise ValueError('`reference_images` must be given with normalize="standard". Received: None')
        reference_images = check_images(reference_images, "reference_images", expected_shape=encoder.input_shape[1:])
    if isinstance(augment, str) or not all(a in AUGMENTATIONS for a in augment):
        raise ValueError(f"`augment` must be a tuple drawn from {AUGMENTATIONS}. Received: augment={augment!r}")
    check_number(dropout, "dropout", 0, 1, closed="left")
    if hidden_units is not None:
        hidden_units = check_positive_int(hidden_units, "hidden_units")
    if len(encoder.output_shape) not in (2, 4):
        raise ValueError(
            "`encoder` must output vectors (batch, features) or feature maps "
            f"(batch, height, width, channels). Received: encoder.output_shape={encoder.output_shape}"
        )
    inputs = keras.Input(shape=encoder.input_shape[1:], name="image")
    x = inputs
    if "translate" in augment:
        x = random_translation(0.1, 0.1, fill_mode="constant", name="augment_translate")(x)
    if "flip" in augment:
        x = layers.RandomFlip("horizontal", name="augment_flip")(x)
    x = encoder(x)
    reduce = []
    if len(encoder.output_shape) == 4:
        if isinstance(pooling, int):
            reduce.append(layers.AveragePooling2D(pooling, padding="same", name="head_pool"))
            pooling = "flatten"
        reduce.append(
            {
                "flatten": layers.Flatten(name="head_flatten"),
                "avg": layers.GlobalAveragePooling2D(name="head_avg_pool"),
                "max": layers.GlobalMaxPooling2D(name="head_max_pool"),
            }[pooling]
        )
    for layer in reduce:
        x = layer(x)
    if normalize == "layer":
        x = layers.LayerNormalization(name="head_norm")(x)
    elif normalize == "standard":
        mean, variance = feature_statistics(encoder, reference_images, reduce=reduce)
        x = layers.Normalization(mean=mean, variance=variance, name="head_norm")(x)
        x = layers.UnitNormalization(name="head_unit_norm")(x)
        x = layers.Rescaling(float(mean.shape[0]) ** 0.5, name="head_rescale")(x)
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu", name="head_hidden")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
