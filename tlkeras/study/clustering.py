"""Clustering as a downstream task: do the autoencoder's codes group the images by class, without a label?

The source article names three tasks transfer serves: classification, generation and clustering.
Here the images are clustered from what the autoencoder learned, and from the pixels as the
baseline, with the same method on both, and scored against the labels they never saw:

- features: `autoencoder` (the encoder's codes), `autoencoder+umap` (UMAP of the codes: the N2D
  recipe of McConville et al., ICPR 2020), `pixels` (PCA of the pixels) and `pixels+umap`
  (UMAP of that PCA);
- methods: `kmeans` (scikit-learn's `KMeans`) and `gmm` (`GaussianMixture`, full covariances), in a
  registry (`register_clustering_method`);
- scores: accuracy under the best one-to-one matching of clusters to classes (the Hungarian
  algorithm, `scipy.optimize.linear_sum_assignment`) and normalised mutual information
  (`sklearn.metrics.normalized_mutual_info_score`).

Each seed draws its own images to embed and seeds UMAP and the clustering, so the runs of
one seed are paired across features; `compare_features` reads the paired differences.
"""

import time

import numpy as np

from tlkeras._validation import (
    check_choice,
    check_choices,
    check_images,
    check_labels,
    check_number,
    check_seeds,
    check_submodel,
)
from tlkeras.plots import Panel
from tlkeras.study.reports import clustering_table
from tlkeras.study.statistics import paired_comparison
from tlkeras.study.tasks import register_task

FEATURES = ("autoencoder", "autoencoder+umap", "pixels", "pixels+umap")
# Which features each is compared with: the same recipe on pixels.
BASELINES = {"autoencoder": "pixels", "autoencoder+umap": "pixels+umap"}


