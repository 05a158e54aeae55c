"""Few labels spread through the neighbourhoods of the unlabeled images, as the autoencoder sees them.

With one label per class, a classifier trained on the labels alone knows ten images. The
unlabeled images show where the classes lie: embedded with UMAP (of the autoencoder's
codes, or of the pixels for the ablation), images of a class gather in one region, and a
linear classifier on the few labeled points in that embedding labels their neighbours.
`neighbourhood_pseudo_labels` returns the pool images it is surest of, the same number per
class; the `neighbourhood` strategy (`tlkeras.study.strategies`) trains a CNN on them.
"""

import numpy as np

from tlkeras._validation import check_choice, check_number
from tlkeras.study.clustering import FEATURES, embed
from tlkeras.study.semi_supervised import balanced_confident


def neighbourhood_pseudo_labels(
    autoencoder, labeled, unlabeled, num_classes, features="autoencoder+umap", pool_images=10000, share=0.5, seed=0
):
    """Pseudo-labels of unlabeled images, from a logistic regression on the labeled ones in a shared embedding.

    Args:
        autoencoder: the pretrained autoencoder (its `encoder` gives the codes).
        labeled: `(x, y)`, the few labeled images.
        unlabeled: the unlabeled images; the first `pool_images` are embedded and labeled.
        num_classes: number of classes.
        features: the embedding, one of `tlkeras.study.clustering.FEATURES` (see `tlkeras.study.clustering.embed`).
            Defaults to `"autoencoder+umap"`.
        pool_images: unlabeled images embedded with the labeled ones. Defaults to `10000`.
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
