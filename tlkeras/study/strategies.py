"""The strategies a study compares, one function each, in one registry.

A strategy turns a pretrained autoencoder and a few labeled images into a
classifier. Each is one short recipe written with the verbs the notebooks teach
(`extract_encoder`, `freeze`, `build_classifier`, `fine_tune`), registered here
under its name with `@register_strategy`, and called with one signature:

    strategy(autoencoder, labeled, unlabeled, validation_data, num_classes, *,
             seed, schedule, augment, **its own options) -> (classifier, info)

- `labeled`: `(x, y)`, the few labeled images; `unlabeled`: images without labels;
- `validation_data`: `(x_val, y_val)` to choose the training length on, or `None`
  for a fixed schedule (then no label beyond `labeled` is used);
- `schedule`: a `tlkeras.training.Schedule`, the same for every strategy of a study;
- `augment`: the augmentation layers every strategy's classifier gets (`build_classifier`);
- `info`: `{"steps", "val_accuracy"}` of the weights kept.

Each strategy's own options are its keyword arguments, with their defaults in
its signature and nowhere else. Everything that lists strategies (the command
line, the demo's report, `label_efficiency`) asks this registry, so adding a
strategy is one function here (or in your own module) and its test.
"""

import functools

from tlkeras._validation import check_choice
from tlkeras.models import build_classifier
from tlkeras.study.consistency import train_consistency
from tlkeras.study.registry import (  # noqa: F401 (the registry's API is this module's)
    DEFAULT_AUGMENT,
    ablation_difference,
    check_options,
    describe,
    get_strategy,
    list_ablations,
    list_strategies,
    register_ablation,
    register_strategy,
    register_variant,
    train_strategy,
    unregister_strategy,
)
from tlkeras.study.schedule import train_on_schedule
from tlkeras.study.semi_supervised import train_semi_supervised
from tlkeras.training import compile_classifier
from tlkeras.transfer import extract_encoder, fine_tune, fresh_copy


def _fine_tune_on_schedule(classifier, labeled, validation_data, schedule, seed, head_learning_rate, fine_tune_rate):
    """`fine_tune` on `schedule`: both phases in chunks of labeled batches, each phase's length chosen by it."""
    history = fine_tune(
        classifier,
        schedule.batches(*labeled, seed),
        None,
        head_epochs=schedule.epochs,
        fine_tune_epochs=schedule.epochs if fine_tune_rate else 0,
        head_learning_rate=head_learning_rate,
        fine_tune_learning_rate=fine_tune_rate or head_learning_rate,
        callbacks=schedule.callbacks(classifier, validation_data),
        verbose=0,
    )
    return schedule.outcome(*(h for h in (history.head, history.fine_tune) if h is not None))


def _classifier(encoder, num_classes, augment, dropout):
    """The head of the recipes that train their encoder: LayerNormalization, dropout, softmax."""
    return build_classifier(encoder, num_classes, normalize="layer", augment=augment, dropout=dropout)


def _probe(autoencoder, unlabeled, num_classes, augment, reference_images):
    """A linear head on the pretrained encoder's features, standardised with unlabeled images' statistics."""
    return build_classifier(
        extract_encoder(autoencoder),
        num_classes,
        normalize="standard",
        reference_images=unlabeled[:reference_images],
        augment=augment,
    )


def _train_new_network(
    autoencoder,
    labeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    learning_rate,
    dropout,
    pseudo=None,
):
    """The encoder's architecture with new weights under `_classifier`, trained on `schedule`.

    `pseudo`: pseudo-labeled images filling half of each batch.
    """
    classifier = _classifier(fresh_copy(autoencoder.get_layer("encoder")), num_classes, augment, dropout)
    compile_classifier(classifier, learning_rate)
    batches = schedule.batches(*labeled, seed, pseudo=pseudo)
    return classifier, train_on_schedule(
        classifier, classifier, batches, validation_data, schedule, hint="lower `learning_rate`"
    )


