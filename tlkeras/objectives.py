"""How an encoder is pretrained: one registered function per objective, every one training the same network.

`pretrain_autoencoder` (`tlkeras.pretraining`) builds the conv autoencoder, asks the objective
named by `PretrainConfig.objective` for the model to train around it, and fits that. Each
objective trains the autoencoder's `encoder` (the part that transfers), so every strategy runs
on any of them unchanged:

- `reconstruction`: the autoencoder reconstructs its input (with its own light input noise,
  `PretrainConfig.noise_stddev`): the course's step 1.
- `denoising`: the same, through much stronger noise (`DENOISING_NOISE` more), so that the
  encoder must learn what an image of the dataset looks like, not copy pixels.
- `masked`: random patches hidden (`MASK_RATIO` of them, each a block of the encoder's
  pooling grid), the whole image reconstructed: the masked-autoencoder idea for a conv encoder.
- `contrastive`: two augmented views of each image pulled together, every other image of
  the batch pushed apart (SimCLR's NT-Xent loss on a small projection head); no decoder.
- `supervised`: the encoder and a softmax layer trained with labels, on other classes than
  the ones a study scores (the positive control: what labelled pretraining transfers); no decoder.
- `random`: no training at all, the encoder at its seeded initial weights: the ablation of
  every other objective (the same recipe from an encoder that learned nothing).

The decoder of `contrastive`, `supervised` and `random` keeps its initial weights: use their encoder.

An objective is `objective(autoencoder, config, num_classes) -> (model, loss)`: the model to
fit (its layers shared with the autoencoder; `None` to fit nothing) and its loss; its
registration says what the model is fitted on: `"images"` (the input itself), `"labels"` or
`"nothing"`. Register your own with `@register_objective`.
"""

import keras
from keras import layers, ops

from tlkeras._validation import check_choice
from tlkeras.models import random_translation

DENOISING_NOISE = 0.5  # Gaussian noise (pixels in [0, 1]) added before the autoencoder's own
MASK_RATIO = 0.5  # the share of patches hidden by `masked`
TEMPERATURE = 0.5  # of `contrastive`'s NT-Xent loss
TARGETS = ("images", "labels", "nothing")

OBJECTIVES = {}


def register_objective(function=None, *, name=None, targets="images"):
    """Register `function(autoencoder, config, num_classes) -> (model, loss)` as pretraining objective `name`.

    The model `None` means: train nothing (the encoder keeps its initial weights).

    `targets`: what the model is fitted on, one of `TARGETS`.

    Example:
    >>> @register_objective(name="doc_example")
    ... def doc_example(autoencoder, config, num_classes):
    ...     '''An example: never used.'''
    ...     return autoencoder, "mae"
    >>> "doc_example" in OBJECTIVES
    True
    >>> del OBJECTIVES["doc_example"]
    """

    def register(function):
        key = name or function.__name__
        if key in OBJECTIVES:
            raise ValueError(f"A pretraining objective named {key!r} is already registered.")
        function.targets = check_choice(targets, "targets", TARGETS)
        OBJECTIVES[key] = function
        return function

    return register if function is None else register(function)


def get_objective(name):
    """The objective registered as `name`; an unknown name is a `ValueError` that lists the others."""
    return OBJECTIVES[check_choice(name, "objective", tuple(OBJECTIVES))]


def describe_objective(name):
    """The first line of the objective's docstring."""
    return (get_objective(name).__doc__ or name).strip().splitlines()[0]


def _around(autoencoder, corruption):
    """A model: the input, corrupted by `corruption` (active in training only), then the autoencoder."""
    inputs = keras.Input(shape=autoencoder.input_shape[1:], name="image")
    return keras.Model(inputs, autoencoder(corruption(inputs)), name="corrupted_autoencoder")


@register_objective
def reconstruction(autoencoder, config, num_classes):
    """Reconstruct each image (mean squared error): the course's autoencoder."""
    return autoencoder, "mse"


@register_objective
def denoising(autoencoder, config, num_classes):
    """Reconstruct each image from a much noisier copy (DENOISING_NOISE more Gaussian noise)."""
    return _around(autoencoder, layers.GaussianNoise(DENOISING_NOISE, seed=config.seed, name="strong_noise")), "mse"


