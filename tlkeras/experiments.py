"""Experiments: cached pretraining and the label-efficiency sweep.

`pretrain_autoencoder` trains (or reloads) a conv autoencoder on a dataset's
unlabeled training images, cached on disk by its configuration.
`label_efficiency` then trains classifiers with a few labels per class under
each strategy, with the same labeled images, augmentation and training budget
for every strategy, and measures test accuracy and time.
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

from tlkeras import data
from tlkeras._checks import check_choice, check_images, check_labels, check_positive_int
from tlkeras.models import build_classifier, build_conv_autoencoder, build_encoder
from tlkeras.saving import load_model, save_model, write_json, write_text
from tlkeras.transfer import extract_encoder, fine_tune, freeze

STRATEGIES = ("scratch", "frozen", "fine_tuned", "recommended")


def default_cache_dir():
    """`$TLKERAS_CACHE_DIR`, else `~/.cache/tlkeras`."""
    return os.environ.get("TLKERAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "tlkeras")


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """How the autoencoder is pretrained; also the key of its cache entry.

    Attributes:
        dataset: name for `tlkeras.data.load_dataset`; only its training images are used.
        filters: encoder filters per block.
        latent_dim: size of the dense bottleneck.
        noise_stddev: Gaussian input noise of the denoising autoencoder.
        epochs: passes over the unlabeled images.
        batch_size: batch size.
        learning_rate: Adam's learning rate.
        max_images: use only the first `max_images` training images (fast mode), or all.
        seed: seed of the initialisation and the shuffling.
    """

    dataset: str = "fashion_mnist"
    filters: tuple = (32, 64)
    latent_dim: int = 64
    noise_stddev: float = 0.2
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 1e-3
    max_images: int | None = None
    seed: int = 0

    def __post_init__(self):
        check_choice(self.dataset, "dataset", data.DATASETS)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        if self.max_images is not None:
            check_positive_int(self.max_images, "max_images")

    def to_dict(self):
        return {**dataclasses.asdict(self), "filters": list(self.filters)}

    def cache_key(self):
        """A short hash of the configuration, the Keras backend and version, and the dtype policy."""
        identity = {
            **self.to_dict(),
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


def pretrain_autoencoder(config=PretrainConfig(), cache_dir=None, images=None, verbose="auto"):
    """Pretrain a conv autoencoder on unlabeled images, or reload it from the cache.

    The cache entry (`ae-<key>.keras` and `ae-<key>.json` in `cache_dir`) is
    keyed by `config.cache_key()`, written atomically, and rebuilt with a
    warning when it cannot be read.

    Args:
        config: a `PretrainConfig`. Defaults to `PretrainConfig()`.
        cache_dir: cache folder; `None` uses `default_cache_dir()`; `False`
            disables the cache. Defaults to `None`.
        images: the unlabeled images; `None` loads `config.dataset`'s training
            images. Defaults to `None`.
        verbose: passed to `fit`. Defaults to `"auto"`.

    Returns:
        A `Pretrained`.
    """
    if not isinstance(config, PretrainConfig):
        raise ValueError(f"`config` must be a PretrainConfig. Received: config={config!r}")
    path = meta_path = None
    if cache_dir is not False:
        cache_dir = cache_dir or default_cache_dir()
        path = os.path.join(cache_dir, f"ae-{config.cache_key()}.keras")
        meta_path = path[: -len(".keras")] + ".json"
        if os.path.exists(path) and os.path.exists(meta_path):
            try:
                autoencoder = load_model(path, compile=False)
                with open(meta_path, encoding="utf-8") as f:
                    meta = json.load(f)
                return Pretrained(autoencoder, meta["history"], meta["seconds"], True, path)
            except (ValueError, KeyError, OSError) as e:
                warnings.warn(f"Rebuilding the cached autoencoder {path}: {e}", stacklevel=2)
    if images is None:
        (images, _), _ = data.load_dataset(config.dataset)
    images = check_images(images, "images")
    if config.max_images:
        images = images[: config.max_images]
    keras.utils.set_random_seed(config.seed)
    autoencoder = build_conv_autoencoder(
        input_shape=images.shape[1:],
        filters=config.filters,
        latent_dim=config.latent_dim,
        noise_stddev=config.noise_stddev,
    )
    autoencoder.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
    start = time.perf_counter()
    history = autoencoder.fit(
        images,
        images,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_split=0.1,
        verbose=verbose,
    ).history
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in values] for k, values in history.items()}
    if path is not None:
        save_model(autoencoder, path)
        write_json(meta_path, {"config": config.to_dict(), "history": history, "seconds": seconds})
    return Pretrained(autoencoder, history, seconds, False, path)


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    """The training budget and recipe shared by every strategy of a sweep.

    Attributes:
        steps: gradient steps per classifier, the same for every strategy.
        batch_size: largest batch size (smaller when fewer images are labeled).
        learning_rate: Adam's learning rate for a scratch network and the
            textbook head (`fine_tuned`).
        probe_learning_rate: Adam's learning rate for a linear head on frozen,
            standardised features (`frozen`, and the first phase of `recommended`):
            at 1e-3 such a head is still underfit after 300 steps.
        fine_tune_learning_rate: the lower rate once a pretrained encoder is unfrozen.
        augment: augmentation layers used by every strategy (see `build_classifier`).
        dropout: dropout of the classifier head.
        reference_images: unlabeled images used for feature statistics.
    """

    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    probe_learning_rate: float = 1e-2
    fine_tune_learning_rate: float = 3e-4
    augment: tuple = ("translate", "flip")
    dropout: float = 0.3
    reference_images: int = 10000

    def to_dict(self):
        return {**dataclasses.asdict(self), "augment": list(self.augment)}


def _tile(x, y, count):
    """`count` samples of `(x, y)`: whole copies of the set, in order, then a random remainder.

    The remainder is drawn at random (not cut from the front) because labeled sets come sorted
    by class: a front cut would drop whole classes.
    """
    reps, remainder = divmod(count, len(x))
    index = np.tile(np.arange(len(x)), reps)
    if remainder:  # only then draw, so exact tilings leave the seeded global RNG untouched
        index = np.concatenate([index, np.random.permutation(len(x))[:remainder]])
    return x[index], y[index]


def _fit_steps(model, x, y, steps, batch_size, learning_rate, verbose=0):
    """Compile and train for `steps` gradient steps (rounded up to whole epochs of >= 50 steps)."""
    batch_size = min(batch_size, len(x))
    per_epoch = max(math.ceil(len(x) / batch_size), min(steps, 50))
    x_rep, y_rep = _tile(x, y, per_epoch * batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_rep, y_rep, batch_size=batch_size, epochs=math.ceil(steps / per_epoch), verbose=verbose)
    return model


def build_strategy(strategy, autoencoder, x, y, num_classes, reference, config=TransferConfig(), verbose=0):
    """Build and train the classifier of one strategy on the labeled `(x, y)`.

    Strategies:
        - `scratch`: the encoder's architecture, randomly initialised, with
          the head of `fine_tuned`, all trained from the start.
        - `frozen`: the pretrained encoder, frozen, under a linear head on
          standardised features (a linear probe).
        - `fine_tuned`: the textbook two-phase recipe (`fine_tune`): the head
          first with the encoder frozen, then everything at a lower rate.
        - `recommended`: the linear probe first, then fine-tuning at the lower
          rate (LP-FT), with the features standardised on unlabeled images.

    Returns:
        The trained classifier.
    """
    check_choice(strategy, "strategy", STRATEGIES)
    half = max(1, config.steps // 2)
    if strategy == "scratch":
        encoder = build_encoder(
            input_shape=autoencoder.input_shape[1:],
            filters=_encoder_filters(autoencoder),
            latent_dim=autoencoder.get_layer("encoder").output_shape[-1],
        )
        model = build_classifier(
            encoder, num_classes, normalize="layer", augment=config.augment, dropout=config.dropout
        )
        return _fit_steps(model, x, y, config.steps, config.batch_size, config.learning_rate, verbose)
    encoder = extract_encoder(autoencoder)
    if strategy == "fine_tuned":
        model = build_classifier(
            encoder, num_classes, normalize="layer", augment=config.augment, dropout=config.dropout
        )
        batch_size = min(config.batch_size, len(x))
        x_rep, y_rep = _tile(x, y, half * batch_size)
        fine_tune(
            model,
            x_rep,
            y_rep,
            head_epochs=1,
            fine_tune_epochs=1,
            head_learning_rate=config.learning_rate,
            fine_tune_learning_rate=config.fine_tune_learning_rate,
            batch_size=batch_size,
            verbose=verbose,
        )
        return model
    freeze(encoder)
    model = build_classifier(
        encoder, num_classes, normalize="standard", reference_images=reference, augment=config.augment
    )
    if strategy == "frozen":
        return _fit_steps(model, x, y, config.steps, config.batch_size, config.probe_learning_rate, verbose)
    _fit_steps(model, x, y, half, config.batch_size, config.probe_learning_rate, verbose)
    encoder.trainable = True
    return _fit_steps(model, x, y, config.steps - half, config.batch_size, config.fine_tune_learning_rate, verbose)


def _encoder_filters(autoencoder):
    encoder = autoencoder.get_layer("encoder")
    return tuple(
        layer.filters
        for layer in encoder.layers
        if layer.name.startswith("encoder_block") and layer.name.endswith("_conv")
    )


def label_efficiency(
    autoencoder,
    train,
    test,
    labels_per_class=(1, 10),
    strategies=STRATEGIES,
    seeds=(0, 1, 2, 3, 4),
    config=TransferConfig(),
    progress=True,
):
    """Test accuracy of each strategy for each number of labels per class and seed.

    Every strategy gets the same labeled images (drawn by `sample_per_class`
    with the run's seed), the same augmentation and the same number of steps.

    Args:
        autoencoder: the pretrained autoencoder.
        train: `(x_train, y_train)`; labeled images are drawn from it and its
            images also serve as the unlabeled reference.
        test: `(x_test, y_test)`, the whole of it is evaluated.
        labels_per_class: the label budgets. Defaults to `(1, 10)`.
        strategies: names from `STRATEGIES`. Defaults to all.
        seeds: one run per seed. Defaults to `(0, 1, 2, 3, 4)`.
        config: a `TransferConfig`.
        progress: show a tqdm progress bar. Defaults to `True`.

    Returns:
        A list of run records `{"strategy", "labels_per_class", "seed",
        "accuracy", "seconds"}`, accuracy as a fraction.
    """
    x_train = check_images(train[0], "train[0]")
    y_train = check_labels(train[1], "train[1]", length=len(x_train))
    x_test = check_images(test[0], "test[0]", expected_shape=x_train.shape[1:])
    y_test = check_labels(test[1], "test[1]", length=len(x_test))
    for strategy in strategies:
        check_choice(strategy, "strategies", STRATEGIES)
    if not seeds:
        raise ValueError(f"`seeds` must hold at least one seed. Received: seeds={seeds!r}")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    reference = x_train[np.random.default_rng(0).permutation(len(x_train))[: config.reference_images]]
    jobs = [(n, seed, s) for n in labels_per_class for seed in seeds for s in strategies]
    from tqdm.auto import tqdm

    runs = []
    for n, seed, strategy in tqdm(jobs, desc="label-efficiency sweep", disable=not progress):
        x, y = data.sample_per_class(x_train, y_train, n, seed=seed)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        model = build_strategy(strategy, autoencoder, x, y, num_classes, reference, config)
        accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)[1]
        runs.append(
            {
                "strategy": strategy,
                "labels_per_class": int(n),
                "seed": int(seed),
                "accuracy": float(accuracy),
                "seconds": time.perf_counter() - start,
            }
        )
    return runs


def summarize(runs):
    """Mean and std of accuracy (and mean seconds) per strategy and label budget."""
    groups = {}
    for run in runs:
        groups.setdefault((run["strategy"], run["labels_per_class"]), []).append(run)
    rows = []
    for (strategy, n), group in groups.items():
        accuracies = np.array([r["accuracy"] for r in group])
        rows.append(
            {
                "strategy": strategy,
                "labels_per_class": n,
                "mean": float(accuracies.mean()),
                "std": float(accuracies.std()),
                "runs": len(group),
                "seconds": float(np.mean([r["seconds"] for r in group])),
            }
        )
    return rows


def markdown_table(summary):
    """The summary as a Markdown table: one row per label budget, one column per strategy."""
    strategies = list(dict.fromkeys(r["strategy"] for r in summary))
    budgets = sorted({r["labels_per_class"] for r in summary})
    cell = {(r["strategy"], r["labels_per_class"]): r for r in summary}
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


def write_results(folder, runs, configuration):
    """Write `results.json` (configuration and runs) and `results.csv` atomically."""
    write_json(os.path.join(folder, "results.json"), {"configuration": configuration, "runs": runs})
    header = "strategy,labels_per_class,seed,accuracy,seconds"
    lines = [
        f"{r['strategy']},{r['labels_per_class']},{r['seed']},{r['accuracy']:.6f},{r['seconds']:.3f}" for r in runs
    ]
    write_text(os.path.join(folder, "results.csv"), "\n".join([header, *lines]) + "\n")