# Defaults shared by several recipes, each written once.
LEARNING_RATE = 1e-3  # Adam, for a network trained from the start and for a new head
PROBE_LEARNING_RATE = 1e-2  # a linear head on frozen, standardised features
FINE_TUNE_LEARNING_RATE = 3e-4  # once a pretrained encoder is unfrozen
HEAD_DROPOUT = 0.3
REFERENCE_IMAGES = 10000  # unlabeled images whose feature statistics standardise a frozen encoder


@register_strategy
def scratch(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    learning_rate=LEARNING_RATE,
    dropout=HEAD_DROPOUT,
):
    """The encoder's architecture, randomly initialised, trained end to end: the baseline."""
    return _train_new_network(
        autoencoder,
        labeled,
        validation_data,
        num_classes,
        seed=seed,
        schedule=schedule,
        augment=augment,
        learning_rate=learning_rate,
        dropout=dropout,
    )


@register_strategy
def frozen(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    learning_rate=PROBE_LEARNING_RATE,
    reference_images=REFERENCE_IMAGES,
):
    """The pretrained encoder frozen, a linear head on standardised features (a linear probe)."""
    classifier = _probe(autoencoder, unlabeled, num_classes, augment, reference_images)
    return classifier, _fine_tune_on_schedule(classifier, labeled, validation_data, schedule, seed, learning_rate, None)


@register_strategy
def fine_tuned(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    head_learning_rate=LEARNING_RATE,
    fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
    dropout=HEAD_DROPOUT,
):
    """The textbook two phases: a new head on the frozen encoder, then everything at a lower learning rate."""
    classifier = _classifier(extract_encoder(autoencoder), num_classes, augment, dropout)
    outcome = _fine_tune_on_schedule(
        classifier, labeled, validation_data, schedule, seed, head_learning_rate, fine_tune_learning_rate
    )
    return classifier, outcome


@register_strategy
def lp_ft(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    probe_learning_rate=PROBE_LEARNING_RATE,
    fine_tune_learning_rate=FINE_TUNE_LEARNING_RATE,
    reference_images=REFERENCE_IMAGES,
):
    """Linear probe first, then everything at a low learning rate (LP-FT, Kumar et al., 2022)."""
    classifier = _probe(autoencoder, unlabeled, num_classes, augment, reference_images)
    outcome = _fine_tune_on_schedule(
        classifier, labeled, validation_data, schedule, seed, probe_learning_rate, fine_tune_learning_rate
    )
    return classifier, outcome


@register_strategy(forwards_to=train_semi_supervised)
def semi_supervised(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    start="random",
    dropout=HEAD_DROPOUT,
    **options,
):
    """Cross-entropy on the labels while the network keeps reconstructing the unlabeled images, then self-training.

    `start` is `"random"` (the autoencoder's architecture, new weights) or `"autoencoder"`
    (its pretrained encoder and decoder); the other options go to
    `tlkeras.study.semi_supervised.train_semi_supervised`, whose defaults they keep.
    """
    check_choice(start, "start", ("autoencoder", "random"))
    copy = functools.partial(fresh_copy, keep_weights=start == "autoencoder")
    encoder, decoder = (copy(autoencoder.get_layer(part)) for part in ("encoder", "decoder"))
    classifier = _classifier(encoder, num_classes, augment, dropout)
    outcome = train_semi_supervised(
        classifier, decoder, *labeled, unlabeled, validation_data, schedule=schedule, seed=seed, **options
    )
    return classifier, outcome


