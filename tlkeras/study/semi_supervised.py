"""Semi-supervised learning: keep learning from the unlabeled images while learning from the labels.

Pretraining then fine-tuning uses the unlabeled images once, before the labels
are seen; the features it finds are tuned to reconstruction, not to the
classes, and on Fashion-MNIST they do not beat a good scratch CNN. The recipe
here uses them *all the time*: one shared encoder, up to four losses.

- `labels`: cross-entropy of the classifier on a batch of (augmented) labeled images;
- `reconstruction`: the denoising autoencoder's MSE on a batch of unlabeled images
  (noisy input, clean target), so the encoder keeps describing every image;
- `consistency`: the Π-model term (Laine & Aila, 2017; a simple relative of the
  ladder network's Γ-model, Rasmus et al., 2015): two stochastic passes
  (augmentation, dropout) of the same unlabeled images through the classifier
  must give the same class probabilities, so the decision boundary moves into
  the gaps between the clusters of unlabeled images;
- `pseudo_labels` (self-training, rounds after the first training): the unlabeled
  images the classifier is surest of, the same number per class, join the
  labeled ones with the predicted class as their label.

The loss is `CE + reconstruction_weight * MSE + consistency_weight * ||p1 - p2||^2 / K
(+ pseudo_label_weight * CE on pseudo labels)`. The defaults are the variant chosen on a
validation split of Fashion-MNIST (`docs/benchmarks.md`): reconstruction and three rounds
of self-training, no consistency term (with one label per class it makes the network agree
with its own early mistakes).

Only built-in layers are used, so it trains with plain `fit` on TensorFlow,
JAX and PyTorch.
"""

import math

import keras
import numpy as np
from keras import layers

from tlkeras._validation import (
    check_images,
    check_labeled,
    check_labels,
    check_model,
    check_number,
    check_seed,
    check_submodel,
)
from tlkeras.study.parts import HEAD_DROPOUT, balanced_confident, network_from
from tlkeras.study.registry import register_ablation, register_strategy, register_variant
from tlkeras.study.schedule import Schedule, check_schedule, train_on_schedule
from tlkeras.training import compile_model
from tlkeras.transfer import fresh_copy


def build_semi_supervised_model(
    classifier, decoder, encoder_name="encoder", noise_stddev=0.2, pseudo_labels=False, consistency=True
):
    """The model `fit` trains: the classifier and the autoencoder around one shared encoder.

    Args:
        classifier: a classifier with a sub-model named `encoder_name` (e.g.
            `build_classifier(extract_encoder(ae), ...)`), ideally with
            augmentation or dropout so two passes differ.
        decoder: a decoder from the encoder's output back to images (e.g. a
            copy of the pretrained autoencoder's `decoder`).
        encoder_name: the encoder's name inside `classifier`. Defaults to `"encoder"`.
        noise_stddev: Gaussian noise on the unlabeled images before they are
            reconstructed. Defaults to `0.2`.
        pseudo_labels: add an input `"pseudo"` of pseudo-labeled images and its
            output `"pseudo_labels"` (self-training). Defaults to `False`.
        consistency: add the `"consistency"` output. Defaults to `True`.

    Returns:
        A Functional model with inputs `{"labeled", "unlabeled"}` and outputs
        `{"labels", "reconstruction", "consistency"}` (plus `"pseudo"` /
        `"pseudo_labels"`); it shares its weights with `classifier` and `decoder`.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder, build_classifier
    >>> ae = build_conv_autoencoder((16, 16, 1), filters=(4,), latent_dim=4)
    >>> clf = build_classifier(ae.get_layer("encoder"), 3, dropout=0.2)
    >>> sorted(build_semi_supervised_model(clf, ae.get_layer("decoder")).output_names)
    ['consistency', 'labels', 'reconstruction']
    """
    check_model(decoder, "decoder")
    encoder = check_submodel(classifier, encoder_name, "classifier")
    if tuple(decoder.input_shape[1:]) != tuple(encoder.output_shape[1:]):
        raise ValueError(
            f"`decoder` takes inputs of shape {decoder.input_shape[1:]}, but the encoder outputs "
            f"{encoder.output_shape[1:]}."
        )
    if tuple(decoder.output_shape[1:]) != tuple(classifier.input_shape[1:]):
        raise ValueError(
            f"`decoder` outputs images of shape {decoder.output_shape[1:]}, but the classifier takes "
            f"{classifier.input_shape[1:]}."
        )
    noise_stddev = check_number(noise_stddev, "noise_stddev", 0, 1)
    shape = classifier.input_shape[1:]
    labeled = keras.Input(shape=shape, name="labeled")
    unlabeled = keras.Input(shape=shape, name="unlabeled")
    noisy = layers.GaussianNoise(noise_stddev, name="reconstruction_noise")(unlabeled) if noise_stddev else unlabeled
    outputs = {
        "labels": layers.Identity(name="labels")(classifier(labeled)),
        "reconstruction": layers.Identity(name="reconstruction")(decoder(encoder(noisy))),
    }
    if consistency:
        outputs["consistency"] = layers.Subtract(name="consistency")([classifier(unlabeled), classifier(unlabeled)])
    inputs = {"labeled": labeled, "unlabeled": unlabeled}
    if pseudo_labels:
        inputs["pseudo"] = keras.Input(shape=shape, name="pseudo")
        outputs["pseudo_labels"] = layers.Identity(name="pseudo_labels")(classifier(inputs["pseudo"]))
    return keras.Model(inputs, outputs, name="semi_supervised")


