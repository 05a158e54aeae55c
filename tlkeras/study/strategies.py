"""The strategies a study compares, one function each, in one registry.

A strategy turns a pretrained autoencoder and a few labeled images into a
classifier. Each is one short recipe written with the verbs the notebooks teach
(`extract_encoder`, `freeze`, `build_classifier`, `fine_tune`), registered here
under its name with `@register_strategy`, and called with one signature:

    strategy(task, **its own options) -> (classifier, info)

- `task`: a `Task`, what every strategy shares: the pretrained autoencoder, the few
  labeled images, the unlabeled ones, validation data (or `None`: a fixed schedule, no
  label beyond the labeled ones), the classes, the seed, the `Schedule` and the augmentation;
- `info`: `{"steps", "val_accuracy"}` of the weights kept.

The strategies that transfer the pretrained encoder take a `cut` option (`CUTS`): where the
encoder is cut, at its bottleneck or at its last conv block.

Each strategy's own options are its keyword arguments, with their defaults in
its signature and nowhere else. Everything that lists strategies (the command
line, the demo's report, `label_efficiency`) asks this registry, so adding a
strategy is one function in a module of its own and its test (docs/contributing.md). The
course's transfer recipes and their baseline are here; each other recipe's module holds its
algorithm, its registration, its variants and its ablations (`semi_supervised`,
`consistency`, `neighbourhoods`), and the parts they share are `tlkeras.study.parts`.
"""

from tlkeras.study import consistency, neighbourhoods, semi_supervised  # noqa: F401 (each registers its recipes)
from tlkeras.study.parts import (  # noqa: F401 (the recipes' defaults are this module's)
    CUT,
    CUTS,
    FINE_TUNE_LEARNING_RATE,
    HEAD_DROPOUT,
    LEARNING_RATE,
    POOL_IMAGES,
    PROBE_LEARNING_RATE,
    fine_tune_on_schedule,
    pretrained_classifier,
    probe,
    train_new_network,
)
from tlkeras.study.registry import (  # noqa: F401 (the registry's API is this module's)
    DEFAULT_AUGMENT,
    Task,
    ablation_difference,
    check_options,
    describe,
    get_strategy,
    list_ablations,
    list_strategies,
    option_names,
    register_ablation,
    register_strategy,
    register_variant,
    train_strategy,
    unregister_strategy,
)


@register_strategy
def scratch(task, *, learning_rate=LEARNING_RATE, dropout=HEAD_DROPOUT):
    """The encoder's architecture, randomly initialised, trained end to end: the baseline."""
    return train_new_network(task, learning_rate=learning_rate, dropout=dropout)


@register_strategy
def frozen(task, *, cut=CUT, learning_rate=PROBE_LEARNING_RATE, pool_images=POOL_IMAGES):
    """The pretrained encoder frozen, a linear head on standardised features (a linear probe)."""
    classifier = probe(task, cut, pool_images)
    return classifier, fine_tune_on_schedule(task, classifier, learning_rate, None)


@register_strategy
def fine_tuned(
    task,
    *,
    cut=CUT,
    head_learning_rate=LEARNING_RATE,
    fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
    dropout=HEAD_DROPOUT,
):
    """The textbook two phases: a new head on the frozen encoder, then everything at a lower learning rate."""
    classifier = pretrained_classifier(task, cut, normalize="layer", dropout=dropout)
    return classifier, fine_tune_on_schedule(task, classifier, head_learning_rate, fine_tune_learning_rate)


@register_strategy
def lp_ft(
    task,
    *,
    cut=CUT,
    probe_learning_rate=PROBE_LEARNING_RATE,
    fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
    pool_images=POOL_IMAGES,
):
    """Linear probe first, then everything at a low learning rate (LP-FT, Kumar et al., 2022)."""
    classifier = probe(task, cut, pool_images)
    return classifier, fine_tune_on_schedule(task, classifier, probe_learning_rate, fine_tune_learning_rate)