def cluster_accuracy(y_true, y_pred):
    """Accuracy of cluster ids against labels, under the best one-to-one matching of clusters to classes.

    A negative cluster id is noise (DBSCAN's and HDBSCAN's -1): its points match no class, so they
    count as wrong. Arrays of different lengths, negative or non-integer labels are refused.

    Example:
    >>> cluster_accuracy(np.array([0, 0, 1, 1, 2]), np.array([2, 2, 0, 0, 1]))
    1.0
    >>> cluster_accuracy(np.array([0, 0, 1, 1]), np.array([0, -1, 1, -1]))  # two noise points
    0.5
    """
    from scipy.optimize import linear_sum_assignment

    y_true = check_labels(y_true, "y_true")
    y_pred = np.asarray(y_pred)
    if y_pred.ndim != 1 or len(y_pred) != len(y_true) or not np.issubdtype(y_pred.dtype, np.integer):
        raise ValueError(
            "`y_pred` must be a 1-D array of integer cluster ids, one per label of `y_true` "
            f"({len(y_true)}). Received: an array of shape {y_pred.shape} and dtype {y_pred.dtype}"
        )
    if not len(y_true):
        raise ValueError("`y_true` must hold at least one label. Received: an empty array")
    clustered = y_pred >= 0  # noise (-1) matches no class
    # Ids renumbered 0..k-1: a matrix of clusters x classes, whatever the ids' size.
    classes, true_ids = np.unique(y_true, return_inverse=True)
    clusters, cluster_ids = np.unique(y_pred[clustered], return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    np.add.at(counts, (cluster_ids, true_ids[clustered]), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(y_true))


def embed(autoencoder, images, features, seed=0, pca_components=50, umap_components=10, umap_neighbors=20):
    """The vectors that `features` clusters: codes or PCA of pixels, optionally through UMAP.

    Args:
        autoencoder: the autoencoder whose `encoder` gives the codes (unused for pixels).
        images: float32 images in [0, 1].
        features: one of `FEATURES`.
        seed: seeds PCA's and UMAP's randomness. Defaults to `0`.
        pca_components: PCA components of the pixels. Defaults to `50`.
        umap_components: UMAP's output dimension. Defaults to `10`.
        umap_neighbors: UMAP's neighbourhood size. Defaults to `20`.

    Returns:
        A float32 array `(len(images), dims)`.
    """
    source, _, umap_part = features.partition("+")
    if source == "autoencoder":
        vectors = autoencoder.get_layer("encoder").predict(images, batch_size=512, verbose=0)
        vectors = vectors.reshape(len(images), -1)
    else:
        from sklearn.decomposition import PCA

        flat = images.reshape(len(images), -1)
        vectors = PCA(min(pca_components, *flat.shape), random_state=seed).fit_transform(flat)
    if umap_part:
        import umap

        reducer = umap.UMAP(
            n_components=umap_components, n_neighbors=umap_neighbors, min_dist=0.0, random_state=seed, n_jobs=1
        )
        vectors = reducer.fit_transform(vectors)
    return np.asarray(vectors, dtype="float32")


CLUSTERING_METHODS = {}


def register_clustering_method(name):
    """Register `function(vectors, num_clusters, seed) -> cluster ids` as clustering method `name`.

    Example:
    >>> @register_clustering_method("doc_halves")
    ... def halves(vectors, num_clusters, seed):
    ...     return (np.arange(len(vectors)) * num_clusters // len(vectors)).astype(int)
    >>> cluster(np.zeros((4, 2)), 2, "doc_halves").tolist()
    [0, 0, 1, 1]
    >>> del CLUSTERING_METHODS["doc_halves"]
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"A clustering method's `name` must be an identifier. Received: name={name!r}")

    def register(function):
        if name in CLUSTERING_METHODS:
            raise ValueError(f"A clustering method named {name!r} is already registered.")
        CLUSTERING_METHODS[name] = function
        return function

    return register


# Not standardised: PCA's and UMAP's axes carry their variance, and scaling every axis to one
# would let the many low-variance (noise) components of PCA drown the few that hold the classes.
@register_clustering_method("kmeans")
def _kmeans(vectors, num_clusters, seed):
    from sklearn.cluster import KMeans

    return KMeans(num_clusters, n_init=10, random_state=seed).fit_predict(vectors)


@register_clustering_method("gmm")
def _gmm(vectors, num_clusters, seed):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(num_clusters, covariance_type="full", random_state=seed).fit_predict(vectors)


def cluster(vectors, num_clusters, method, seed=0):
    """Cluster ids of `vectors` by a registered `method` (`"kmeans"`, `"gmm"`), seeded; an unknown name is refused."""
    function = CLUSTERING_METHODS[check_choice(method, "method", tuple(CLUSTERING_METHODS))]
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"`vectors` must be 2-D, one row per item. Received: an array of shape {vectors.shape}")
    num_clusters = check_number(num_clusters, "num_clusters", 2, max(2, len(vectors)), integer=True)
    return np.asarray(function(vectors, num_clusters, seed))


def clustering_study(
    autoencoder,
    images,
    labels,
    features=FEATURES,
    methods=("kmeans", "gmm"),
    seeds=(0, 1, 2),
    images_per_seed=None,
    num_clusters=None,
    progress=True,
    context_images=None,
):
    """Cluster `images` with each method on each kind of features, per seed; score with the labels.

    The labels are used only to score (the clustering never sees them). Each seed draws its
    own `images_per_seed` of the images (all of them when `None`), so seeds differ in data as well
    as in the randomness of UMAP and of the clustering. With `context_images` (images without
    labels, say the training images), the embedding and the clusters are fitted on them and the
    drawn images together, and only the drawn images are scored: N2D's protocol, UMAP fitted on
    all 70,000 images of Fashion-MNIST.

    Args:
        autoencoder: the pretrained autoencoder (`encoder` sub-model).
        images: float32 images in [0, 1], shaped like the autoencoder's input.
        labels: their integer classes, for scoring only.
        features: from `FEATURES`. Defaults to all four.
        methods: registered clustering methods (`CLUSTERING_METHODS`). Defaults to `("kmeans", "gmm")`.
        seeds: distinct seeds, one paired run each. Defaults to `(0, 1, 2)`.
        images_per_seed: images clustered per seed; `None`: all. Defaults to `None`.
        num_clusters: clusters to find; `None`: the number of classes in `labels`. Defaults to `None`.
        progress: show a tqdm progress bar. Defaults to `True`.
        context_images: more images, without labels, fitted on with the scored ones; `None`: none.
            Defaults to `None`.

    Returns:
        Rows `{"seed", "features", "method", "cluster_accuracy", "nmi", "images", "fitted_on", "seconds"}`:
        `images` scored, `fitted_on` the images the embedding and clusters were fitted on.

    Example:
    >>> from tlkeras.models import build_conv_autoencoder
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.uniform(0, 0.2, (20, 8, 8, 1)), rng.uniform(0.8, 1, (20, 8, 8, 1))]).astype("float32")
    >>> rows = clustering_study(build_conv_autoencoder((8, 8, 1), filters=(4,), latent_dim=4), x,
    ...     np.repeat([0, 1], 20), features=("pixels",), methods=("kmeans",), seeds=(0,), progress=False)
    >>> rows[0]["cluster_accuracy"]
    1.0
    """
    from sklearn.metrics import normalized_mutual_info_score
    from tqdm.auto import tqdm

    check_submodel(autoencoder, "encoder", "autoencoder", arg=None)
    images = check_images(images, "images", expected_shape=autoencoder.input_shape[1:])
    labels = check_labels(labels, "labels", length=len(images))
    features = check_choices(tuple(features) if not isinstance(features, str) else features, "features", FEATURES)
    methods = check_choices(
        tuple(methods) if not isinstance(methods, str) else methods, "methods", tuple(CLUSTERING_METHODS)
    )
    seeds = check_seeds(seeds)
    classes = len(np.unique(labels))
    if classes < 2:
        raise ValueError(f"`labels` must hold at least 2 classes to score a clustering. Received: {classes} class")
    num_clusters = classes if num_clusters is None else check_number(num_clusters, "num_clusters", 2, integer=True)
    count = (
        len(images)
        if images_per_seed is None
        else check_number(images_per_seed, "images_per_seed", 2, len(images), integer=True)
    )
    if context_images is None:
        context_images = images[:0]
    else:
        context_images = check_images(context_images, "context_images", expected_shape=images.shape[1:])
    if count < num_clusters:
        raise ValueError(
            f"{count} images cannot form {num_clusters} clusters. Received: images_per_seed={images_per_seed}"
        )

    rows = []
    jobs = [(seed, f) for seed in seeds for f in features]
    for seed, kind in tqdm(jobs, desc="clustering study", disable=not progress):
        picked = np.sort(np.random.default_rng(seed).permutation(len(images))[:count])
        start = time.perf_counter()
        vectors = embed(autoencoder, np.concatenate([images[picked], context_images]), kind, seed=seed)
        embedded = time.perf_counter() - start
        for method in methods:
            start = time.perf_counter()
            predicted = cluster(vectors, num_clusters, method, seed=seed)[:count]
            rows.append(
                {
                    "seed": int(seed),
                    "features": kind,
                    "method": method,
                    "cluster_accuracy": cluster_accuracy(labels[picked], predicted),
                    "nmi": float(normalized_mutual_info_score(labels[picked], predicted)),
                    "images": int(count),
                    "fitted_on": int(count + len(context_images)),
                    "seconds": embedded + time.perf_counter() - start,
                }
            )
    return rows


def compare_features(rows, metrics=("cluster_accuracy", "nmi")):
    """Paired per-seed differences of each autoencoder feature from the same recipe on pixels (`BASELINES`).

    Returns:
        Rows `{"features", "baseline", "method", "metric", "gain", "low", "high", "verdict",
        "seeds", "seeds_needed", "mean", "baseline_mean"}`.
    """
    table = {}
    for r in rows:
        run = (r["features"], r["method"], r["seed"])
        if run in table:
            raise ValueError(
                "`rows` holds two runs of features {!r}, method {!r}, seed {}: pairing one of them would silently "
                "drop the other (result files merged twice?). Keep one run per seed.".format(*run)
            )
        table[run] = r
    out = []
    for kind, baseline in BASELINES.items():
        for method in dict.fromkeys(r["method"] for r in rows):
            seeds = [s for (f, m, s) in table if (f, m) == (kind, method) and (baseline, method, s) in table]
            if not seeds:
                continue
            for metric in metrics:
                values = [table[kind, method, s][metric] for s in seeds]
                base = [table[baseline, method, s][metric] for s in seeds]
                out.append(
                    {
                        "features": kind,
                        "baseline": baseline,
                        "method": method,
                        "metric": metric,
                        **paired_comparison(np.subtract(values, base)),
                        "mean": float(np.mean(values)),
                        "baseline_mean": float(np.mean(base)),
                    }
                )
    return out


def _clustering_panels(rows):
    return [
        Panel(
            f"Clustering: {metric} gain over pixels",
            metric,
            0.0,
            [
                (f"{r['features']} ({r['method']})", r["gain"], r["low"], r["high"], r["verdict"])
                for r in rows
                if r["metric"] == metric
            ],
        )
        for metric in dict.fromkeys(r["metric"] for r in rows)
    ]


def _clustering_report(rows, options):
    fitted = (
        "; the embedding and the clusters fitted on the clustered test images and every training image "
        "(N2D's protocol), only the test images scored"
        if options.clustering_fit == "all"
        else ""
    )
    return (
        "### clustering\n\nThe test images clustered without labels (accuracy under the best matching "
        "of clusters to classes, and NMI), from the autoencoder's codes against the same recipe on pixels "
        f"(PCA; `+umap`: through UMAP, the N2D recipe){fitted}:\n\n{clustering_table(rows)}"
    )


@register_task(
    "clustering",
    compare=compare_features,
    panels=_clustering_panels,
    report=_clustering_report,
    sections=lambda records, rows: {"clustering": records, "clustering_comparisons": rows},
)
def clustering_task(context):
    """The test images clustered from the autoencoder's codes and from pixels, without labels."""
    options, (x_test, y_test) = context.options, context.study.test
    everything = options.clustering_fit == "all"
    fitted = " (fitted with every training image too: N2D's protocol)" if everything else ""
    print(
        f"      clustering: the test images from the autoencoder's codes and from pixels, without labels{fitted}",
        flush=True,
    )
    return clustering_study(
        context.pretrained.autoencoder,
        x_test,
        y_test,
        seeds=context.seeds,
        images_per_seed=min(options.clustering_images, len(x_test)),
        context_images=context.pool[: options.max_images] if everything else None,
    )