@register_strategy
def neighbourhood(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    features="autoencoder+umap",
    pool_images=10000,
    pseudo_label_share=0.5,
    learning_rate=LEARNING_RATE,
    dropout=HEAD_DROPOUT,
):
    """Labels spread through the autoencoder's neighbourhoods (UMAP of its codes), then a CNN on the surest ones.

    The labeled and `pool_images` unlabeled images are embedded together (`features`, as in
    `tlkeras.study.clustering.embed`: `"autoencoder+umap"`, or `"pixels+umap"` for the ablation
    without the autoencoder); a logistic regression on the labeled points labels the pool;
    the surest `pseudo_label_share` of the pool, the same number per class, is added to the
    labeled images (half of each batch from each), and the encoder's architecture with new
    weights (as `scratch`) trains on them.
    """
    from tlkeras.study.neighbourhoods import neighbourhood_pseudo_labels

    pseudo = neighbourhood_pseudo_labels(
        autoencoder, labeled, unlabeled, num_classes, features, pool_images, pseudo_label_share, seed
    )
    classifier, outcome = _train_new_network(
        autoencoder,
        labeled,
        validation_data,
        num_classes,
        seed=seed,
        schedule=schedule,
        augment=augment,
        learning_rate=learning_rate,
        dropout=dropout,
        pseudo=pseudo,
    )
    return classifier, {**outcome, "pseudo_labels": int(len(pseudo[1]))}


@register_strategy(forwards_to=train_consistency)
def consistency(
    autoencoder,
    labeled,
    unlabeled,
    validation_data,
    num_classes,
    *,
    seed,
    schedule,
    augment,
    start="random",
    dropout=HEAD_DROPOUT,
    **options,
):
    """FixMatch-style consistency: an EMA teacher's sure, class-balanced labels learned under strong augmentation.

    `start`: `"random"` (the autoencoder's architecture, new weights) or `"autoencoder"` (its
    pretrained encoder); the other options go to `tlkeras.study.consistency.train_consistency`.
    Its ablation `consistency_labels_only` trains the same network on the same batches with the
    pseudo-labels' loss weighted 0: the unlabeled images removed, nothing else.
    """
    check_choice(start, "start", ("autoencoder", "random"))
    encoder = fresh_copy(autoencoder.get_layer("encoder"), keep_weights=start == "autoencoder")
    classifier = _classifier(encoder, num_classes, augment, dropout)
    outcome = train_consistency(
        classifier, *labeled, unlabeled, validation_data, schedule=schedule, seed=seed, **options
    )
    return classifier, outcome


# Ablations: each recipe that wins, with one of its parts removed, under a name of its own.
register_variant(
    "neighbourhood_pixels",
    neighbourhood,
    "`neighbourhood` without the autoencoder (UMAP of PCA of the pixels): what the codes add is the difference.",
    features="pixels+umap",
)
register_variant(
    "semi_supervised_from_autoencoder",
    semi_supervised,
    "`semi_supervised` started from the pretrained encoder and decoder instead of new weights.",
    start="autoencoder",
)
register_variant(
    "reconstruction_only",
    semi_supervised,
    "`semi_supervised` without self-training: the same rounds and steps, the pseudo-labels' loss weighted 0.",
    pseudo_label_weight=0.0,
)
register_variant(
    "self_training_only",
    semi_supervised,
    "`semi_supervised` without reconstruction: the same rounds and steps, the reconstruction loss weighted 0.",
    reconstruction_weight=0.0,
)
register_variant(
    "consistency_labels_only",
    consistency,
    "`consistency` without the unlabeled images: the same network, batches and steps, the pseudo-labels weighted 0.",
    pseudo_label_weight=0.0,
)

# Which strategy is which one's ablation, what it takes out, and the one thing the pair differs in
# (tests/test_ablations.py trains both members and checks it).
register_ablation("neighbourhood", "neighbourhood_pixels", "the autoencoder's codes", differs_in="features")
register_ablation("semi_supervised", "reconstruction_only", "self-training", differs_in="losses")
register_ablation("semi_supervised", "self_training_only", "the reconstruction loss", differs_in="losses")
register_ablation("semi_supervised_from_autoencoder", "semi_supervised", "the pretrained start", differs_in="start")
register_ablation("consistency", "consistency_labels_only", "the unlabeled images", differs_in="losses")
