"""The label-efficiency study: every strategy on the same few labels, per budget and seed, scored on the test set.

`label_efficiency` draws, per label budget and seed, the same labeled images for
every strategy (`tlkeras.study.strategies`), so that the runs of one seed are *paired*,
and the test set only reports.

Labels count wherever they are used. By default a run at N labels per class uses
those N labels and no other: every strategy trains on a fixed `Schedule` written
down in advance (`FIXED_SCHEDULE`), and nothing is chosen on held-out labels. With
`validation_size=V`, V more labeled training images are held out and every
training length is chosen on them by early stopping: V labels more than the budget
says: a label-rich protocol, not an upper bound of what the budget buys (lengths chosen on
more labels need not be better lengths; Oliver et al.,
"Realistic Evaluation of Deep Semi-Supervised Learning Algorithms", NeurIPS 2018).
`protocol` describes which one a run followed. `tlkeras.study.statistics` turns the runs
into paired comparisons, `tlkeras.study.reports` into tables and files.
"""

import time

import keras
import numpy as np

from tlkeras import data
from tlkeras._validation import (
    check_choice,
    check_images,
    check_labels,
    check_number,
    check_pair,
    check_seeds,
)
from tlkeras.images import streaming
from tlkeras.study.schedule import Schedule, check_schedule
from tlkeras.study.strategies import (
    CUT,
    CUTS,
    DEFAULT_AUGMENT,
    POOL_IMAGES,
    Task,
    check_options,
    describe,
    get_strategy,
    option_names,
    train_strategy,
)
from tlkeras.training import accuracy_of

# The classification settings of the map; `tlkeras.study.demo_plan.list_settings` adds the registered tasks.
CLASSIFICATION_SETTINGS = ("in_domain", "class_disjoint", "cross_domain")
# The schedule of the default protocol, fixed before the runs it is used in (`Schedule`'s defaults).
FIXED_SCHEDULE = Schedule()


DEFAULT_PRETRAINING = "reconstruction"


def arm_name(strategy, pretraining=DEFAULT_PRETRAINING, cut=None):
    """The name a run's row goes by: the strategy, then `@pretraining` and `/cut` where they are not the defaults.

    Example:
    >>> arm_name("lp_ft"), arm_name("lp_ft", "supervised", "block"), arm_name("scratch", cut=None)
    ('lp_ft', 'lp_ft@supervised/block', 'scratch')
    """
    name = strategy if pretraining == DEFAULT_PRETRAINING else f"{strategy}@{pretraining}"
    return name if cut in (None, CUT) else f"{name}/{cut}"


def describe_arm(name):
    """What a row does: its strategy's description, and its pretraining and cut where they are not the defaults."""
    rest, _, cut = name.partition("/")
    strategy, _, pretraining = rest.partition("@")
    said = describe(strategy)
    if pretraining:
        said += f" Encoder pretrained by `{pretraining}` (tlkeras.objectives), not reconstruction."
    if cut:
        said += f" Cut at `{cut}` ({CUTS[cut][0]}, {CUTS[cut][1]}), not the {CUT}."
    return said


def strategy_glossary(strategies):
    """A Markdown list saying what each strategy does, from its registered docstring."""
    return "\n".join(f"- `{name}`: {describe_arm(name)}" for name in strategies)


def protocol(validation_size, schedule):
    """What a study spent labels on: `{"labels_for_choices", "lengths", "schedule"}` (recorded in `results.json`).

    Example:
    >>> protocol(0, FIXED_SCHEDULE)["lengths"]
    'fixed: 500 steps per phase'
    """
    if validation_size:
        lengths = f"label-rich: early stopping on {validation_size} validation labels beyond the budget"
    else:
        lengths = f"fixed: {schedule.max_steps} steps per phase"
    return {"labels_for_choices": int(validation_size or 0), "lengths": lengths, "schedule": schedule.to_dict()}


