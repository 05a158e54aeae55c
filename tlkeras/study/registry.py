"""The registry of strategies: register, list, describe, check options, train by name.

`tlkeras.study.strategies` holds the recipes and is where users import all of this from;
this module holds only the machinery, so that it reads apart from the recipes.
"""

import dataclasses
import inspect

import keras
import numpy as np

from tlkeras._validation import check_choice, check_images, check_labeled, check_model, check_number, check_seed
from tlkeras.models import AUGMENTATIONS
from tlkeras.study.schedule import Schedule, check_schedule

# The keywords under which a training loop (`train_consistency`, `train_semi_supervised`) takes a task's inputs.
_TRAINING_DATA = ("x_labeled", "y_labeled", "x_unlabeled", "validation_data", "schedule", "seed")

# The augmentation every strategy of a study gets, unless the study says otherwise (no flips for digits).
DEFAULT_AUGMENT = ("translate", "flip")


@dataclasses.dataclass(frozen=True)
class Task:
    """What every strategy is given, checked once when it is made: a recipe reads `recipe(task, *, its options)`.

    Attributes:
        autoencoder: the pretrained autoencoder (`encoder` and `decoder` sub-models, however its
            encoder was pretrained: `tlkeras.objectives`); no strategy changes it.
        labeled: `(x, y)`, the few labeled images.
        unlabeled: images without labels (feature statistics; a semi-supervised strategy's pool).
        validation_data: `(x_val, y_val)`, labeled images apart from training and test, to choose
            the length on; `None` for a fixed schedule of `schedule.max_steps` (no label beyond `labeled`).
        num_classes: number of classes, >= 2.
        seed: seed of the batches. Defaults to `0`.
        schedule: the `Schedule` every strategy of a study trains on. Defaults to `Schedule()`.
        augment: the augmentation layers of every classifier (`tlkeras.models.AUGMENTATIONS`).
            Defaults to `DEFAULT_AUGMENT`.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> x = np.zeros((4, 8, 8, 1), "float32")
    >>> task = Task(build_conv_autoencoder((8, 8, 1), filters=(4,), latent_dim=2), (x, [0, 1, 0, 1]), x, None, 2)
    >>> task.labeled[1].dtype.kind, task.schedule.max_steps
    ('i', 500)
    """

    autoencoder: keras.Model
    labeled: tuple
    unlabeled: np.ndarray
    validation_data: tuple | None
    num_classes: int
    seed: int = 0
    schedule: Schedule = Schedule()
    augment: tuple = DEFAULT_AUGMENT

    def __post_init__(self):
        check_model(self.autoencoder, "autoencoder")
        shape = self.autoencoder.input_shape[1:]
        num_classes = check_number(self.num_classes, "num_classes", 2, integer=True)
        checked = {
            "num_classes": num_classes,
            "labeled": check_labeled(self.labeled, "labeled", shape, num_classes),
            "unlabeled": check_images(self.unlabeled, "unlabeled", expected_shape=shape),
            "seed": check_seed(self.seed),
        }
        if self.validation_data is not None:
            checked["validation_data"] = check_labeled(self.validation_data, "validation_data", shape, num_classes)
        check_schedule(self.schedule)
        if isinstance(self.augment, str) or not all(a in AUGMENTATIONS for a in self.augment):
            raise ValueError(
                f"`augment` must be a tuple drawn from {AUGMENTATIONS}. Received: augment={self.augment!r}"
            )
        checked["augment"] = tuple(self.augment)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def training_data(self):
        """The inputs a training loop reads, as keywords: the labeled images, the pool, validation, schedule, seed."""
        return dict(
            zip(
                _TRAINING_DATA,
                (*self.labeled, self.unlabeled, self.validation_data, self.schedule, self.seed),
                strict=True,
            )
        )


_REGISTRY = {}
_ABLATIONS = {}  # (strategy, its ablation) -> the part the ablation removes
_DIFFERENCES = {}  # (strategy, its ablation) -> the one thing the pair differs in


def register_strategy(function=None, *, name=None, forwards_to=None):
    """Register `function` as a strategy under `name` (default: the function's name).

    Used as `@register_strategy`, `@register_strategy("my_recipe")` or
    `@register_strategy(name=..., forwards_to=...)`.
    `forwards_to` names the function that the strategy's `**options` are passed to,
    so that their names are checked before any training.

    Example:
    >>> @register_strategy(name="doc_example")
    ... def doc_example(task, *, learning_rate=1e-3):
    ...     '''An example: never used.'''
    >>> "doc_example" in list_strategies()
    True
    >>> unregister_strategy("doc_example")
    """

    def register(function):
        key = name or function.__name__
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"A strategy's `name` must be an identifier. Received: name={key!r}")
        if key in _REGISTRY:
            raise ValueError(f"A strategy named {key!r} is already registered; unregister_strategy({key!r}) first.")
        function.forwards_to = forwards_to
        _REGISTRY[key] = function
        return function

    if isinstance(function, str):  # @register_strategy("my_recipe")
        if name is not None:
            raise ValueError(f"Name a strategy once. Received: {function!r} and name={name!r}")
        function, name = None, function
    if function is not None and not callable(function):
        raise ValueError(
            "`register_strategy` registers a function: use it as @register_strategy, "
            f'@register_strategy("name") or @register_strategy(name="name"). Received: {function!r}'
        )
    return register if function is None else register(function)


def unregister_strategy(name):
    """Remove a strategy from the registry (a test's, or one you replace), and the ablations that name it."""
    _REGISTRY.pop(check_choice(name, "name", tuple(_REGISTRY)))
    for pair in [pair for pair in _ABLATIONS if name in pair]:
        del _ABLATIONS[pair], _DIFFERENCES[pair]


