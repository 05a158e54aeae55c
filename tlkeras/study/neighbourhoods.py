"""Few labels spread through the neighbourhoods of the unlabeled images, as the autoencoder sees them.

With one label per class, a classifier trained on the labels alone knows ten images. The
unlabeled images show where the classes lie: embedded with UMAP (of the autoencoder's
codes, or of the pixels for the ablation), images of a class gather in one region, and a
linear classifier on the few labeled points in that embedding labels their neighbours.
`neighbourhood_pseudo_labels` returns the pool images it is surest of, the same number per
class; the `neighbourhood` strategy (below) trains a CNN on them.
"""

import numpy as np

from tlkeras._validation import check_choice, check_number
from tlkeras.study.clustering import FEATURES, embed
from tlkeras.study.parts import HEAD_DROPOUT, LEARNING_RATE, POOL_IMAGES, balanced_confident, train_new_network
from tlkeras.study.registry import register_ablation, register_strategy, register_variant


def neighbourhood_pseudo_labels(
    autoencoder,
    labeled,
    unlabeled,
    num_classes,
    features="autoencoder+umap",
    pool_images=POOL_IMAGES,
    share=0.5,
    seed=0,
):
    """Pseudo-labels of unlabeled images, from a logistic regression on the labeled ones in a shared embedding.

    Args:
        autoencoder: the pretrained autoencoder (its `encoder` gives the codes).
        labeled: `(x, y)`, the few labeled images.
        unlabeled: the unlabeled images; the first `pool_images` are embedded and labeled.
        num_classes: number of classes.
        features: the embedding, one of `tlkeras.study.clustering.FEATURES` (see `tlkeras.study.clustering.embed`).
            Defaults to `"autoencoder+umap"`.
        pool_images: unlabeled images embedded with the labeled ones. Defaults to `POOL_IMAGES` (10,000).
        share: share of the pool returned, the same number per class. Defaults to `0.5`.
        seed: seeds UMAP and the regression. Defaults to `0`.

    Returns:
        `(x_pseudo, y_pseudo)`: unlabeled images and their pseudo-labels.
    """
    from sklearn.linear_model import LogisticRegression

    check_choice(features, "features", FEATURES)
    pool_images = check_number(pool_images, "pool_images", 1, integer=True)
    share = check_number(share, "share", 0, 1, closed="right")
    x, y = labeled
    pool = unlabeled[:pool_images]
    vectors = embed(autoencoder, np.concatenate([x, pool]), features, seed=seed)
    regression = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(vectors[: len(x)], y)
    probabilities = np.zeros((len(pool), num_classes), "float32")
    probabilities[:, regression.classes_] = regression.predict_proba(vectors[len(x) :])
    picked, pseudo = balanced_confident(probabilities, max(1, int(share * len(pool) / num_classes)))
    return pool[picked], pseudo.astype(y.dtype)


@register_strategy
def neighbourhood(
    task,
    *,
    features="autoencoder+umap",
    pool_images=POOL_IMAGES,
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
    pseudo = neighbourhood_pseudo_labels(
        task.autoencoder,
        task.labeled,
        task.unlabeled,
        task.num_classes,
        features,
        pool_images,
        pseudo_label_share,
        task.seed,
    )
    classifier, outcome = train_new_network(task, learning_rate=learning_rate, dropout=dropout, pseudo=pseudo)
    return classifier, {**outcome, "pseudo_labels": int(len(pseudo[1]))}


# Its ablation: the autoencoder's codes removed (UMAP of the pixels instead).
register_variant(
    "neighbourhood_pixels",
    neighbourhood,
    "`neighbourhood` without the autoencoder (UMAP of PCA of the pixels): what the codes add is the difference.",
    features="pixels+umap",
)
register_ablation("neighbourhood", "neighbourhood_pixels", "the autoencoder's codes", differs_in="features")
