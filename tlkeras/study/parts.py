"""The parts the study's recipes share: where a pretrained encoder is cut, the heads, training on a schedule.

Each recipe module (`tlkeras.study.strategies`, `semi_supervised`, `consistency`, `neighbourhoods`)
is written with these and the course's verbs; the defaults every recipe uses are here, once.
"""

import numpy as np

from tlkeras._validation import check_choice
from tlkeras.models import build_classifier
from tlkeras.study.schedule import train_on_schedule
from tlkeras.training import compile_classifier
from tlkeras.transfer import LAST_BLOCK, extract_encoder, fine_tune, fresh_copy

# Where a transfer strategy cuts the pretrained encoder: `(extract_encoder's output_layer, the head's pooling)`.
# "bottleneck": the whole encoder, its dense codes; "block": the last conv block's feature map, flattened;
# "block_avg": the same map, averaged over positions.
CUTS = {"bottleneck": ("bottleneck", "flatten"), "block": (LAST_BLOCK, "flatten"), "block_avg": (LAST_BLOCK, "avg")}
CUT = "bottleneck"


def fine_tune_on_schedule(task, classifier, head_learning_rate, fine_tune_rate):
    """`fine_tune` on the task's schedule: both phases in chunks of labeled batches, each one's length chosen by it."""
    schedule = task.schedule
    history = fine_tune(
        classifier,
        schedule.batches(*task.labeled, task.seed),
        None,
        head_epochs=schedule.epochs,
        fine_tune_epochs=schedule.epochs if fine_tune_rate else 0,
        head_learning_rate=head_learning_rate,
        fine_tune_learning_rate=fine_tune_rate or head_learning_rate,
        callbacks=schedule.callbacks(classifier, task.validation_data),
        verbose=0,
    )
    return schedule.outcome(*(h for h in (history.head, history.fine_tune) if h is not None))


def pretrained_classifier(task, cut, **head):
    """A new head on a copy of the pretrained encoder, cut at `cut` (`CUTS`)."""
    output_layer, pooling = CUTS[check_choice(cut, "cut", tuple(CUTS))]
    encoder = extract_encoder(task.autoencoder, output_layer=output_layer)
    return build_classifier(encoder, task.num_classes, pooling=pooling, augment=task.augment, **head)


def probe(task, cut, pool_images):
    """A linear head on the pretrained encoder's features, standardised with unlabeled images' statistics."""
    return pretrained_classifier(task, cut, normalize="standard", reference_images=task.unlabeled[:pool_images])


def train_new_network(task, *, learning_rate, dropout, pseudo=None):
    """The encoder's architecture with new weights under a normalised head, trained on the task's schedule.

    `pseudo`: pseudo-labeled images filling half of each batch.
    """
    encoder = fresh_copy(task.autoencoder.get_layer("encoder"))
    classifier = build_classifier(encoder, task.num_classes, normalize="layer", augment=task.augment, dropout=dropout)
    compile_classifier(classifier, learning_rate)
    batches = task.schedule.batches(*task.labeled, task.seed, pseudo=pseudo)
    return classifier, train_on_schedule(
        classifier, classifier, batches, task.validation_data, task.schedule, hint="lower `learning_rate`"
    )


def network_from(task, start, dropout):
    """The classifier of the recipes that train their encoder: from new weights or the pretrained ones."""
    check_choice(start, "start", ("autoencoder", "random"))
    encoder = fresh_copy(task.autoencoder.get_layer("encoder"), keep_weights=start == "autoencoder")
    return build_classifier(encoder, task.num_classes, normalize="layer", augment=task.augment, dropout=dropout)


# Defaults shared by several recipes, each written once.
LEARNING_RATE = 1e-3  # Adam, for a network trained from the start and for a new head
PROBE_LEARNING_RATE = 1e-2  # a linear head on frozen, standardised features
# Once a pretrained encoder is unfrozen. Above `tlkeras.checks`' 1e-4 for a student's fine-tuning: every
# recipe here trains a fixed 500 steps (batch 32) from one label per class up, where 1e-4 leaves the encoder
# nearly where it started (notebook 04 compares the two).
FINE_TUNE_LEARNING_RATE = 3e-4
HEAD_DROPOUT = 0.3
# How many images of the unlabeled pool a recipe reads: a frozen encoder's feature statistics, the
# neighbourhoods' embedding, consistency's pseudo-labels.
POOL_IMAGES = 10000


def balanced_confident(probabilities, per_class):
    """Indices of the `per_class` rows surest of each class they predict, and those classes.

    Taking the same number per class keeps an early bias towards easy classes
    from growing into a flood of one class (class-balanced self-training).

    Example:
    >>> picked, labels = balanced_confident(np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]), 1)
    >>> picked.tolist(), labels.tolist()
    ([0, 2], [0, 1])
    """
    predicted, confidence = probabilities.argmax(axis=-1), probabilities.max(axis=-1)
    picked = []
    for c in range(probabilities.shape[-1]):
        members = np.flatnonzero(predicted == c)
        picked.append(members[np.argsort(-confidence[members], kind="stable")[:per_class]])
    picked = np.concatenate(picked)
    return picked, predicted[picked]
