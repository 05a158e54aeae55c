import math

import keras
import numpy as np
import pytest
from helpers import tiny_autoencoder

from tlkeras.study.clustering import cluster_accuracy, clustering_study, compare_features


def test_cluster_accuracy_matches_clusters_to_classes_one_to_one():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    assert cluster_accuracy(labels, np.array([5, 5, 5, 3, 3, 1, 1, 1])) == 1.0  # any renaming of the clusters
    # Two classes in one cluster: only one of them can be matched to it.
    assert cluster_accuracy(labels, np.array([0, 0, 0, 0, 0, 2, 2, 2])) == pytest.approx(6 / 8)


def _blobs():
    """Three classes of 16x16 images: dark, bright left half, bright right half, with noise."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.2, (60, 16, 16, 1)).astype("float32")
    labels = np.repeat([0, 1, 2], 20)
    images[labels == 1, :, :8] += 0.7
    images[labels == 2, :, 8:] += 0.7
    return images, labels


def test_the_study_scores_every_feature_and_method_per_seed_and_pairs_them():
    images, labels = _blobs()
    rows = clustering_study(tiny_autoencoder(), images, labels, seeds=(0, 1), images_per_seed=45, progress=False)
    assert len(rows) == 2 * 4 * 2
    assert {(r["features"], r["method"]) for r in rows} >= {("pixels", "kmeans"), ("autoencoder+umap", "gmm")}
    pixels = [r for r in rows if r["features"] == "pixels" and r["method"] == "kmeans"]
    assert all(r["cluster_accuracy"] == 1.0 and r["nmi"] == pytest.approx(1.0) and r["images"] == 45 for r in pixels)
    again = clustering_study(
        tiny_autoencoder(), images, labels, features=("pixels+umap",), seeds=(1,), images_per_seed=45, progress=False
    )
    assert [r["cluster_accuracy"] for r in again] == [
        r["cluster_accuracy"] for r in rows if r["features"] == "pixels+umap" and r["seed"] == 1
    ]
    compared = compare_features(rows)
    assert {(c["features"], c["baseline"]) for c in compared} == {
        ("autoencoder", "pixels"),
        ("autoencoder+umap", "pixels+umap"),
    }
    assert all(c["seeds"] == 2 and c["metric"] in ("cluster_accuracy", "nmi") for c in compared)
    first = next(c for c in compared if (c["features"], c["method"], c["metric"]) == ("autoencoder", "kmeans", "nmi"))
    mine = [r["nmi"] for r in rows if (r["features"], r["method"]) == ("autoencoder", "kmeans")]
    base = [r["nmi"] for r in rows if (r["features"], r["method"]) == ("pixels", "kmeans")]
    assert first["gain"] == pytest.approx(np.mean(mine) - np.mean(base)) and not math.isnan(first["low"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(features=("edges",)), "features"),
        (dict(methods=("dbscan",)), "methods"),
        (dict(seeds=(0, 0)), "repeat"),
        (dict(images_per_seed=1), "images_per_seed"),
        (dict(images_per_seed=1000), "images_per_seed"),
        (dict(num_clusters=1), "num_clusters"),
        (dict(labels="one class"), "at least 2 classes"),
        (dict(autoencoder="a classifier"), "no sub-model named 'encoder'"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs, message):
    images, labels = _blobs()
    autoencoder = tiny_autoencoder()
    if kwargs.pop("labels", None):
        labels = np.zeros_like(labels)
    if kwargs.pop("autoencoder", None):
        autoencoder = keras.Sequential([keras.Input(images.shape[1:]), keras.layers.Flatten()], name="classifier")
    with pytest.raises(ValueError, match=message):
        clustering_study(autoencoder, images, labels, progress=False, **kwargs)


def test_context_images_are_fitted_on_and_only_the_drawn_images_scored():
    from tlkeras.models import build_conv_autoencoder

    rng = np.random.default_rng(0)
    dark, light = rng.uniform(0, 0.2, (10, 8, 8, 1)), rng.uniform(0.8, 1, (10, 8, 8, 1))
    images = np.concatenate([dark, light]).astype("float32")
    context = np.concatenate([rng.uniform(0, 0.2, (30, 8, 8, 1)), rng.uniform(0.8, 1, (30, 8, 8, 1))])
    autoencoder = build_conv_autoencoder((8, 8, 1), filters=(4,), latent_dim=4)
    [row] = clustering_study(
        autoencoder,
        images,
        np.repeat([0, 1], 10),
        features=("pixels",),
        methods=("kmeans",),
        seeds=(0,),
        progress=False,
        context_images=context.astype("float32"),
    )
    assert row["images"] == 20 and row["fitted_on"] == 80 and row["cluster_accuracy"] == 1.0
    with pytest.raises(ValueError, match="context_images"):
        clustering_study(autoencoder, images, np.repeat([0, 1], 10), context_images=context[:, :4], progress=False)
