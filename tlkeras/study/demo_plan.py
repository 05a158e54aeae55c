"""What the demo is told, and the plan it makes of it: every option and the data checked before any training.

`DemoOptions` holds every option of `tlkeras demo` (the command line is built from its
fields); `plan` loads the data and checks the options, the label budgets and the
folders, and returns a `StudyPlan`, before anything trains.
"""

import dataclasses
import functools
import os

import numpy as np

from tlkeras import data as datasets
from tlkeras._validation import check_choice, check_choices, check_number, check_seed, fast_mode
from tlkeras.images.folders import COLOR_MODES, load_folder_dataset
from tlkeras.objectives import OBJECTIVES
from tlkeras.pretraining import PretrainConfig
from tlkeras.scaling.precision import POLICIES
from tlkeras.study import clustering  # noqa: F401 (registers its task)
from tlkeras.study.generative import GENERATIVE_STEPS  # (the module registers its task)
from tlkeras.study.label_efficiency import CLASSIFICATION_SETTINGS, FIXED_SCHEDULE
from tlkeras.study.strategies import CUT, CUTS, list_strategies
from tlkeras.study.tasks import TASKS


def list_settings():
    """The settings of the map: the classification ones, then every registered downstream task."""
    return (*CLASSIFICATION_SETTINGS, *TASKS)


def _on_target():
    """The settings that move to `--target`'s images."""
    return ("cross_domain", *(name for name, task in TASKS.items() if task.needs_target))


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


