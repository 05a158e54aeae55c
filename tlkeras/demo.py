"""The main job: where learning from unlabeled images pays off, measured, as a report folder.

Pretrain (or reuse) the autoencoder, show what it learned, extract and freeze
its encoder, then run the label-efficiency study in each setting of the map:

- `in_domain`: unlabeled and labeled images from the same dataset;
- `class_disjoint`: the autoencoder sees only the source classes' images, the
  classifiers learn the target classes;
- `cross_domain`: the autoencoder of `in_domain` transferred to another dataset;
- `generative`: the autoencoder fine-tuned to denoise a handful of the other
  dataset's images, against the same network trained on them from scratch.

Every choice is made on a validation split of the training images; every
comparison with scratch is paired per seed with a 95 % confidence interval.
The folder (`report.md`, `results.json`, `results.csv`, PNG plots) is written
beside the target and renamed into place at the end, so it always holds one
whole run.
"""

import dataclasses
import functools
import os
import platform
import shutil
import tempfile
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from tlkeras import data, plots
from tlkeras._validation import check_choices, check_number, check_seed
from tlkeras.experiments import (
    SETTINGS,
    STRATEGIES,
    PretrainConfig,
    TransferConfig,
    compare_with_scratch,
    comparison_table,
    label_efficiency,
    markdown_table,
    pretrain_autoencoder,
    recommend,
    summarize,
    write_results,
)
from tlkeras.folders import COLOR_MODES, load_folder_dataset
from tlkeras.generative import generative_transfer, summarize_generative
from tlkeras.models import build_classifier
from tlkeras.precision import POLICIES, mixed_precision
from tlkeras.saving import write_text
from tlkeras.transfer import extract_encoder, freeze, trainable_report

MAP_SETTINGS = (*SETTINGS, "generative")
REPORT_FILES = (
    "report.md",
    "results.json",
    "results.csv",
    "pretrain_loss.png",
    "reconstructions.png",
    "label_efficiency.png",
    "map.png",
)


