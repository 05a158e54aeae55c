"""Experiments: cached pretraining, the label-efficiency study and its paired comparisons.

`pretrain_autoencoder` trains (or reloads) a conv autoencoder on unlabeled
images, cached on disk by its configuration *and* the images it saw.
`label_efficiency` trains a classifier per strategy, label budget and seed on
the same labeled images, chooses every training length on a validation split
carved from the training images (early stopping), and reports test accuracy.
`compare_with_scratch` turns the runs into paired per-seed differences with a
95 % confidence interval and a verdict read off that interval.
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

from tlkeras import data, streaming
from tlkeras._training import LabeledBatches, fit_or_raise, train_with_early_stopping
from tlkeras._validation import (
    check_choice,
    check_choices,
    check_images,
    check_labels,
    check_number,
    check_pair,
    check_seed,
)
from tlkeras.models import UPSAMPLING, build_classifier, build_conv_autoencoder, build_encoder
from tlkeras.saving import load_model, save_model, write_json, write_text
from tlkeras.semi_supervised import train_semi_supervised
from tlkeras.transfer import extract_encoder, freeze

STRATEGIES = ("scratch", "frozen", "fine_tuned", "lp_ft", "semi_supervised")
# Old names that still work: "recommended" was LP-FT, which the measurements do not favour over scratch.
STRATEGY_ALIASES = {"recommended": "lp_ft"}
SETTINGS = ("in_domain", "class_disjoint", "cross_domain")


def resolve_strategies(strategies):
    """Strategy names checked, aliases replaced (with a warning), duplicates refused."""
    strategies = check_choices(strategies, "strategies", (*STRATEGIES, *STRATEGY_ALIASES))
    for old in set(strategies) & set(STRATEGY_ALIASES):
        warnings.warn(f"Strategy {old!r} is now called {STRATEGY_ALIASES[old]!r}.", DeprecationWarning, stacklevel=3)
    return check_choices(tuple(STRATEGY_ALIASES.get(s, s) for s in strategies), "strategies", STRATEGIES)


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
        epochs: passes over the unlabeled images.
        batch_size: batch size.
        learning_rate: Adam's learning rate, > 0.
        max_images: use only the first `max_images` images (fast mode), or all.
        seed: seed of the initialisation and the shuffling.
    """

    dataset: str = "fashion_mnist"
    filters: tuple = (32, 64)
    latent_dim: int = 64
    upsampling: str = "transpose"
    noise_stddev: float = 0.2
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 1e-3
    max_images: int | None = None
    seed: int = 0

    def __post_init__(self):
        check_choice(self.dataset, "dataset", data.DATASETS)
        if isinstance(self.filters, str) or not isinstance(self.filters, (tuple, list)) or not self.filters:
            raise ValueError(f"`filters` must be a non-empty tuple of positive integers. Received: {self.filters!r}")
        object.__setattr__(self, "filters", tuple(check_number(f, "filters", 1, integer=True) for f in self.filters))
        check_number(self.latent_dim, "latent_dim", 1, integer=True)
        check_choice(self.upsampling, "upsampling", UPSAMPLING)
        check_number(self.noise_stddev, "noise_stddev", 0, 1)
        check_number(self.epochs, "epochs", 1, integer=True)
        check_number(self.batch_size, "batch_size", 1, integer=True)
        check_number(self.learning_rate, "learning_rate", 0, math.inf, closed="neither")
        if self.max_images is not None:
            check_number(self.max_images, "max_images", 1, integer=True)
        check_seed(self.seed)

    def to_dict(self):
        return {**dataclasses.asdict(self), "filters": list(self.filters)}

    def cache_key(self, images=None):
        """A short hash of the configuration, the images' fingerprint, the backend, Keras version and dtype policy.

        `images` is an array, a stream with a `fingerprint()` method (`tlkeras.streaming`), or `None`
        (`dataset`'s images).
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
        identity = {
            **self.to_dict(),
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


def pretrain_autoencoder(config=PretrainConfig(), cache_dir=None, images=None, verbose="auto"):
    """Pretrain a conv autoencoder on unlabeled images, or reload it from the cache.

    The cache entry (`ae-<key>.keras` and `ae-<key>.json` in `cache_dir`) is
    keyed by the configuration and the fingerprint of the images actually used
    (`config.cache_key(images)`), written atomically, and rebuilt with a warning
    when it cannot be read. 10 % of the images are held out to report the
    validation MSE (`_training_part`). A cache folder that cannot be written (a class's shared,
    read-only one) is read from; a model missing there is trained and not
    cached, with a warning.

    `images` may also be a stream (`tlkeras.streaming`: a `keras.utils.PyDataset`
    such as `tlkeras.folders.ImageFolderStream`, or a `tf.data.Dataset` of image
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

    Returns:
        A `Pretrained`.
    """
    if not isinstance(config, PretrainConfig):
        raise ValueError(f"`config` must be a PretrainConfig. Received: config={config!r}")
    if images is None:
        (images, _), _ = data.load_dataset(config.dataset)
    if streaming.is_stream(images):
        train, image_shape = _pretraining_stream(images, config)
        if cache_dir is not False and streaming.stream_fingerprint(images) is None:
            warnings.warn(
                f"Not caching the autoencoder: the stream ({type(images).__name__}) has no fingerprint() method "
                "naming what it holds (tlkeras.folders.ImageFolderStream has one). Pass cache_dir=False to "
                "silence this.",
                stacklevel=2,
            )
            cache_dir = False
        fit_data = dict(x=train, shuffle=False)  # the stream shuffles
    else:
        images = check_images(images, "images")
        if config.max_images:
            images = images[: config.max_images]
        image_shape = images.shape[1:]
        train = _training_part(len(images), config.batch_size)
        fit_data = dict(x=images[:train], y=images[:train], batch_size=config.batch_size)
        if train < len(images):
            fit_data["validation_data"] = (images[train:], images[train:])
    path = meta_path = None
    if cache_dir is not False:
        cache_dir = cache_dir or default_cache_dir()
        path = os.path.join(cache_dir, f"ae-{config.cache_key(images)}.keras")
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
    autoencoder.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
    start = time.perf_counter()
    history = fit_or_raise(
        autoencoder, **fit_data, epochs=config.epochs, verbose=verbose, hint="lower `learning_rate`"
    ).history
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in values] for k, values in history.items()}
    if path is not None:
        try:
            save_model(autoencoder, path)
            write_json(meta_path, {"config": config.to_dict(), "history": history, "seconds": seconds})
        except PermissionError as e:  # a shared, read-only cache (a class's): keep the model, not the entry
            warnings.warn(f"Not caching the autoencoder: {e}", stacklevel=2)
            path = None
    return Pretrained(autoencoder, history, seconds, False, path)


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    """The training recipe shared by every strategy of a study.

    Every strategy trains by steps, checks its validation accuracy every
    `eval_every` steps and keeps its best check, stopping after `patience`
    checks without improvement or at `max_steps` (per phase, for two-phase
    strategies): no strategy is held back by a step budget, and none is tuned
    on the test set.

    Attributes:
        max_steps: the most gradient steps (per phase).
        eval_every: steps between validation checks.
        patience: checks without improvement before stopping.
        batch_size: labeled images per step.
        unlabeled_batch_size: unlabeled images per step (`semi_supervised`).
        learning_rate: Adam's learning rate for a network trained from the start
            and for a new head (`fine_tuned`'s first phase).
        probe_learning_rate: Adam's learning rate for a linear head on frozen,
            standardised features (`frozen`, and `lp_ft`'s first phase).
        fine_tune_learning_rate: the lower rate once a pretrained encoder is unfrozen.
        augment: augmentation layers used by every strategy (see `build_classifier`).
        dropout: dropout of the classifier head.
        num_reference_images: unlabeled images whose feature statistics standardise a frozen encoder.
        reconstruction_weight: `semi_supervised`'s weight of the reconstruction MSE.
        consistency_weight: `semi_supervised`'s weight of the consistency term.
        pseudo_label_rounds: `semi_supervised`'s rounds of class-balanced self-training.
        pseudo_label_share: share of the unlabeled pool pseudo-labeled per round.
        semi_supervised_start: `semi_supervised` starts from the pretrained
            `"autoencoder"` or from `"random"` weights of the same architecture.
    """

    max_steps: int = 1500
    eval_every: int = 50
    patience: int = 6
    batch_size: int = 32
    unlabeled_batch_size: int = 64
    learning_rate: float = 1e-3
    probe_learning_rate: float = 1e-2
    fine_tune_learning_rate: float = 3e-4
    augment: tuple = ("translate", "flip")
    dropout: float = 0.3
    num_reference_images: int = 10000
    # semi_supervised: chosen on the validation split (docs/benchmarks.md): consistency and the
    # autoencoder start both lowered validation accuracy with one label per class.
    reconstruction_weight: float = 10.0
    consistency_weight: float = 0.0
    pseudo_label_rounds: int = 3
    pseudo_label_share: float = 0.1
    semi_supervised_start: str = "random"

    def __post_init__(self):
        for name in (
            "max_steps",
            "eval_every",
            "patience",
            "batch_size",
            "unlabeled_batch_size",
            "num_reference_images",
        ):
            check_number(getattr(self, name), name, 1, integer=True)
        for name in ("learning_rate", "probe_learning_rate", "fine_tune_learning_rate"):
            check_number(getattr(self, name), name, 0, 1, closed="right")
        for name in ("reconstruction_weight", "consistency_weight"):
            check_number(getattr(self, name), name, 0, math.inf, closed="left")
        check_number(self.dropout, "dropout", 0, 1, closed="left")
        check_number(self.pseudo_label_rounds, "pseudo_label_rounds", 0, integer=True)
        check_number(self.pseudo_label_share, "pseudo_label_share", 0, 1, closed="right")
        check_choice(self.semi_supervised_start, "semi_supervised_start", ("autoencoder", "random"))

    def to_dict(self):
        return {**dataclasses.asdict(self), "augment": list(self.augment)}


def _encoder_filters(autoencoder):
    encoder = autoencoder.get_layer("encoder")
    return tuple(
        layer.filters
        for layer in encoder.layers
        if layer.name.startswith("encoder_block") and layer.name.endswith("_conv")
    )


def _head(encoder, num_classes, config, **kwargs):
    return build_classifier(encoder, num_classes, augment=config.augment, **kwargs)


def _train_supervised(model, x, y, validation, config, learning_rate, seed):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return train_with_early_stopping(
        model,
        model,
        lambda steps: LabeledBatches(x, y, config.batch_size, steps, seed),
        validation,
        config.max_steps,
        config.eval_every,
        config.patience,
        hint="lower the learning rates of the TransferConfig",
    )


def train_strategy(strategy, autoencoder, labeled, unlabeled, validation, num_classes, config=TransferConfig(), seed=0):
    """Build and train the classifier of one strategy; every length is chosen on `validation`.

    Strategies:
        - `scratch`: the encoder's architecture, randomly initialised, trained end to end.
        - `frozen`: the pretrained encoder, frozen, under a linear head on
          features standardised with statistics of unlabeled images (a linear probe).
        - `fine_tuned`: the textbook two-phase recipe: a new head with the
          encoder frozen, then everything at a lower rate.
        - `lp_ft`: the linear probe first, then everything at the lower rate
          (LP-FT, Kumar et al., 2022).
        - `semi_supervised`: cross-entropy on the labels while the network keeps
          reconstructing the unlabeled images, then rounds of class-balanced
          self-training on them (`tlkeras.semi_supervised`; what it starts from
          and which terms it uses are `config` fields).

    Args:
        strategy: one of `STRATEGIES`.
        autoencoder: the pretrained autoencoder (`encoder` and `decoder` sub-models).
        labeled: `(x, y)`, the few labeled images.
        unlabeled: unlabeled images (feature statistics; `semi_supervised`'s pool).
        validation: `(x_val, y_val)`, labeled images apart from training and test.
        num_classes: number of classes.
        config: a `TransferConfig`.
        seed: seed of the batches.

    Returns:
        `(classifier, info)`, info `{"steps", "val_accuracy"}` of the kept weights.
    """
    check_choice(strategy, "strategy", STRATEGIES)
    x, y = labeled
    if strategy == "scratch":
        encoder = build_encoder(
            input_shape=autoencoder.input_shape[1:],
            filters=_encoder_filters(autoencoder),
            latent_dim=autoencoder.get_layer("encoder").output_shape[-1],
        )
        model = _head(encoder, num_classes, config, normalize="layer", dropout=config.dropout)
        steps, score = _train_supervised(model, x, y, validation, config, config.learning_rate, seed)
        return model, {"steps": steps, "val_accuracy": score}
    encoder = extract_encoder(autoencoder)
    if strategy == "semi_supervised":
        decoder = keras.models.clone_model(autoencoder.get_layer("decoder"))
        if config.semi_supervised_start == "autoencoder":
            decoder.set_weights(autoencoder.get_layer("decoder").get_weights())
        else:  # clone_model gives new, random weights
            encoder = keras.models.clone_model(autoencoder.get_layer("encoder"))
        model = _head(encoder, num_classes, config, normalize="layer", dropout=config.dropout)
        steps, score = train_semi_supervised(
            model,
            decoder,
            x,
            y,
            unlabeled,
            validation,
            max_steps=config.max_steps,
            eval_every=config.eval_every,
            patience=config.patience,
            batch_size=config.batch_size,
            unlabeled_batch_size=config.unlabeled_batch_size,
            learning_rate=config.learning_rate,
            reconstruction_weight=config.reconstruction_weight,
            consistency_weight=config.consistency_weight,
            pseudo_label_rounds=config.pseudo_label_rounds,
            pseudo_label_share=config.pseudo_label_share,
            seed=seed,
        )
        return model, {"steps": steps, "val_accuracy": score}
    freeze(encoder)
    if strategy == "fine_tuned":
        model = _head(encoder, num_classes, config, normalize="layer", dropout=config.dropout)
        first_rate = config.learning_rate
    else:
        reference = unlabeled[: config.num_reference_images]
        model = _head(encoder, num_classes, config, normalize="standard", reference_images=reference)
        first_rate = config.probe_learning_rate
    steps, score = _train_supervised(model, x, y, validation, config, first_rate, seed)
    if strategy == "frozen":
        return model, {"steps": steps, "val_accuracy": score}
    encoder.trainable = True
    more, score = _train_supervised(model, x, y, validation, config, config.fine_tune_learning_rate, seed + 1)
    return model, {"steps": steps + more, "val_accuracy": score}


def validation_split(x, y, size, seed=0):
    """Carve a stratified validation split of `size` images off `(x, y)`.

    Returns:
        `((x_rest, y_rest), (x_val, y_val))`.

    Example:
    >>> y = np.repeat(np.arange(3), 10); x = np.zeros((30, 2, 2, 1), "float32")
    >>> (rest, _), (val, y_val) = validation_split(x, y, 6)
    >>> len(rest), np.bincount(y_val).tolist()
    (24, [2, 2, 2])
    """
    y = check_labels(y, "y", length=len(x))
    size = check_number(size, "size", 1, len(x) - 1, integer=True)
    rng = np.random.default_rng(check_seed(seed))
    classes = np.unique(y)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    share = np.floor(size * np.array([len(p) for p in per_class]) / len(y)).astype(int)
    share[: size - share.sum()] += 1  # the rounding remainder, one image each to the first classes
    picked = np.concatenate([p[:k] for p, k in zip(per_class, share, strict=True)])
    mask = np.zeros(len(y), bool)
    mask[picked] = True
    return (x[~mask], y[~mask]), (x[mask], y[mask])


def label_efficiency(
    autoencoder,
    train,
    test,
    labels_per_class=(1, 10),
    strategies=("scratch", "lp_ft", "semi_supervised"),
    seeds=(0, 1, 2, 3, 4),
    config=TransferConfig(),
    validation_size=1000,
    unlabeled=None,
    num_classes=None,
    setting="in_domain",
    progress=True,
    extra_unlabeled=None,
):
    """Test accuracy of each strategy for each label budget and seed, lengths chosen on a validation split.

    A stratified validation split of `validation_size` images is carved off the
    training images first (the same for every run). For each budget and seed,
    `sample_per_class` draws the labeled images from the rest, and every
    strategy trains on exactly those: the runs of one seed are *paired*.

    Args:
        autoencoder: the pretrained autoencoder.
        train: `(x_train, y_train)`; labeled images are drawn from it.
        test: `(x_test, y_test)`, evaluated once per run, never used to choose.
        labels_per_class: the label budgets. Defaults to `(1, 10)`.
        strategies: names from `STRATEGIES`. Defaults to scratch, LP-FT and semi-supervised.
        seeds: one run per seed, distinct integers. Defaults to `(0, 1, 2, 3, 4)`.
        config: a `TransferConfig`.
        validation_size: labeled images held out for every choice. Defaults to `1000`.
        unlabeled: the unlabeled pool, an array or a stream (`tlkeras.streaming`;
            its first `config.num_reference_images` images are read into memory,
            the pool the strategies draw from); `None` uses the training images
            left after the validation split. Defaults to `None`.
        num_classes: number of classes; `None` takes it from `y_train`. Test
            labels outside it are an error. Defaults to `None`.
        setting: recorded in each run: one of `SETTINGS`. Defaults to `"in_domain"`.
        progress: show a tqdm progress bar. Defaults to `True`.
        extra_unlabeled: more unlabeled images, added to the pool (say, a folder's
            `unlabeled/`), an array or a stream (read as `unlabeled` is). Defaults to `None`.

    Returns:
        A list of run records `{"setting", "strategy", "labels_per_class", "seed",
        "accuracy", "val_accuracy", "steps", "seconds"}`, accuracies as fractions.
    """
    x_train, y_train = check_pair(train, "train")
    x_test, y_test = check_pair(test, "test")
    x_train = check_images(x_train, "train[0]", expected_shape=autoencoder.input_shape[1:])
    y_train = check_labels(y_train, "train[1]", length=len(x_train))
    x_test = check_images(x_test, "test[0]", expected_shape=x_train.shape[1:])
    num_classes = (
        int(y_train.max()) + 1 if num_classes is None else check_number(num_classes, "num_classes", 2, integer=True)
    )
    y_test = check_labels(y_test, "test[1]", num_classes=num_classes, length=len(x_test))
    strategies = resolve_strategies(strategies)
    if isinstance(seeds, (int, np.integer)) or not seeds:
        raise ValueError(f"`seeds` must be a non-empty tuple of seeds. Received: seeds={seeds!r}")
    seeds = tuple(check_seed(s, "seeds") for s in seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must not repeat a seed (repeats are not independent runs). Received: {seeds}")
    if isinstance(labels_per_class, (int, np.integer)) or not labels_per_class:
        raise ValueError(f"`labels_per_class` must be a non-empty tuple. Received: {labels_per_class!r}")
    budgets = tuple(check_number(n, "labels_per_class", 1, integer=True) for n in labels_per_class)
    if len(set(budgets)) != len(budgets):
        raise ValueError(f"`labels_per_class` must not repeat a budget. Received: {labels_per_class}")
    check_choice(setting, "setting", SETTINGS)
    (x_pool, y_pool), validation = validation_split(x_train, y_train, validation_size)
    data.sample_per_class(x_pool, y_pool, max(budgets))  # too few images of a class: fail before any training

    def pool(images, name):
        if streaming.is_stream(images):
            images = streaming.take_images(images, config.num_reference_images, name)
        return check_images(images, name, expected_shape=x_train.shape[1:])

    unlabeled = x_pool if unlabeled is None else pool(unlabeled, "unlabeled")
    if extra_unlabeled is not None:
        unlabeled = np.concatenate([unlabeled, pool(extra_unlabeled, "extra_unlabeled")])
    unlabeled = unlabeled[np.random.default_rng(0).permutation(len(unlabeled))]
    jobs = [(n, seed, s) for n in budgets for seed in seeds for s in strategies]
    from tqdm.auto import tqdm

    runs = []
    for n, seed, strategy in tqdm(jobs, desc=f"label-efficiency study ({setting})", disable=not progress):
        labeled = data.sample_per_class(x_pool, y_pool, n, seed=seed)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        model, info = train_strategy(strategy, autoencoder, labeled, unlabeled, validation, num_classes, config, seed)
        accuracy = accuracy_of(model, x_test, y_test)
        runs.append(
            {
                "setting": setting,
                "strategy": strategy,
                "labels_per_class": int(n),
                "seed": int(seed),
                "accuracy": float(accuracy),
                "val_accuracy": info["val_accuracy"],
                "steps": info["steps"],
                "seconds": time.perf_counter() - start,
            }
        )
    return runs


def accuracy_of(classifier, x, y):
    """The share of `x` that `classifier` puts in the class `y`."""
    return float(np.mean(classifier.predict(x, batch_size=512, verbose=0).argmax(axis=-1) == y))


def paired_interval(differences, confidence=0.95):
    """Mean of paired differences and its Student-t confidence interval.

    Returns:
        `(mean, low, high)`; `low` and `high` are NaN with fewer than two pairs.

    Example:
    >>> mean, low, high = paired_interval([0.02, 0.04, 0.03])
    >>> round(mean, 3), low > 0
    (0.03, True)
    """
    from scipy import stats

    differences = np.asarray(differences, dtype="float64")
    mean = float(differences.mean())
    if len(differences) < 2:
        return mean, math.nan, math.nan
    half = (
        stats.t.ppf(0.5 + confidence / 2, len(differences) - 1) * differences.std(ddof=1) / math.sqrt(len(differences))
    )
    return mean, float(mean - half), float(mean + half)


def verdict(low, high):
    """`"wins"` if the whole interval is above 0, `"loses"` if below, else `"no difference"` (or `"too few seeds"`)."""
    if math.isnan(low):
        return "too few seeds"
    return "wins" if low > 0 else "loses" if high < 0 else "no difference"


def compare_with_scratch(runs, baseline="scratch", key="accuracy", lower_is_better=False):
    """Paired per-seed differences against `baseline`, with a 95 % CI and a verdict, per setting, budget and strategy.

    Only seeds that ran both arms are paired. For `lower_is_better` metrics
    (an MSE) the difference is `baseline - strategy`, so a positive gain is
    still a win.

    Returns:
        Rows `{"setting", "labels_per_class", "strategy", "gain", "low", "high",
        "verdict", "seeds"}`, the gain in the metric's units.
    """
    table = {(r.get("setting", "in_domain"), r["labels_per_class"], r["strategy"], r["seed"]): r[key] for r in runs}
    rows = []
    groups = dict.fromkeys((s, n, strategy) for s, n, strategy, _ in table)
    for setting, n, strategy in groups:
        if strategy == baseline:
            continue
        pairs = [
            (value, table[setting, n, baseline, seed])
            for (s, m, st, seed), value in table.items()
            if (s, m, st) == (setting, n, strategy) and (setting, n, baseline, seed) in table
        ]
        if not pairs:
            continue
        diffs = [(b - a) if lower_is_better else (a - b) for a, b in pairs]
        gain, low, high = paired_interval(diffs)
        rows.append(
            {
                "setting": setting,
                "labels_per_class": n,
                "strategy": strategy,
                "gain": gain,
                "low": low,
                "high": high,
                "verdict": verdict(low, high),
                "seeds": len(pairs),
            }
        )
    return rows


def summarize(runs):
    """Mean and std of test accuracy, mean validation accuracy and steps, per setting, strategy and budget."""
    groups = {}
    for run in runs:
        groups.setdefault((run.get("setting", "in_domain"), run["strategy"], run["labels_per_class"]), []).append(run)
    rows = []
    for (setting, strategy, n), group in groups.items():
        accuracies = np.array([r["accuracy"] for r in group])
        rows.append(
            {
                "setting": setting,
                "strategy": strategy,
                "labels_per_class": n,
                "mean": float(accuracies.mean()),
                "std": float(accuracies.std()),
                "val_mean": float(np.mean([r.get("val_accuracy", math.nan) for r in group])),
                "steps": float(np.mean([r.get("steps", math.nan) for r in group])),
                "runs": len(group),
                "seconds": float(np.mean([r["seconds"] for r in group])),
            }
        )
    return rows


def recommend(summary, setting="in_domain"):
    """Per label budget, the strategy with the best mean *validation* accuracy (the test set only reports)."""
    best = {}
    for row in summary:
        if row["setting"] == setting and (
            row["labels_per_class"] not in best or row["val_mean"] > best[row["labels_per_class"]]["val_mean"]
        ):
            best[row["labels_per_class"]] = row
    return {n: row["strategy"] for n, row in sorted(best.items())}


def markdown_table(summary, setting=None):
    """Test accuracy as a Markdown table: one row per label budget, one column per strategy."""
    rows = [r for r in summary if setting is None or r["setting"] == setting]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    budgets = sorted({r["labels_per_class"] for r in rows})
    cell = {(r["strategy"], r["labels_per_class"]): r for r in rows}
    lines = [
        "| labels per class | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for n in budgets:
        values = [
            f"{100 * cell[s, n]['mean']:.1f} ± {100 * cell[s, n]['std']:.1f} %" if (s, n) in cell else ""
            for s in strategies
        ]
        lines.append(f"| {n} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def comparison_table(rows, unit="points", scale=100.0):
    """Paired comparisons as a Markdown table: gain, 95 % CI, verdict."""
    lines = [
        "| setting | labels per class | strategy | gain over scratch | 95 % CI | verdict | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        interval = "n/a" if math.isnan(r["low"]) else f"[{scale * r['low']:+.1f}, {scale * r['high']:+.1f}]"
        lines.append(
            f"| {r['setting']} | {r['labels_per_class']} | {r['strategy']} | {scale * r['gain']:+.1f} {unit} | "
            f"{interval} | {r['verdict']} | {r['seeds']} |"
        )
    return "\n".join(lines)


CSV_COLUMNS = ("setting", "strategy", "labels_per_class", "seed", "accuracy", "val_accuracy", "steps", "seconds")


def write_results(folder, runs, configuration, **extra):
    """Write `results.json` (configuration, runs, and any `extra` lists) and `results.csv` atomically."""
    write_json(os.path.join(folder, "results.json"), {"configuration": configuration, "runs": runs, **extra})
    lines = [",".join(CSV_COLUMNS)]
    for r in runs:
        lines.append(
            f"{r.get('setting', 'in_domain')},{r['strategy']},{r['labels_per_class']},{r['seed']},"
            f"{r['accuracy']:.6f},{r.get('val_accuracy', math.nan):.6f},{r.get('steps', '')},{r['seconds']:.3f}"
        )
    write_text(os.path.join(folder, "results.csv"), "\n".join(lines) + "\n")