MAX_SEEDS = 10_000


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Everything the demo can be told; the command line is built from these fields (`tlkeras demo --help`)."""

    dataset: str = _option(
        "fashion_mnist",
        "built-in dataset of the study (its training images are also the unlabeled pool)",
        choices=sorted(datasets.DATASETS),
    )
    data: str | None = _option(
        None,
        "your own data instead of --dataset: a .npz file with x_train, y_train, x_test, y_test, or a folder "
        "with train/<class>/, test/<class>/ and optionally unlabeled/ images (tlkeras.images.folders)",
        metavar="FILE.npz|DIR",
    )
    image_size: int | None = _option(
        None, "--data DIR: resize every image to N x N (default: keep their size, which must then be one)", type=int
    )
    color_mode: str = _option("grayscale", "--data DIR: read the images as", choices=tuple(COLOR_MODES))
    target: str | None = _option(
        "digits",
        "dataset of the cross_domain and generative settings ('none' to skip them)",
        choices=[*sorted(datasets.DATASETS), "none"],
    )
    source_classes: tuple | None = _option(
        None,
        "class_disjoint: classes whose images pretrain the autoencoder (default: the first half)",
        nargs="+",
        type=int,
        minimum=0,
        metavar="C",
    )
    target_classes: tuple | None = _option(
        None,
        "class_disjoint: classes the classifiers learn (default: the other half)",
        nargs="+",
        type=int,
        minimum=0,
        metavar="C",
    )
    settings: tuple = _option(
        ("in_domain", "clustering", "generative"),
        "settings of the map to run (docs/benchmarks.md has the time each takes)",
        nargs="+",
        choices=list_settings,  # asked when the parser is built: every registered task
    )
    labels_per_class: tuple = _option((1,), "label budgets to compare", nargs="+", type=int, metavar="N")
    strategies: tuple = _option(
        ("scratch", "neighbourhood", "neighbourhood_pixels"),
        "strategies to compare ('scratch' is the baseline; semi_supervised takes several minutes a run)",
        nargs="+",
        choices=list_strategies,  # asked when the parser is built: every registered strategy
    )
    pretrainings: tuple = _option(
        ("reconstruction",),
        "how the encoder is pretrained (tlkeras.objectives), each a row of every transfer strategy; "
        "'supervised' trains on the source classes' labels, so it runs in class_disjoint only",
        nargs="+",
        choices=tuple(OBJECTIVES),
    )
    cuts: tuple = _option(
        (CUT,),
        "where the transfer strategies (frozen, fine_tuned, lp_ft) cut the encoder, each a row of its own",
        nargs="+",
        choices=tuple(CUTS),
    )
    num_seeds: int = _option(5, f"paired runs per cell, seeds seed..seed+N-1 (at most {MAX_SEEDS:,})", type=int)
    seed: int = _option(0, "first seed; also seeds the pretraining", type=int, minimum=0)
    pretrain_epochs: int = _option(
        PretrainConfig.epochs, "autoencoder epochs (at least; see --pretrain-min-steps)", type=int
    )
    pretrain_min_steps: int = _option(
        1500,
        "the fewest pretraining steps: a small dataset gets more epochs, so that its autoencoder learns more than "
        "the mean image (0: exactly --pretrain-epochs)",
        type=int,
        minimum=0,
    )
    max_images: int | None = _option(None, "pretrain on the first N unlabeled images only (default: all)", type=int)
    max_steps: int = _option(
        FIXED_SCHEDULE.max_steps,
        "training steps per classifier and phase (with --validation-size: the most; early stopping picks)",
        type=int,
    )
    validation_size: int = _option(
        0,
        "labeled training images held out to choose every training length on: a label-rich protocol that spends "
        "labels beyond the budget (0: labels that count, a fixed schedule)",
        type=int,
        minimum=0,
    )
    max_test_images: int | None = _option(None, "evaluate on the first N test images only (default: all)", type=int)
    generative_steps: int = _option(
        GENERATIVE_STEPS, "generative: Adam steps of each arm (scratch, fine-tuned)", type=int
    )
    clustering_images: int = _option(
        5000, "clustering: test images clustered per seed (at most the test set)", type=int
    )
    clustering_fit: str = _option(
        "test",
        "clustering: fit the embedding and the clusters on the clustered test images only ('test'), or on them and "
        "every training image ('all': N2D's protocol, 70,000 images for Fashion-MNIST; minutes of UMAP per seed)",
        choices=("test", "all"),
    )
    output: str = _option(os.path.join("runs", "demo"), "report folder")
    cache_dir: str | None = _option(
        None, "where pretrained autoencoders are cached (default: $TLKERAS_CACHE_DIR or ~/.cache/tlkeras)"
    )
    precision: str = _option(
        "float32", "Keras dtype policy (mixed_bfloat16 measured 1.1x on a 2-core AVX512-BF16 CPU)", choices=POLICIES
    )
    fast: bool | None = _option(None, "a small, quick run for CI (default: TLKERAS_FAST, 1 or 0)")

    def __post_init__(self):
        for name in (
            "labels_per_class",
            "strategies",
            "settings",
            "source_classes",
            "target_classes",
            "pretrainings",
            "cuts",
        ):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        for name in (
            "labels_per_class",
            "num_seeds",
            "pretrain_epochs",
            "max_steps",
            "generative_steps",
            "clustering_images",
        ):
            values = getattr(self, name)
            for value in values if isinstance(values, tuple) else (values,):
                check_number(value, name, 1, integer=True)
        check_number(self.validation_size, "validation_size", 0, integer=True)
        check_number(self.pretrain_min_steps, "pretrain_min_steps", 0, integer=True)
        check_choice(self.clustering_fit, "clustering_fit", ("test", "all"))
        if self.fast is None:
            object.__setattr__(self, "fast", fast_mode())
        for name in ("max_images", "max_test_images", "image_size"):
            if getattr(self, name) is not None:
                check_number(getattr(self, name), name, 1, integer=True)
        check_seed(self.seed)
        # The seeds are drawn as a range: more than MAX_SEEDS is no study a machine finishes, and the last
        # seed must still be a seed.
        check_number(self.num_seeds, "num_seeds", 1, min(MAX_SEEDS, 2**32 - self.seed), integer=True)
        check_choices(self.labels_per_class, "labels_per_class", range(1, 1 << 31))
        check_choices(self.strategies, "strategies", list_strategies())
        check_choices(self.settings, "settings", list_settings())
        check_choices(self.pretrainings, "pretrainings", tuple(OBJECTIVES))
        check_choices(self.cuts, "cuts", tuple(CUTS))
        if "reconstruction" not in self.pretrainings:
            raise ValueError(
                "`pretrainings` must include 'reconstruction', the autoencoder every other part of the map uses. "
                f"Received: pretrainings={self.pretrainings}"
            )
        if "scratch" not in self.strategies:
            raise ValueError(
                f"`strategies` must include 'scratch', the baseline. Received: strategies={self.strategies}"
            )
        for name in ("source_classes", "target_classes"):
            classes = getattr(self, name)
            if classes is not None:
                for c in classes:
                    check_number(c, name, 0, integer=True)
                if len(set(classes)) != len(classes):
                    raise ValueError(f"`--{name.replace('_', '-')}` must not repeat a class. Received: {list(classes)}")
        # cross_domain and generative move to another dataset: none, or the study's own, leaves them nothing to do
        if self.target == "none" or (self.target == self.dataset and self.data is None):
            idle = [s for s in self.settings if s in _on_target()]
            why = "`--target` is 'none'" if self.target == "none" else f"`--target` is `--dataset` ({self.target!r})"
            if "cross_domain" in idle or len(idle) == len(self.settings):
                raise ValueError(
                    f"`--settings` {idle} transfer to another dataset, and {why}: nothing would be compared. "
                    "Pick another `--target`, or drop those settings (in_domain is the transfer within a dataset)."
                )
        data_is_folder = self.data is not None and os.path.isdir(self.data)
        if self.data is not None and not data_is_folder and not str(self.data).lower().endswith(".npz"):
            raise ValueError(
                f"`--data` must be a .npz file (x_train, y_train, x_test, y_test) or a folder of images. "
                f"Received: {self.data!r}"
            )
        if not data_is_folder:
            for name, default in (("image_size", None), ("color_mode", "grayscale")):
                if getattr(self, name) != default:
                    raise ValueError(
                        f"`--{name.replace('_', '-')}` applies to `--data DIR` (a folder of images) only. "
                        f"Received: {name}={getattr(self, name)!r} with data={self.data!r}"
                    )

    def resolved(self):
        """The options with fast mode applied: a small but complete run for CI."""
        if not self.fast:
            return self
        return dataclasses.replace(
            self,
            num_seeds=min(self.num_seeds, 2),
            pretrain_epochs=1,
            pretrain_min_steps=0,
            max_images=min(self.max_images or 4000, 4000),
            max_steps=min(self.max_steps, 40),
            validation_size=min(self.validation_size, 200),
            max_test_images=min(self.max_test_images or 500, 500),
            generative_steps=min(self.generative_steps, 30),
            clustering_images=min(self.clustering_images, 300),
        )


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
    if options.data and os.path.isdir(options.data):
        (x_train, y_train), (x_test, y_test), unlabeled, _ = load_folder_dataset(
            options.data, image_size=options.image_size, color_mode=options.color_mode
        )
    elif options.data:
        (x_train, y_train), (x_test, y_test) = datasets.load_npz(options.data)
    else:
        (x_train, y_train), (x_test, y_test) = datasets.load_dataset(options.dataset)
    factor = 2 ** len(PretrainConfig().filters)
    pad = functools.partial(datasets.pad_to_multiple, multiple=factor)
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
    left = y[~datasets.validation_mask(y, validation_size)] if validation_size else y
    split = f", less its share of the validation split of {validation_size}" if validation_size else ""
    datasets.check_labels_per_class(left, n, f"{what}{split}")


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """What `run_demo` runs, checked before any training.

    Attributes:
        options: the `DemoOptions`, fast mode applied.
        train, test: the study's `(x, y)` pairs.
        extra_unlabeled: the images of a `--data DIR`'s `unlabeled/`, or `None`.
        classification: `{setting: (train, test)}` for each classification setting to run.
        class_split: `(source classes, target classes)` of `class_disjoint`, or `None`.
        target_data: `--target`'s `(train, test)` for `cross_domain` and `generative`, or `None`.
    """

    options: "DemoOptions"
    train: tuple
    test: tuple
    extra_unlabeled: np.ndarray | None
    classification: dict
    class_split: tuple | None
    target_data: tuple | None


def plan(options):
    """Load the data and check every option and the label budgets, before any training.

    Returns:
        A `StudyPlan`.
    """
    options = options.resolved()
    check_output_folder(options.output)
    if options.cache_dir:
        check_output_folder(options.cache_dir, "cache-dir")
        output, cache = (os.path.realpath(p) for p in (options.output, options.cache_dir))
        if cache == output or cache.startswith(output + os.sep):
            raise ValueError(
                f"`--cache-dir` {options.cache_dir!r} lies inside `--output` {options.output!r}, which every run "
                "replaces whole: the cache would be deleted with the old report. Choose a folder outside it."
            )
    train, test, extra_unlabeled = load_study_data(options)
    if options.max_test_images:
        test = (test[0][: options.max_test_images], test[1][: options.max_test_images])
    classes = tuple(int(c) for c in np.unique(train[1]))
    unseen = sorted(set(np.unique(test[1]).tolist()) - set(classes))
    if unseen:
        raise ValueError(f"The test labels hold class(es) {unseen} that the training labels never do.")
    if len(classes) < 2:
        raise ValueError(f"The dataset must have at least 2 classes. Received: {list(classes)}")
    largest = max(options.labels_per_class)
    _check_budget(train[1], largest, min(options.validation_size, len(train[1]) // 4), "the training images")
    classification = {"in_domain": (train, test)} if "in_domain" in options.settings else {}
    class_split = None
    if "class_disjoint" in options.settings:
        class_split = _class_split(options, classes)
        classification["class_disjoint"] = tuple(
            datasets.split_by_class(*pair, class_split[1]) for pair in (train, test)
        )
        y_target = classification["class_disjoint"][0][1]
        _check_budget(y_target, largest, min(options.validation_size, len(y_target) // 4), "the target classes")
    target_data = None
    same = options.target == options.dataset and not options.data  # transfer to itself is in_domain
    if options.target != "none" and not same and set(_on_target()) & set(options.settings):
        target_data = _load_target(options.target, train[0].shape[1:])
        if "cross_domain" in options.settings:
            classification["cross_domain"] = target_data
            y_other = target_data[0][1]
            _check_budget(y_other, largest, min(options.validation_size, len(y_other) // 4), options.target)
    return StudyPlan(options, train, test, extra_unlabeled, classification, class_split, target_data)


def _load_target(name, shape):
    """`--target`'s `(train, test)`, made the study's image shape where that is a resize or a gray-to-RGB copy."""
    (x_other, y_other), (x_other_test, y_other_test) = datasets.load_dataset(name)
    height, width, channels = shape
    if x_other.shape[-1] == 1 and channels == 3:  # a grayscale target for an RGB study: gray RGB images
        x_other, x_other_test = (np.repeat(x, 3, axis=-1) for x in (x_other, x_other_test))
    if x_other.shape[1:] != shape and height == width and x_other.shape[-1] == channels:
        x_other, x_other_test = (datasets.resize_images(x, height) for x in (x_other, x_other_test))
    if x_other.shape[1:] != shape:
        raise ValueError(
            f"`--target` {name} has images of shape {x_other.shape[1:]}, but the study's are "
            f"{shape}: cross-domain transfer needs the same shape."
        )
    return (x_other, y_other), (x_other_test, y_other_test)