class PatchMask(layers.Layer):
    """In training, set a random `ratio` of the image's `patch_size` x `patch_size` patches to 0."""

    def __init__(self, patch_size, ratio, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.ratio, self.seed = int(patch_size), float(ratio), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        p = self.patch_size
        height, width = images.shape[1], images.shape[2]
        grid = (ops.shape(images)[0], -(-height // p), -(-width // p), 1)
        keep = ops.cast(keras.random.uniform(grid, seed=self.seed_generator) >= self.ratio, images.dtype)
        keep = ops.repeat(ops.repeat(keep, p, axis=1), p, axis=2)[:, :height, :width, :]
        return images * keep

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "ratio": self.ratio, "seed": self.seed}


@register_objective
def masked(autoencoder, config, num_classes):
    """Reconstruct each image with half its patches hidden (patches of the encoder's pooling grid)."""
    patch = 2 ** len(config.filters)
    return _around(autoencoder, PatchMask(patch, MASK_RATIO, seed=config.seed, name="mask")), "mse"


class NTXent(layers.Layer):
    """SimCLR's loss per image: each view must pick its other view out of the batch's 2N - 1 vectors."""

    def __init__(self, temperature=TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def call(self, views):
        first, second = (v / ops.sqrt(ops.sum(v * v, axis=-1, keepdims=True) + 1e-12) for v in views)
        both = ops.concatenate([first, second], axis=0)
        scaled = ops.matmul(both, ops.transpose(both)) / self.temperature
        # every similarity is at most 1 / temperature (unit vectors): shift by it, then leave each vector's
        # similarity with itself, exp(0) = 1, out of its row's sum
        others = ops.sum(ops.exp(scaled - 1.0 / self.temperature), axis=-1) - 1.0
        log_denominator = ops.log(ops.maximum(others, 1e-12)) + 1.0 / self.temperature
        positive = ops.sum(first * second, axis=-1) / self.temperature
        count = ops.shape(first)[0]
        return (log_denominator[:count] + log_denominator[count:]) / 2.0 - positive

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def _per_image_loss(y_true, y_pred):
    """The loss a model computed for each image itself (its output): `y_true` is ignored."""
    return y_pred


@register_objective(targets="nothing")
def contrastive(autoencoder, config, num_classes):
    """Two augmented views of each image pulled together, the batch's others pushed apart (SimCLR, NT-Xent)."""
    encoder = autoencoder.get_layer("encoder")
    augment = keras.Sequential(
        [
            random_translation(0.2, 0.2, fill_mode="constant", seed=config.seed),
            layers.RandomZoom((-0.3, 0.1), fill_mode="constant", seed=config.seed + 1),
            layers.RandomFlip("horizontal", seed=config.seed + 2),
            layers.GaussianNoise(0.1, seed=config.seed + 3),
        ],
        name="views",
    )
    project = keras.Sequential(
        [layers.Dense(128, activation="relu"), layers.Dense(64, dtype="float32")], name="projection"
    )
    inputs = keras.Input(shape=autoencoder.input_shape[1:], name="image")
    views = [project(layers.Flatten()(encoder(augment(inputs)))) for _ in range(2)]
    return keras.Model(inputs, NTXent(name="nt_xent")(views), name="contrastive"), _per_image_loss


@register_objective(targets="labels")
def supervised(autoencoder, config, num_classes):
    """The encoder and a softmax layer trained with cross-entropy on labels (of other classes: the positive control)."""
    encoder = autoencoder.get_layer("encoder")
    inputs = keras.Input(shape=autoencoder.input_shape[1:], name="image")
    features = layers.Flatten()(encoder(inputs))
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="source_predictions")(features)
    return keras.Model(inputs, outputs, name="supervised"), "sparse_categorical_crossentropy"


@register_objective(targets="nothing")
def random(autoencoder, config, num_classes):
    """No pretraining: the encoder at its seeded initial weights (the ablation of every other objective)."""
    return None, None