def select_pseudo_labels(classifier, x_unlabeled, per_class, batch_size=512):
    """The `per_class` unlabeled images the classifier is surest of, for each class it predicts (`balanced_confident`).

    Returns:
        `(indices into x_unlabeled, pseudo labels)`.
    """
    return balanced_confident(classifier.predict(x_unlabeled, batch_size=batch_size, verbose=0), per_class)


def train_semi_supervised(
    classifier,
    decoder,
    x_labeled,
    y_labeled,
    x_unlabeled,
    validation_data=None,
    schedule=Schedule(),
    encoder_name="encoder",
    unlabeled_batch_size=64,
    learning_rate=1e-3,
    reconstruction_weight=10.0,
    consistency_weight=0.0,
    noise_stddev=0.2,
    pseudo_label_rounds=3,
    pseudo_label_share=0.1,
    pseudo_label_weight=1.0,
    seed=0,
):
    """Train `classifier` on few labels and many unlabeled images at once (see the module's docstring).

    Every step draws `schedule.batch_size` labeled and `unlabeled_batch_size`
    unlabeled images. Each training (the first, then one per self-training round)
    follows `schedule`: with `validation_data`, the classifier's validation
    accuracy is checked every `schedule.eval_every` steps and the best weights are
    kept (early stopping); without it, each runs `schedule.max_steps` steps.

    Args:
        classifier: the classifier to train (its encoder is shared with `decoder`'s input).
        decoder: the decoder the unlabeled images are reconstructed with.
        x_labeled, y_labeled: the few labeled images and their integer labels.
        x_unlabeled: the unlabeled images.
        validation_data: `(x_val, y_val)`, labeled images apart from the training ones, or
            `None` for a fixed schedule. Defaults to `None`.
        schedule: a `tlkeras.training.Schedule`. Defaults to `Schedule()`.
        encoder_name: the encoder inside `classifier`. Defaults to `"encoder"`.
        unlabeled_batch_size: unlabeled images per step. Defaults to `64`.
        learning_rate: Adam's learning rate. Defaults to `1e-3`.
        reconstruction_weight: weight of the reconstruction MSE. Defaults to `10.0`.
        consistency_weight: weight of the consistency term; `0` leaves it out. Defaults to `0.0`.
        noise_stddev: noise on the images to reconstruct. Defaults to `0.2`.
        pseudo_label_rounds: rounds of self-training after the first training:
            each round labels the `r * pseudo_label_share` of the unlabeled pool
            the classifier is surest of (the same number per class) and trains on
            with them as extra labeled images. Defaults to `3`.
        pseudo_label_share: share of the pool added per round. Defaults to `0.1`.
        pseudo_label_weight: weight of the pseudo labels' cross-entropy. Defaults to `1.0`.
        seed: seed of the batches. Defaults to `0`.

    Returns:
        `{"steps", "val_accuracy"}` of the weights kept (steps summed over rounds;
        `val_accuracy` `None` on a fixed schedule).
    """
    shape = classifier.input_shape[1:]
    num_classes = classifier.output_shape[-1]
    x_labeled = check_images(x_labeled, "x_labeled", expected_shape=shape)
    y_labeled = check_labels(y_labeled, "y_labeled", num_classes=num_classes, length=len(x_labeled))
    x_unlabeled = check_images(x_unlabeled, "x_unlabeled", expected_shape=shape)
    if validation_data is not None:
        validation_data = check_labeled(validation_data, "validation_data", shape, num_classes)
    check_schedule(schedule)
    check_number(unlabeled_batch_size, "unlabeled_batch_size", 1, integer=True)
    check_number(learning_rate, "learning_rate", 0, math.inf, closed="neither")
    check_number(reconstruction_weight, "reconstruction_weight", 0, math.inf, closed="left")
    check_number(consistency_weight, "consistency_weight", 0, math.inf, closed="left")
    pseudo_label_rounds = check_number(pseudo_label_rounds, "pseudo_label_rounds", 0, integer=True)
    check_number(pseudo_label_share, "pseudo_label_share", 0, 1, closed="right")
    check_number(pseudo_label_weight, "pseudo_label_weight", 0, math.inf, closed="left")
    seed = check_seed(seed)
    per_round = max(1, int(pseudo_label_share * len(x_unlabeled) / num_classes))

    total_steps, outcome, pseudo = 0, None, None
    for round_ in range(pseudo_label_rounds + 1):
        if round_:
            picked, labels = select_pseudo_labels(classifier, x_unlabeled, round_ * per_round)
            pseudo = (x_unlabeled[picked], labels)
        model = build_semi_supervised_model(
            classifier, decoder, encoder_name, noise_stddev, pseudo is not None, consistency_weight > 0
        )
        losses = {"labels": "sparse_categorical_crossentropy", "reconstruction": "mse"}
        weights = {"labels": 1.0, "reconstruction": reconstruction_weight}
        if consistency_weight > 0:
            losses["consistency"], weights["consistency"] = "mse", consistency_weight
        if pseudo is not None:
            losses["pseudo_labels"] = "sparse_categorical_crossentropy"
            weights["pseudo_labels"] = pseudo_label_weight
        compile_model(model, losses, learning_rate, loss_weights=weights)

        def unlabeled_batch(rng, pseudo=pseudo):
            images = x_unlabeled[rng.integers(0, len(x_unlabeled), unlabeled_batch_size)]
            no_difference = np.zeros((unlabeled_batch_size, num_classes), "float32")
            inputs, targets = {"unlabeled": images}, {"reconstruction": images}
            if consistency_weight > 0:
                targets["consistency"] = no_difference
            if pseudo is not None:
                drawn = rng.integers(0, len(pseudo[0]), schedule.batch_size)
                inputs["pseudo"], targets["pseudo_labels"] = pseudo[0][drawn], pseudo[1][drawn]
            return inputs, targets

        outcome = train_on_schedule(
            model,
            classifier,
            schedule.batches(x_labeled, y_labeled, seed + round_, extra=unlabeled_batch),
            validation_data,
            schedule,
            hint="lower `learning_rate` or the loss weights",
        )
        total_steps += outcome["steps"]
    return {"steps": total_steps, "val_accuracy": outcome["val_accuracy"]}


@register_strategy(forwards_to=train_semi_supervised)
def semi_supervised(task, *, start="random", dropout=HEAD_DROPOUT, **options):
    """Cross-entropy on the labels while the network keeps reconstructing the unlabeled images, then self-training.

    `start` is `"random"` (the autoencoder's architecture, new weights) or `"autoencoder"`
    (its pretrained encoder and decoder); the other options go to
    `tlkeras.study.semi_supervised.train_semi_supervised`, whose defaults they keep.
    """
    classifier = network_from(task, start, dropout)
    decoder = fresh_copy(task.autoencoder.get_layer("decoder"), keep_weights=start == "autoencoder")
    outcome = train_semi_supervised(
        classifier,
        decoder,
        **task.training_data,
        **options,
    )
    return classifier, outcome


# Its ablations: each with one part removed, under a name of its own (tests/test_ablations.py checks each pair).
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

register_ablation("semi_supervised", "reconstruction_only", "self-training", differs_in="losses")
register_ablation("semi_supervised", "self_training_only", "the reconstruction loss", differs_in="losses")
register_ablation("semi_supervised_from_autoencoder", "semi_supervised", "the pretrained start", differs_in="start")