# What an ablation may differ in from its strategy, one of these and nothing else:
# - `losses`: which losses count (a loss weighted 0 removes it and the inputs that feed only it);
# - `start`: the weights training starts from (the pretrained encoder or new ones);
# - `steps`: how many gradient steps;
# - `augmentation`: the augmentation layers of the trained model;
# - `features`: the vectors a recipe computes before training (codes or pixels), an option.
# The first four are measured while both members train (tests/test_ablations.py).
ABLATION_DIFFERENCES = ("losses", "start", "steps", "augmentation", "features")


def register_ablation(strategy, ablation, removes, differs_in):
    """Declare strategy `ablation` to be `strategy` with one part, `removes`, taken out.

    A study that runs both pairs them per seed (`tlkeras.study.statistics.compare_ablations`): the
    difference is what that part adds, the only part a win can be credited to. `differs_in`
    names the one thing the pair differs in (`ABLATION_DIFFERENCES`); the test suite trains both
    members and checks that they differ in it and in nothing else.

    Example:
    >>> import tlkeras.study.strategies  # the recipes and their ablations
    >>> ("neighbourhood", "neighbourhood_pixels") in [(s, a) for s, a, _ in list_ablations()]
    True
    >>> ablation_difference("neighbourhood", "neighbourhood_pixels")
    'features'
    """
    for name in (strategy, ablation):
        get_strategy(name)
    if strategy == ablation or not isinstance(removes, str) or not removes:
        raise ValueError(
            "An ablation pairs two strategies and names the part it removes. "
            f"Received: strategy={strategy!r}, ablation={ablation!r}, removes={removes!r}"
        )
    check_choice(differs_in, "differs_in", ABLATION_DIFFERENCES)
    _ABLATIONS[strategy, ablation] = removes
    _DIFFERENCES[strategy, ablation] = differs_in


def ablation_difference(strategy, ablation):
    """The one thing a declared ablation pair differs in (`register_ablation`)."""
    return _DIFFERENCES[check_choice((strategy, ablation), "(strategy, ablation)", tuple(_DIFFERENCES))]


def list_ablations():
    """The declared ablations, as `(strategy, ablation, the part it removes)` triples."""
    return tuple((strategy, ablation, removes) for (strategy, ablation), removes in _ABLATIONS.items())


def list_strategies():
    """The registered strategies' names: the baseline, `scratch`, first, then in the order they were registered."""
    return tuple(sorted(_REGISTRY, key=lambda name: name != "scratch"))


def get_strategy(name):
    """The function registered as `name`; an unknown name is a `ValueError` that lists the others."""
    return _REGISTRY[check_choice(name, "strategy", tuple(_REGISTRY))]


def describe(name):
    """The first line of the strategy's docstring: what the reports and `--help` say about it."""
    return (inspect.getdoc(get_strategy(name)) or name).splitlines()[0]


def check_options(name, options):
    """Refuse option names strategy `name` does not take, before any training; return the options as a dict."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValueError(f"The options of strategy {name!r} must be a dict. Received: {options!r}")
    own = option_names(name)
    unknown = sorted(set(options) - own)
    if unknown:
        raise ValueError(
            f"Strategy {name!r} takes no option(s) {unknown}; its options are {sorted(own) or 'none'}. "
            f"Received: {options!r}"
        )
    return dict(options)


def option_names(name):
    """The names of strategy `name`'s own options (its keywords, and those of the function it forwards to).

    A function it forwards to gets the task's inputs from the strategy (`Task.training_data`, and
    its required arguments, the networks): those are not options.
    """
    own, fixed, target, passed = set(), set(), get_strategy(name), set()
    while target is not None:  # the strategy, then each function its options are forwarded to
        own |= {
            p.name
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in passed
            if not (passed and p.default is p.empty)
        }
        fixed |= set(getattr(target, "fixed", {}))
        target, passed = getattr(target, "forwards_to", None), set(_TRAINING_DATA)
    return own - {"task"} - fixed


def register_variant(name, base, doc, **fixed):
    """Register strategy `base` with some of its options fixed, as strategy `name` (an ablation, say).

    Example:
    >>> def base(task, *, learning_rate=1e-3, dropout=0.3):
    ...     "A base recipe."
    >>> _ = register_variant("doc_variant", base, "Base without dropout.", dropout=0.0)
    >>> describe("doc_variant"), check_options("doc_variant", {"learning_rate": 1e-4})
    ('Base without dropout.', {'learning_rate': 0.0001})
    >>> unregister_strategy("doc_variant")
    """

    def variant(task, **options):
        return base(task, **{**options, **fixed})

    variant.__name__ = variant.__qualname__ = name
    variant.__doc__ = doc
    variant.fixed = dict(fixed)
    return register_strategy(variant, name=name, forwards_to=base)


def train_strategy(name, task, **options):
    """Build and train the classifier of strategy `name` (see `list_strategies()`) on `task`, its options checked first.

    Args:
        name: a registered strategy.
        task: a `Task`: the autoencoder, labeled and unlabeled images, validation data, classes,
            seed, schedule and augmentation.
        **options: the strategy's own options (`check_options`).

    Returns:
        `(classifier, info)`, info `{"steps", "val_accuracy"}` of the weights kept.
    """
    function = get_strategy(name)
    options = check_options(name, options)
    if not isinstance(task, Task):
        raise ValueError(f"`task` must be a tlkeras.study.strategies.Task. Received: {type(task).__name__}")
    return function(task, **options)
