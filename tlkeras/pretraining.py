"""Pretraining the conv autoencoder on unlabeled images, cached on disk by what it was trained on.

`pretrain_autoencoder` trains (or reloads) a conv autoencoder on unlabeled
images, cached by its configuration *and* the images it saw (`fingerprint`),
written atomically.
"""

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings

import keras
import numpy as np

from tlkeras import data, objectives
from tlkeras._validation import check_choice, check_images, check_labels, check_number, check_seed
from tlkeras.images import streaming
from tlkeras.models import UPSAMPLING, build_conv_autoencoder
from tlkeras.saving import load_model, save_model, write_json
from tlkeras.training import compile_model, fit_or_raise


def default_cache_dir():
    """`$TLKERAS_CACHE_DIR`, else `~/.cache/tlkeras`."""
    return os.environ.get("TLKERAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "tlkeras")


def fingerprint(images):
    """Shape, dtype and SHA-256 of an image array: what a cache entry must have been trained on.

    Example:
    >>> fingerprint(np.zeros((2, 4, 4, 1), "float32"))["shape"]
    [2, 4, 4, 1]
    """
    images = np.ascontiguousarray(images)
    return {
        "shape": list(images.shape),
        "dtype": str(images.dtype),
        "sha256": hashlib.sha256(images.tobytes()).hexdigest(),
    }


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """How the autoencoder is pretrained; with the images, the key of its cache entry.

    Attributes:
        dataset: name for `tlkeras.data.load_dataset` when no images are given;
            only its training images are used.
        filters: encoder filters per block.
        latent_dim: size of the dense bottleneck.
        upsampling: the decoder's blocks, `"transpose"` (Conv2DTranspose) or
            `"upsampling"` (UpSampling2D + Conv2D; about twice as fast on JAX's
            CPU backend, docs/benchmarks.md).
        noise_stddev: Gaussian input noise of the denoising autoencoder, in [0, 1].
        epochs: passes over the unlabeled images (at least: see `min_steps`).
        min_steps: the fewest gradient steps: a small dataset gets more passes, so that its
            autoencoder trains long enough to learn more than the mean image. `0` trains
            exactly `epochs`.
        batch_size: batch size.
        learning_rate: Adam's learning rate, > 0.
        max_images: use only the first `max_images` images (fast mode), or all.
        seed: seed of the initialisation and the shuffling.
        objective: how the encoder is trained, a registered `tlkeras.objectives` name:
            `"reconstruction"` (the autoencoder), `"denoising"`, `"masked"`, `"contrastive"`
            or `"supervised"` (needs labels).
    """

    dataset: str = "fashion_mnist"
    filters: tuple = (32, 64)
    latent_dim: int = 64
    upsampling: str = "transpose"
    noise_stddev: float = 0.2
    epochs: int = 4
    min_steps: int = 0
    batch_size: int = 128
    learning_rate: float = 1e-3
    max_images: int | None = None
    seed: int = 0
    objective: str = "reconstruction"

    def __post_init__(self):
        check_choice(self.dataset, "dataset", data.DATASETS)
        check_choice(self.objective, "objective", tuple(objectives.OBJECTIVES))
        if isinstance(self.filters, str) or not isinstance(self.filters, (tuple, list)) or not self.filters:
            raise ValueError(f"`filters` must be a non-empty tuple of positive integers. Received: {self.filters!r}")
        object.__setattr__(self, "filters", tuple(check_number(f, "filters", 1, integer=True) for f in self.filters))
        checked = {
            "latent_dim": check_number(self.latent_dim, "latent_dim", 1, integer=True),
            "noise_stddev": check_number(self.noise_stddev, "noise_stddev", 0, 1),
            "epochs": check_number(self.epochs, "epochs", 1, integer=True),
            "min_steps": check_number(self.min_steps, "min_steps", 0, integer=True),
            "batch_size": check_number(self.batch_size, "batch_size", 1, integer=True),
            "learning_rate": check_number(self.learning_rate, "learning_rate", 0, math.inf, closed="neither"),
            "seed": check_seed(self.seed),
        }
        if self.max_images is not None:
            checked["max_images"] = check_number(self.max_images, "max_images", 1, integer=True)
        check_choice(self.upsampling, "upsampling", UPSAMPLING)
        for name, value in checked.items():  # plain Python numbers: NumPy's cannot be written to the cache's JSON
            object.__setattr__(self, name, value)

    def to_dict(self):
        return {**dataclasses.asdict(self), "filters": list(self.filters)}

    def epochs_for(self, steps_per_epoch):
        """Passes over the images: `epochs`, or more when `epochs` would make fewer than `min_steps` steps.

        Example:
        >>> PretrainConfig(epochs=4, min_steps=1500).epochs_for(22), PretrainConfig(epochs=4).epochs_for(22)
        (69, 4)
        """
        if not steps_per_epoch:  # a stream of unknown length
            return self.epochs
        return max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))

    def cache_key(self, images=None, epochs=None, labels=None):
        """A short hash of the configuration, the images' fingerprint, the backend, Keras version and dtype policy.

        `images` is an array, a stream with a `fingerprint()` method (`tlkeras.images.streaming`), or `None`
        (`dataset`'s images). `epochs` is the number of passes the training makes (`epochs_for`;
        `None`: `self.epochs`): the key names the training done, so two configurations that
        train the same share an entry whatever their `min_steps`. `labels`: those a `supervised`
        objective trains on. The default objective, `reconstruction`, keeps the key it had before
        objectives existed, so caches filled then stay valid.
        """
        if images is None:
            identity = None
        elif streaming.is_stream(images):
            identity = streaming.stream_fingerprint(images)
            if identity is None:
                raise ValueError(
                    "`images` is a stream without a fingerprint() method, so no cache key can name what it holds. "
                    f"Received: images of type {type(images).__name__}"
                )
        else:
            identity = fingerprint(images)
        training = {k: v for k, v in self.to_dict().items() if k != "min_steps"}
        if self.objective == "reconstruction":
            del training["objective"]
        if labels is not None:
            training["labels"] = fingerprint(labels)
        identity = {
            **training,
            "epochs": self.epochs if epochs is None else int(epochs),
            "images": identity,
            "backend": keras.backend.backend(),
            "keras": keras.__version__,
            "dtype_policy": keras.config.dtype_policy().name,
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@dataclasses.dataclass
class Pretrained:
    """A pretrained autoencoder and how it was made.

    Attributes:
        autoencoder: the trained `keras.Model`.
        history: its training history, a dict of per-epoch lists.
        seconds: wall time of the training (of the original run, when cached).
        cached: whether it came from the cache.
        path: its `.keras` file in the cache, or `None` if not cached.
    """

    autoencoder: keras.Model
    history: dict
    seconds: float
    cached: bool
    path: str | None


def _read_cache(path, meta_path):
    autoencoder = load_model(path, compile=False)
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if not isinstance(meta, dict) or not isinstance(meta.get("history"), dict):
        raise ValueError(f"{meta_path} does not hold a JSON object with a 'history'")
    return autoencoder, meta["history"], float(meta["seconds"])


def _training_part(count, batch_size):
    """How many of `count` images train; the last 10 % (from 10 images on) report the validation MSE.

    Keras' `validation_split=0.1`, except that a training part that would end in a batch of one
    image gives that image to the validation part: PyTorch (2.13, CPU) cannot train a one-filter
    Conv2D, the grayscale reconstruction layer, on a batch of one ("slow_conv2d: grad_weight must
    be contiguous").

    >>> _training_part(64, 8), _training_part(64, 16), _training_part(9, 8)
    (56, 57, 9)
    """
    train = int(math.floor(count * (1.0 - 0.1))) if count >= 10 else count  # Keras' own arithmetic
    return train - 1 if train % batch_size == 1 and train < count else train


def _pretraining_stream(stream, config):
    """`(stream of (x, x) batches, image shape)`, after the checks a stream needs."""
    if config.max_images:
        raise ValueError(
            "`config.max_images` cuts an array of images; with a stream, make the stream smaller "
            f"(ImageFolderStream(max_images=...), dataset.take(...)). Received: max_images={config.max_images}"
        )
    stated = getattr(stream, "batch_size", None)
    if stated is not None and stated != config.batch_size:
        raise ValueError(
            f"The stream batches {stated} images, the config says batch_size={config.batch_size}: make them equal, "
            "so that the cache key says how the model was trained."
        )
    return streaming.for_fit(stream, "images", autoencoder=True)


def pretrain_autoencoder(config=PretrainConfig(), cache_dir=None, images=None, verbose="auto", labels=None):
    """Pretrain a conv autoencoder on unlabeled images, or reload it from the cache.

    `config.objective` says how its encoder is trained (`tlkeras.objectives`): by default it
    reconstructs the images; the `supervised` objective trains on `labels` instead.

    The cache entry (`ae-<key>.keras` and `ae-<key>.json` in `cache_dir`) is
    keyed by the configuration and the fingerprint of the images actually used
    (`config.cache_key(images)`), written atomically, and rebuilt with a warning
    when it cannot be read. 10 % of the images are held out to report the
    validation MSE (`_training_part`). A cache folder that cannot be written (a class's shared,
    read-only one) is read from; a model missing there is trained and not
    cached, with a warning.

    `images` may also be a stream (`tlkeras.images.streaming`: a `keras.utils.PyDataset`
    such as `tlkeras.images.folders.ImageFolderStream`, or a `tf.data.Dataset` of image
    batches), for more images than memory holds. The stream batches and
    shuffles (its batch size, where it states one, must be `config.batch_size`),
    no images are held out (the history has the training MSE only), and the
    model is cached only if the stream has a `fingerprint()`.

    Args:
        config: a `PretrainConfig`. Defaults to `PretrainConfig()`.
        cache_dir: cache folder; `None` uses `default_cache_dir()`; `False`
            disables the cache. Defaults to `None`.
        images: the unlabeled images, an array or a stream; `None` loads
            `config.dataset`'s training images. Defaults to `None`.
        verbose: passed to `fit`. Defaults to `"auto"`.
        labels: integer labels of `images`, for the `supervised` objective only (the labels of
            other classes than a study scores). Defaults to `None`.

    Returns:
        A `Pretrained`.
    """
    if not isinstance(config, PretrainConfig):
        raise ValueError(f"`config` must be a PretrainConfig. Received: config={config!r}")
    objective = objectives.get_objective(config.objective)
    if (labels is not None) != (objective.targets == "labels"):
        raise ValueError(
            f"`labels` are for an objective that trains on labels; objective={config.objective!r} "
            f"{'needs them' if labels is None else 'trains without them'}. Received: labels="
            f"{'None' if labels is None else f'an array of {len(labels)}'}"
        )
    if images is None:
        (images, dataset_labels), _ = data.load_dataset(config.dataset)
        labels = dataset_labels if labels is not None else None
    if streaming.is_stream(images) and objective.targets != "images":
        raise ValueError(
            f"The {config.objective!r} objective trains on arrays of images; a stream serves the objectives "
            "that reconstruct images. Received: images of type " + type(images).__name__
        )
    if streaming.is_stream(images):
        train, image_shape = _pretraining_stream(images, config)
        if cache_dir is not False and streaming.stream_fingerprint(images) is None:
            warnings.warn(
                f"Not caching the autoencoder: the stream ({type(images).__name__}) has no fingerprint() method "
                "naming what it holds (tlkeras.images.folders.ImageFolderStream has one). Pass cache_dir=False to "
                "silence this.",
                stacklevel=2,
            )
            cache_dir = False
        fit_data = dict(x=train, shuffle=False)  # the stream shuffles
        steps_per_epoch = len(train) if hasattr(train, "__len__") else None
    else:
        images = check_images(images, "images")
        if config.max_images:
            images = images[: config.max_images]
            labels = None if labels is None else labels[: config.max_images]
        if labels is not None:
            labels = check_labels(labels, "labels", length=len(images))
        image_shape = images.shape[1:]
        targets = {"images": images, "labels": labels, "nothing": np.zeros(len(images), "float32")}
        targets = targets[objective.targets]
        train = _training_part(len(images), config.batch_size)
        fit_data = dict(x=images[:train], y=targets[:train], batch_size=config.batch_size)
        steps_per_epoch = math.ceil(train / config.batch_size)
        if train < len(images):
            fit_data["validation_data"] = (images[train:], targets[train:])
    epochs = config.epochs_for(steps_per_epoch)
    path = meta_path = None
    if cache_dir is not False:
        cache_dir = cache_dir or default_cache_dir()
        path = os.path.join(cache_dir, f"ae-{config.cache_key(images, epochs, labels)}.keras")
        meta_path = path[: -len(".keras")] + ".json"
        if os.path.exists(path) and os.path.exists(meta_path):
            try:
                return Pretrained(*_read_cache(path, meta_path), True, path)
            except (ValueError, KeyError, TypeError, OSError) as e:
                warnings.warn(f"Rebuilding the cached autoencoder {path}: {e}", stacklevel=2)
    keras.utils.set_random_seed(config.seed)
    autoencoder = build_conv_autoencoder(
        input_shape=image_shape,
        filters=config.filters,
        latent_dim=config.latent_dim,
        upsampling=config.upsampling,
        noise_stddev=config.noise_stddev,
    )
    num_classes = None if labels is None else int(labels.max()) + 1
    model, loss = objective(autoencoder, config, num_classes)
    start = time.perf_counter()
    if model is None:  # an objective that trains nothing (`random`)
        history = {}
    else:
        compile_model(model, loss, config.learning_rate)
        if epochs > config.epochs and verbose == "auto":
            verbose = 2  # one line an epoch: a progress bar per pass of a small dataset is a wall of bars
        history = fit_or_raise(model, **fit_data, epochs=epochs, verbose=verbose, hint="lower `learning_rate`").history
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in values] for k, values in history.items()}
    if path is not None:
        try:
            save_model(autoencoder, path)
            write_json(meta_path, {"config": config.to_dict(), "history": history, "seconds": seconds})
        except (PermissionError, NotADirectoryError, FileExistsError) as e:
            # a shared, read-only cache (a class's), or a cache_dir that names a file: keep the model, not the entry
            warnings.warn(f"Not caching the autoencoder: {e}", stacklevel=2)
            path = None
    return Pretrained(autoencoder, history, seconds, False, path)


# An autoencoder whose test MSE is above this share of the mean image's has learned little (reports say so).
POOR_RECONSTRUCTION = 0.8


def reconstruction_quality(autoencoder, train_images, test_images):
    """The autoencoder's test MSE against the MSE of predicting the mean training image for every test image.

    An autoencoder no better than the mean image has learned nothing an encoder could pass on: every
    transfer measured with it measures an untrained network.

    Returns:
        `{"mse", "mean_image_mse", "ratio"}`: `ratio` = mse / mean_image_mse, below 1 the better.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> x = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    >>> quality = reconstruction_quality(build_conv_autoencoder((8, 8, 1), filters=(4,), latent_dim=2), x, x)
    >>> sorted(quality)
    ['mean_image_mse', 'mse', 'ratio']
    """
    mean_image = np.mean(train_images, axis=0, dtype="float64")
    reconstructed = autoencoder.predict(test_images, batch_size=512, verbose=0)
    mse = float(np.mean((reconstructed - test_images) ** 2))
    mean_image_mse = float(np.mean((test_images - mean_image) ** 2))
    return {"mse": mse, "mean_image_mse": mean_image_mse, "ratio": mse / mean_image_mse if mean_image_mse else math.inf}