def label_efficiency(
    autoencoder,
    train,
    test,
    labels_per_class=(1, 10),
    strategies=("scratch", "lp_ft", "semi_supervised"),
    seeds=(0, 1, 2, 3, 4),
    schedule=FIXED_SCHEDULE,
    augment=DEFAULT_AUGMENT,
    strategy_options=None,
    validation_size=0,
    unlabeled=None,
    pool_images=POOL_IMAGES,
    num_classes=None,
    setting="in_domain",
    progress=True,
    extra_unlabeled=None,
    cuts=None,
):
    """Test accuracy of each strategy for each label budget and seed, no labels spent beyond the budget by default.

    For each budget and seed, `sample_per_class` draws the labeled images, and
    every strategy trains on exactly those: the runs of one seed are *paired*.
    With `validation_size`, a stratified validation split of that many images is
    carved off the training images first (the same for every run) and every
    training length is chosen on it (a label-rich protocol: see the module's docstring).

    Args:
        autoencoder: the pretrained autoencoder, or `{objective name: autoencoder}`, the same
            architecture pretrained in several ways (`tlkeras.objectives`): each strategy that
            transfers the encoder (those with a `cut` option) runs on each, the others on the first.
        train: `(x_train, y_train)`; labeled images are drawn from it.
        test: `(x_test, y_test)`, evaluated once per run, never used to choose.
        labels_per_class: the label budgets. Defaults to `(1, 10)`.
        strategies: registered strategy names (`tlkeras.study.strategies.list_strategies()`).
            Defaults to scratch, LP-FT and semi-supervised.
        seeds: one run per seed, distinct integers. Defaults to `(0, 1, 2, 3, 4)`.
        schedule: the `Schedule` every strategy trains on. Defaults to `FIXED_SCHEDULE`.
        augment: the augmentation every strategy's classifier gets. Defaults to `DEFAULT_AUGMENT`.
        strategy_options: `{strategy name: {option: value}}`, options of single strategies
            (checked before any training). Defaults to `None`.
        validation_size: labeled images held out to choose every training length on (more
            labels than the budget: a label-rich protocol); `0` spends none. Defaults to `0`.
        unlabeled: the unlabeled pool, an array or a stream (`tlkeras.images.streaming`;
            its first `pool_images` images are read into memory, the pool the
            strategies draw from); `None` uses the training images (less the
            validation split, if any). Defaults to `None`.
        pool_images: images read from a stream of unlabeled images. Defaults to `POOL_IMAGES` (10,000).
        num_classes: number of classes; `None` takes it from `y_train`. Test
            labels outside it are an error. Defaults to `None`.
        setting: recorded in each run: one of `CLASSIFICATION_SETTINGS`. Defaults to `"in_domain"`.
        progress: show a tqdm progress bar. Defaults to `True`.
        extra_unlabeled: more unlabeled images, added to the pool (say, a folder's
            `unlabeled/`), an array or a stream (read as `unlabeled` is). Defaults to `None`.
        cuts: where the strategies with a `cut` option cut the encoder, each of `CUTS` a run of
            its own; `None` keeps each strategy's option (default `CUT`). Defaults to `None`.

    Returns:
        A list of run records `{"setting", "strategy", "pretraining", "cut", "labels_per_class",
        "seed", "accuracy", "val_accuracy", "steps", "seconds", "validation_labels"}`, accuracies
        as fractions; `strategy` is the row's `arm_name`; `cut` is `None` for a strategy without
        one; `val_accuracy` is `None` when no validation labels were used.
    """
    pretrained = autoencoder if isinstance(autoencoder, dict) else {DEFAULT_PRETRAINING: autoencoder}
    if not pretrained:
        raise ValueError("`autoencoder` must be a model or a non-empty {objective: model} dict. Received: {}")
    autoencoder = next(iter(pretrained.values()))
    x_train, y_train = check_pair(train, "train")
    x_test, y_test = check_pair(test, "test")
    x_train = check_images(x_train, "train[0]", expected_shape=autoencoder.input_shape[1:])
    y_train = check_labels(y_train, "train[1]", length=len(x_train))
    x_test = check_images(x_test, "test[0]", expected_shape=x_train.shape[1:])
    num_classes = (
        int(y_train.max()) + 1 if num_classes is None else check_number(num_classes, "num_classes", 2, integer=True)
    )
    y_test = check_labels(y_test, "test[1]", num_classes=num_classes, length=len(x_test))
    if isinstance(strategies, str) or not strategies:
        raise ValueError(f"`strategies` must be a non-empty tuple of names. Received: strategies={strategies!r}")
    for name in strategies:
        get_strategy(name)
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"`strategies` must not repeat a strategy. Received: strategies={strategies!r}")
    strategy_options = strategy_options or {}
    if not isinstance(strategy_options, dict) or set(strategy_options) - set(strategies):
        raise ValueError(
            "`strategy_options` must map strategies of `strategies` to their options. "
            f"Received: strategy_options={strategy_options!r}"
        )
    strategy_options = {name: check_options(name, options) for name, options in strategy_options.items()}
    if cuts is not None:
        if isinstance(cuts, str) or not cuts or len(set(cuts)) != len(cuts):
            raise ValueError(f"`cuts` must be a non-empty tuple of distinct cuts of {tuple(CUTS)}. Received: {cuts!r}")
        for cut in cuts:
            check_choice(cut, "cuts", tuple(CUTS))
    arms = []  # (row name, strategy, pretraining, its options)
    for name in strategies:
        if "cut" not in option_names(name):
            arms.append((name, name, next(iter(pretrained)), strategy_options.get(name, {})))
            continue
        for objective in pretrained:
            for cut in cuts or (strategy_options.get(name, {}).get("cut", CUT),):
                arms.append(
                    (arm_name(name, objective, cut), name, objective, {**strategy_options.get(name, {}), "cut": cut})
                )
    check_schedule(schedule)
    pool_images = check_number(pool_images, "pool_images", 1, integer=True)
    seeds = check_seeds(seeds)
    if isinstance(labels_per_class, (int, np.integer)) or not labels_per_class:
        raise ValueError(f"`labels_per_class` must be a non-empty tuple. Received: {labels_per_class!r}")
    budgets = tuple(check_number(n, "labels_per_class", 1, integer=True) for n in labels_per_class)
    if len(set(budgets)) != len(budgets):
        raise ValueError(f"`labels_per_class` must not repeat a budget. Received: {labels_per_class}")
    check_choice(setting, "setting", CLASSIFICATION_SETTINGS)
    validation_size = check_number(validation_size or 0, "validation_size", 0, len(x_train) - 1, integer=True)
    if validation_size:
        (x_pool, y_pool), validation_data = data.validation_split(x_train, y_train, validation_size)
    else:
        (x_pool, y_pool), validation_data = (x_train, y_train), None
    data.check_labels_per_class(y_pool, max(budgets), "the training images")  # before any training

    def pool(images, name):
        if streaming.is_stream(images):
            images = streaming.take_images(images, pool_images, name)
        return check_images(images, name, expected_shape=x_train.shape[1:])

    unlabeled = x_pool if unlabeled is None else pool(unlabeled, "unlabeled")
    if extra_unlabeled is not None:
        unlabeled = np.concatenate([unlabeled, pool(extra_unlabeled, "extra_unlabeled")])
    unlabeled = unlabeled[np.random.default_rng(0).permutation(len(unlabeled))]
    jobs = [(n, seed, arm) for n in budgets for seed in seeds for arm in arms]
    from tqdm.auto import tqdm

    runs = []
    for n, seed, (arm, strategy, objective, options) in tqdm(
        jobs, desc=f"label-efficiency study ({setting})", disable=not progress
    ):
        labeled = data.sample_per_class(x_pool, y_pool, n, seed=seed)
        task = Task(pretrained[objective], labeled, unlabeled, validation_data, num_classes, seed, schedule, augment)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        model, info = train_strategy(strategy, task, **options)
        accuracy = accuracy_of(model, x_test, y_test)
        runs.append(
            {
                "setting": setting,
                "strategy": arm,
                "pretraining": objective,
                "cut": options.get("cut"),
                "labels_per_class": int(n),
                "seed": int(seed),
                "accuracy": float(accuracy),
                "val_accuracy": info["val_accuracy"],
                "steps": info["steps"],
                "seconds": time.perf_counter() - start,
                "validation_labels": validation_size,
            }
        )
    return runs