def _option(default, help, **cli):
    """A DemoOptions field: its default, its `--help` text and any argparse settings."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Everything the demo can be told; the command line is built from these fields (`tlkeras demo --help`)."""

    dataset: str = _option(
        "fashion_mnist",
        "built-in dataset of the study (its training images are also the unlabeled pool)",
        choices=sorted(data.DATASETS),
    )
    data_file: str | None = _option(
        None,
        "your own data instead of --dataset: a .npz file with x_train, y_train, x_test, y_test, or a folder "
        "with train/<class>/, test/<class>/ and optionally unlabeled/ images (tlkeras.folders)",
        metavar="FILE.npz|DIR",
        flags=("--data",),
    )
    image_size: int | None = _option(
        None, "--data DIR: resize every image to N x N (default: keep their size, which must then be one)", type=int
    )
    color_mode: str = _option("grayscale", "--data DIR: read the images as", choices=tuple(COLOR_MODES))
    target: str | None = _option(
        "digits",
        "dataset of the cross_domain and generative settings ('none' to skip them)",
        choices=[*sorted(data.DATASETS), "none"],
    )
    source_classes: tuple | None = _option(
        None,
        "class_disjoint: classes whose images pretrain the autoencoder (default: the first half)",
        nargs="+",
        type=int,
        metavar="C",
    )
    target_classes: tuple | None = _option(
        None,
        "class_disjoint: classes the classifiers learn (default: the other half)",
        nargs="+",
        type=int,
        metavar="C",
    )
    settings: tuple = _option(
        ("in_domain", "generative"),
        "settings of the map to run (docs/benchmarks.md has the time each takes)",
        nargs="+",
        choices=MAP_SETTINGS,
    )
    labels_per_class: tuple = _option((1, 10), "label budgets to compare", nargs="+", type=int, metavar="N")
    strategies: tuple = _option(
        ("scratch", "frozen", "lp_ft"),
        "strategies to compare ('scratch' is the baseline; semi_supervised takes several minutes a run)",
        nargs="+",
        choices=STRATEGIES,
    )
    num_seeds: int = _option(
        3, "paired runs per cell, seeds seed..seed+N-1", type=int, flags=("--num-seeds", "--seeds")
    )
    seed: int = _option(0, "first seed; also seeds the pretraining", type=int)
    pretrain_epochs: int = _option(4, "autoencoder epochs", type=int)
    pretrain_images: int | None = _option(
        None, "pretrain on the first N unlabeled images only (default: all)", type=int
    )
    max_steps: int = _option(
        1000,
        "most training steps per classifier and phase; early stopping on validation picks the length",
        type=int,
        flags=("--max-steps", "--steps"),
    )
    validation_size: int = _option(1000, "training images held out (with labels) for every choice", type=int)
    test_images: int | None = _option(None, "evaluate on the first N test images only (default: all)", type=int)
    output: str = _option(os.path.join("runs", "demo"), "report folder")
    cache_dir: str | None = _option(
        None, "where pretrained autoencoders are cached (default: $TLKERAS_CACHE_DIR or ~/.cache/tlkeras)"
    )
    precision: str = _option(
        "float32", "Keras dtype policy (mixed_bfloat16 measured 1.1x on a 2-core AVX512-BF16 CPU)", choices=POLICIES
    )
    fast: bool = _option(False, "a small, quick run for CI (also set by TLKERAS_FAST=1)")

    def __post_init__(self):
        for name in ("labels_per_class", "strategies", "settings", "source_classes", "target_classes"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        for name in ("labels_per_class", "num_seeds", "pretrain_epochs", "max_steps", "validation_size"):
            values = getattr(self, name)
            for value in values if isinstance(values, tuple) else (values,):
                check_number(value, name, 1, integer=True)
        for name in ("pretrain_images", "test_images", "image_size"):
            if getattr(self, name) is not None:
                check_number(getattr(self, name), name, 1, integer=True)
        check_seed(self.seed)
        check_choices(self.labels_per_class, "labels_per_class", range(1, 1 << 31))
        check_choices(self.strategies, "strategies", STRATEGIES)
        check_choices(self.settings, "settings", MAP_SETTINGS)
        if "scratch" not in self.strategies:
            raise ValueError(
                f"`strategies` must include 'scratch', the baseline. Received: strategies={self.strategies}"
            )

    def resolved(self):
        """The options with fast mode applied: a small but complete run for CI."""
        if not self.fast:
            return self
        return dataclasses.replace(
            self,
            num_seeds=min(self.num_seeds, 2),
            pretrain_epochs=1,
            pretrain_images=min(self.pretrain_images or 4000, 4000),
            max_steps=min(self.max_steps, 40),
            validation_size=min(self.validation_size, 200),
            test_images=min(self.test_images or 500, 500),
        )


def _say(message):
    print(message, flush=True)


def check_output_folder(path, what="output"):
    """Fail now, not after an hour of training, if `path` cannot become a report folder."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"`--{what}` must be a folder, but {path!r} is a file.")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"`--{what}` cannot be created: {parent!r} is a file.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"`--{what}` cannot be written: {parent!r} is not writable.")
    if what == "output" and os.path.isdir(path):
        foreign = sorted(set(os.listdir(path)) - set(REPORT_FILES))
        if foreign:
            raise ValueError(
                f"`--output` {path!r} holds files that are not a tlkeras report ({foreign[:3]}...); "
                "choose an empty or new folder: the demo replaces the whole folder."
            )
    return path


def load_study_data(options):
    """The study's `(x_train, y_train), (x_test, y_test), x_unlabeled`, padded so the encoder's blocks divide them.

    `x_unlabeled` holds the extra unlabeled images of a `--data DIR` with an `unlabeled/` folder, else `None`.
    """
    unlabeled = None
    if options.data_file and os.path.isdir(options.data_file):
        (x_train, y_train), (x_test, y_test), unlabeled, _ = load_folder_dataset(
            options.data_file, image_size=options.image_size, color_mode=options.color_mode
        )
    elif options.data_file:
        (x_train, y_train), (x_test, y_test) = data.load_npz(options.data_file)
    else:
        (x_train, y_train), (x_test, y_test) = data.load_dataset(options.dataset)
    factor = 2 ** len(PretrainConfig().filters)
    pad = functools.partial(data.pad_to_multiple, multiple=factor)
    return (pad(x_train), y_train), (pad(x_test), y_test), None if unlabeled is None else pad(unlabeled)


def _class_split(options, classes):
    source = options.source_classes or tuple(classes[: len(classes) // 2])
    target = options.target_classes or tuple(c for c in classes if c not in source)
    for name, chosen in (("source_classes", source), ("target_classes", target)):
        unknown = sorted(set(chosen) - set(classes))
        if unknown or len(chosen) < (1 if name == "source_classes" else 2):
            raise ValueError(
                f"`--{name.replace('_', '-')}` must name {'at least 2 ' if name == 'target_classes' else ''}classes of "
                f"the dataset {classes}. Received: {list(chosen)}"
            )
    if set(source) & set(target):
        raise ValueError(
            f"`--source-classes` and `--target-classes` must not share a class: {sorted(set(source) & set(target))}"
        )
    return tuple(source), tuple(target)


def _check_budget(y, n, validation_size, what):
    """`n` labeled images per class must be left in every class once the validation split is carved off."""
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    left = int(smallest * (1 - validation_size / len(y)))
    if n > left:
        raise ValueError(
            f"`--labels-per-class` {n} is more than the {left} images left in the smallest class of {what} "
            f"({smallest} images, less its share of the validation split of {validation_size})."
        )


def plan(options):
    """Load the data and check every option and the label budgets, before any training.

    Returns:
        A dict of what `run_demo` needs.
    """
    options = options.resolved()
    check_output_folder(options.output)
    if options.cache_dir:
        check_output_folder(options.cache_dir, "cache-dir")
    train, test, extra_unlabeled = load_study_data(options)
    if options.test_images:
        test = (test[0][: options.test_images], test[1][: options.test_images])
    classes = tuple(int(c) for c in np.unique(train[1]))
    unseen = sorted(set(np.unique(test[1]).tolist()) - set(classes))
    if unseen:
        raise ValueError(f"The test labels hold class(es) {unseen} that the training labels never do.")
    if len(classes) < 2:
        raise ValueError(f"The dataset must have at least 2 classes. Received: {list(classes)}")
    largest = max(options.labels_per_class)
    _check_budget(train[1], largest, min(options.validation_size, len(train[1]) // 4), "the training images")
    settings = {"in_domain": (train, test)} if "in_domain" in options.settings else {}
    split = None
    if "class_disjoint" in options.settings:
        split = _class_split(options, classes)
        settings["class_disjoint"] = tuple(data.split_by_class(*pair, split[1]) for pair in (train, test))
        y_target = settings["class_disjoint"][0][1]
        _check_budget(y_target, largest, min(options.validation_size, len(y_target) // 4), "the target classes")
    other = None
    same = options.target == options.dataset and not options.data_file  # transfer to itself is in_domain
    if options.target != "none" and not same and {"cross_domain", "generative"} & set(options.settings):
        (x_other, y_other), (x_other_test, y_other_test) = data.load_dataset(options.target)
        height, width, channels = train[0].shape[1:]
        if x_other.shape[-1] == 1 and channels == 3:  # a grayscale target for an RGB study: gray RGB images
            x_other, x_other_test = (np.repeat(x, 3, axis=-1) for x in (x_other, x_other_test))
        if x_other.shape[1:] != train[0].shape[1:] and height == width and x_other.shape[-1] == channels:
            x_other, x_other_test = (data.resize_images(x, height) for x in (x_other, x_other_test))
        if x_other.shape[1:] != train[0].shape[1:]:
            raise ValueError(
                f"`--target` {options.target} has images of shape {x_other.shape[1:]}, but the study's are "
                f"{train[0].shape[1:]}: cross-domain transfer needs the same shape."
            )
        other = ((x_other, y_other), (x_other_test, y_other_test))
        if "cross_domain" in options.settings:
            settings["cross_domain"] = other
            _check_budget(y_other, largest, min(options.validation_size, len(y_other) // 4), options.target)
    return {
        "options": options,
        "train": train,
        "test": test,
        "unlabeled": extra_unlabeled,
        "settings": settings,
        "split": split,
        "other": other,
    }


def run_demo(options=DemoOptions(), command=None):
    """Run the demo and return `(comparison rows, output folder)`.

    Args:
        options: a `DemoOptions`.
        command: the command line that started it, recorded in `results.json`.
    """
    study = plan(options)
    options = study["options"]
    target = os.path.abspath(options.output)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staging = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.partial-")
    try:
        with mixed_precision(options.precision):
            rows = _run(study, staging, command)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rows, options.output


def _move_into_place(staging, target):
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.old-")
        os.rename(target, os.path.join(old, "report"))
    os.rename(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _pretrain(options, images, label):
    config = PretrainConfig(
        dataset=options.dataset, epochs=options.pretrain_epochs, max_images=options.pretrain_images, seed=options.seed
    )
    count = min(len(images), options.pretrain_images or len(images))
    _say(f"      pretraining the conv autoencoder on {count} unlabeled images ({label})")
    pretrained = pretrain_autoencoder(config, cache_dir=options.cache_dir, images=images, verbose="auto")
    _say(
        f"      {'reused the cached' if pretrained.cached else 'trained a new'} autoencoder "
        f"({pretrained.seconds:.0f} s of training){': ' + pretrained.path if pretrained.path else ''}"
    )
    return config, pretrained


def _run(study, out, command):
    options, (x_train, y_train), (x_test, _) = study["options"], study["train"], study["test"]
    name = options.data_file or options.dataset
    started = time.perf_counter()
    extra = study["unlabeled"]
    pool = x_train if extra is None else np.concatenate([x_train, extra])  # every image without its label
    _say(
        f"[1/5] Data: {name}, {len(x_train)} training images {x_train.shape[1:]}, {len(x_test)} test images"
        + ("" if extra is None else f", {len(extra)} more without labels")
    )
    _say("[2/5] Pretraining")
    config, pretrained = _pretrain(options, pool, "all classes" if extra is None else "all classes and unlabeled/")
    # Each figure is closed once saved: pyplot keeps every figure it made open, run after run.
    plt.close(
        plots.plot_history(
            pretrained.history, title="Autoencoder pretraining (MSE)", path=os.path.join(out, "pretrain_loss.png")
        )
    )
    shown = x_test[:10]
    plt.close(
        plots.plot_reconstructions(
            shown, pretrained.autoencoder.predict(shown, verbose=0), n=10, path=os.path.join(out, "reconstructions.png")
        )
    )
    reconstruction_mse = float(np.mean((pretrained.autoencoder.predict(x_test[:2000], verbose=0) - x_test[:2000]) ** 2))

    _say("[3/5] Extracting and freezing the encoder, a new head on top:")
    num_classes = int(y_train.max()) + 1
    _say(str(trainable_report(build_classifier(freeze(extract_encoder(pretrained.autoencoder)), num_classes))))

    transfer_config = TransferConfig(max_steps=options.max_steps)
    seeds = tuple(range(options.seed, options.seed + options.num_seeds))
    runs, generative = [], []
    _say(
        f"[4/5] The map: {list(options.settings)}; {list(options.labels_per_class)} labels per class, "
        f"{list(options.strategies)}, {len(seeds)} paired seeds"
    )
    for setting, (train, test) in study["settings"].items():
        autoencoder = pretrained.autoencoder
        if setting == "class_disjoint":
            source, targets = study["split"]
            _say(f"      class_disjoint: autoencoder on classes {list(source)}, classifiers on {list(targets)}")
            x_source, _ = data.split_by_class(x_train, y_train, source)
            autoencoder = _pretrain(options, x_source, f"classes {list(source)}")[1].autoencoder
        runs += label_efficiency(
            autoencoder,
            train,
            test,
            labels_per_class=options.labels_per_class,
            strategies=options.strategies,
            seeds=seeds,
            config=transfer_config,
            validation_size=min(options.validation_size, len(train[1]) // 4),
            extra_unlabeled=extra if setting == "in_domain" else None,
            setting=setting,
        )
    if "generative" in options.settings and study["other"] is not None:
        _say(f"      generative: denoising {options.target} images, fine-tuned from the autoencoder vs from scratch")
        generative = generative_transfer(
            pretrained.autoencoder, *study["other"], seeds=seeds, config=config, fast=options.fast
        )

    _say(f"[5/5] Writing the report to {options.output}/")
    summary = summarize(runs)
    rows = compare_with_scratch(runs)
    generative_row = summarize_generative(generative) if generative else None
    configuration = {
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()},
        "pretrain": config.to_dict(),
        "transfer": transfer_config.to_dict(),
        "backend": keras.backend.backend(),
        "dtype_policy": options.precision,
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "command": command,
        "pretrain_seconds": pretrained.seconds,
        "reconstruction_mse": reconstruction_mse,
    }
    write_results(out, runs, configuration, comparisons=rows, generative=generative)
    in_domain = [r for r in summary if r["setting"] == "in_domain"]
    if in_domain:
        plt.close(
            plots.plot_label_efficiency(
                in_domain, title=f"{name}: in-domain", path=os.path.join(out, "label_efficiency.png")
            )
        )
    plt.close(plots.plot_map(rows, generative_row, path=os.path.join(out, "map.png")))
    report = _report(options, name, summary, rows, generative_row, pretrained, reconstruction_mse, started)
    write_text(os.path.join(out, "report.md"), report)
    _say(comparison_table(rows))
    return rows


def _report(options, name, summary, rows, generative_row, pretrained, reconstruction_mse, started):
    tables = "\n\n".join(
        f"### {setting}\n\n{markdown_table(summary, setting)}"
        for setting in dict.fromkeys(r["setting"] for r in summary)
    )
    chosen = "; ".join(
        f"{setting}: " + ", ".join(f"{n}/class `{s}`" for n, s in recommend(summary, setting).items())
        for setting in dict.fromkeys(r["setting"] for r in summary)
    )
    generative = ""
    if generative_row:
        g = generative_row
        generative = (
            f"\n\n### generative\n\nDenoising {g['images']} {options.target} images: test MSE from scratch "
            f"{g['scratch_mse']:.4f}, fine-tuned from the autoencoder {g['fine_tuned_mse']:.4f}; ratio "
            f"fine-tuned/scratch {g['ratio']:.2f} (95 % CI [{g['low']:.2f}, {g['high']:.2f}]): **{g['verdict']}**."
        )
    return f"""# Where learning from unlabeled images pays off: {name}

Every strategy gets the same labeled images per seed; every training length is chosen by early stopping
on a validation split of {options.validation_size} labeled training images; the test set only reports.
Gains are paired per-seed differences from `scratch` with a 95 % Student-t confidence interval over
{options.num_seeds} seeds; the verdict is read off the interval (`wins`: all of it above 0).

## The map

{comparison_table(rows)}{generative}

![map](map.png)

Chosen on validation (best mean validation accuracy): {chosen or "no classifier was trained"}.

## Test accuracy (mean ± std over seeds)

{tables}

- `scratch`: the encoder's architecture, randomly initialised, trained end to end.
- `frozen`: the pretrained encoder frozen, a linear head on standardised features (a linear probe).
- `fine_tuned`: the head first (encoder frozen), then everything at a lower learning rate.
- `lp_ft`: linear probe first, then everything at a low learning rate (LP-FT).
- `semi_supervised`: cross-entropy on the labels while the network keeps reconstructing the unlabeled
  images, then rounds of class-balanced self-training on them (`tlkeras.semi_supervised`).
- `generative`: the autoencoder fine-tuned to denoise a few images of `--target`, against the same
  network trained on them from scratch for the same steps; the ratio of their test MSEs (below 1: it pays).

Pretraining: {options.pretrain_epochs} epoch(s) on {options.pretrain_images or "all"} unlabeled training images,
{pretrained.seconds:.0f} s ({"reused from the cache" if pretrained.cached else "in this run"}), test reconstruction MSE
{reconstruction_mse:.4f}.

Plots: `map.png`, `label_efficiency.png` (in-domain runs), `pretrain_loss.png`, `reconstructions.png`. Every run is in
`results.json` / `results.csv`. Wall time: {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs,
Keras {keras.__version__} on {keras.backend.backend()}.
"""
