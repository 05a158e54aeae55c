"""Datasets that work offline, and the sampling helpers the experiments need.

Every loader returns ``(x_train, y_train), (x_test, y_test)`` with images as
float32 in [0, 1], shape ``(N, H, W, 1)``, and labels as int64 class indices.
"""

import gzip
import os
import struct
import warnings
import zipfile

import numpy as np

from tlkeras._validation import (
    check_array,
    check_choice,
    check_labels,
    check_number,
    check_positive_int,
    check_seed,
    looks_channels_first,
)

FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

CLASS_NAMES = {
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "mnist": tuple(str(d) for d in range(10)),
    "digits": tuple(str(d) for d in range(10)),
}


def class_names(dataset):
    """The class names of a dataset, indexed by label.

    Args:
        dataset: `"fashion_mnist"`, `"mnist"` or `"digits"`.

    Returns:
        A tuple of strings.

    Example:
    >>> class_names("fashion_mnist")[9]
    'Ankle boot'
    """
    check_choice(dataset, "dataset", CLASS_NAMES)
    return CLASS_NAMES[dataset]


def _keras_datasets_dir():
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "datasets")


def fashion_mnist_search_dirs():
    """The folders searched for Fashion-MNIST's idx files, in order.

    The Keras cache (``$KERAS_HOME/datasets/fashion-mnist``, by default under
    ``~/.keras``), then ``$TLKERAS_DATA_DIR`` (the folder itself or its
    ``fashion-mnist`` subfolder) if set, then Debian's ``dataset-fashion-mnist``.
    """
    dirs = [os.path.join(_keras_datasets_dir(), "fashion-mnist")]
    data_dir = os.environ.get("TLKERAS_DATA_DIR")
    if data_dir:
        dirs += [os.path.join(data_dir, "fashion-mnist"), data_dir]
    dirs.append(DEBIAN_FASHION_MNIST_DIR)
    return dirs


def read_idx(path):
    """Read one IDX file (gzip-compressed or not) into a uint8 numpy array.

    Raises:
        ValueError: if the file is truncated or not an IDX file of unsigned bytes.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"Cannot read IDX file {path!r}: {e}") from e
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path!r} is not an IDX file of unsigned bytes (bad header).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ValueError(f"{path!r} is truncated: its header is incomplete.")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise ValueError(
            f"{path!r} is corrupt: its header announces shape {shape} "
            f"({expected} bytes) but it holds {len(data) - header} bytes."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _to_float_images(x):
    return (x.astype("float32") / 255.0)[..., None]


def _read_fashion_mnist_dir(folder):
    arrays = {key: read_idx(os.path.join(folder, fname)) for key, fname in FASHION_MNIST_FILES.items()}
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise ValueError(f"{folder!r}: {split} images and labels differ in number.")
    return (
        (_to_float_images(arrays["x_train"]), arrays["y_train"].astype("int64")),
        (_to_float_images(arrays["x_test"]), arrays["y_test"].astype("int64")),
    )


def load_fashion_mnist(download=True):
    """Load Fashion-MNIST, offline when the files are anywhere on disk.

    Looks in the folders of `fashion_mnist_search_dirs()` in order and takes the
    first that holds all four idx files; otherwise downloads them through
    `keras.datasets.fashion_mnist` (into the Keras cache, so the next call is
    offline).

    Args:
        download: whether to try the download when no local copy is found.
            Defaults to `True`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: 60,000 and 10,000 images,
        float32 in [0, 1], shape `(N, 28, 28, 1)`; int64 labels 0-9.

    Raises:
        FileNotFoundError: if no copy is found and the download fails, with what
            was tried and how to fix it.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    >>> x_train.shape, x_train.dtype.name
    ((60000, 28, 28, 1), 'float32')
    """
    tried = []
    for folder in fashion_mnist_search_dirs():
        if not all(os.path.exists(os.path.join(folder, f)) for f in FASHION_MNIST_FILES.values()):
            tried.append(f"{folder}: not there or incomplete")
            continue
        try:
            return _read_fashion_mnist_dir(folder)
        except ValueError as e:
            tried.append(f"{folder}: {e}")
    if download:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
            return (
                (_to_float_images(x_train), y_train.astype("int64")),
                (_to_float_images(x_test), y_test.astype("int64")),
            )
        except Exception as e:  # any network or file error: report it with the rest
            tried.append(f"download via keras.datasets.fashion_mnist: {type(e).__name__}: {e}")
    else:
        tried.append("download: skipped (download=False)")
    raise FileNotFoundError(
        "Fashion-MNIST was not found. Tried:\n  - " + "\n  - ".join(tried) + "\n"
        "Fix it with one of: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu); "
        "put the four idx .gz files in a folder and set TLKERAS_DATA_DIR to it; "
        "or run once online so Keras caches them."
    )


def load_mnist():
    """Load MNIST through `keras.datasets.mnist` (from the Keras cache or online).

    Returns:
        `(x_train, y_train), (x_test, y_test)` in the same format as
        `load_fashion_mnist()`.

    Raises:
        FileNotFoundError: if MNIST is neither cached nor downloadable.
    """
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:
        cached = os.path.join(_keras_datasets_dir(), "mnist.npz")
        raise FileNotFoundError(
            f"MNIST could not be loaded ({type(e).__name__}: {e}). Keras looks for it in "
            f"{cached} and otherwise downloads it: run once online, or use "
            "load_fashion_mnist() or load_digits(), which work offline."
        ) from e
    return (
        (_to_float_images(x_train), y_train.astype("int64")),
        (_to_float_images(x_test), y_test.astype("int64")),
    )


def resize_images(x, size):
    """Resize images ``(N, H, W, C)`` to ``(N, size, size, C)`` by bilinear interpolation.

    Pure numpy (half-pixel centres, as `keras.ops.image.resize` without
    antialiasing), so the result is the same on every backend.
    """
    size = check_positive_int(size, "size")
    n, h, w, c = x.shape

    def coords(out_len, in_len):
        pos = (np.arange(out_len) + 0.5) * in_len / out_len - 0.5
        pos = np.clip(pos, 0, in_len - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, in_len - 1)
        return lo, hi, (pos - lo).astype("float32")

    r0, r1, rw = coords(size, h)
    c0, c1, cw = coords(size, w)
    rows = x[:, r0] * (1 - rw)[None, :, None, None] + x[:, r1] * rw[None, :, None, None]
    out = rows[:, :, c0] * (1 - cw)[None, None, :, None] + rows[:, :, c1] * cw[None, None, :, None]
    return out.astype("float32")


def load_digits(size=28, test_fraction=0.25, seed=0):
    """Load scikit-learn's UCI handwritten digits (1,797 images, always offline).

    The 8x8 images (values 0-16) are scaled to [0, 1] and resized to
    `size` x `size`, so they fit an encoder trained on 28x28 images: the
    "different domain" target of the course. The split is stratified and
    fixed by `seed`.

    Args:
        size: side of the returned images. Defaults to `28`.
        test_fraction: share of the images kept for testing. Defaults to `0.25`.
        seed: seed of the train/test split. Defaults to `0`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`, float32 images `(N, size, size, 1)`
        in [0, 1] and int64 labels 0-9.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = load_digits(size=16)
    >>> x_train.shape[1:], len(x_train) + len(x_test)
    ((16, 16, 1), 1797)
    """
    size = check_positive_int(size, "size")
    check_number(test_fraction, "test_fraction", 0, 1, closed="neither")
    seed = check_seed(seed)
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    x = (bunch.images.astype("float32") / 16.0)[..., None]
    x = np.clip(resize_images(x, size), 0.0, 1.0)
    y = bunch.target.astype("int64")
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.extend(idx[: int(round(len(idx) * test_fraction))])
    test_mask = np.zeros(len(y), bool)
    test_mask[test_idx] = True
    return (x[~test_mask], y[~test_mask]), (x[test_mask], y[test_mask])


DATASETS = {
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "digits": load_digits,
}


NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
# The most classes a dataset file may number: a label of 2**40 would ask for a 2**40-way softmax.
MAX_CLASSES = 65_536


def _npz_images(x, path, key):
    if x.ndim == 3:
        x = x[..., None]
    if looks_channels_first(x.shape):
        warnings.warn(
            f"{path!r}: `{key}` of shape {x.shape} is channels-first (N, C, H, W), as PyTorch saves images; "
            f"read as (N, H, W, C) = {(x.shape[0], *x.shape[2:], x.shape[1])}.",
            stacklevel=3,
        )
        x = np.moveaxis(x, 1, -1)
    if x.ndim != 4 or 0 in x.shape:
        raise ValueError(
            f"{path!r}: `{key}` must hold images shaped (N, H, W) or (N, H, W, C). Received: {key}.shape={x.shape}"
        )
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise ValueError(
                f"{path!r}: integer `{key}` must hold 0-255 pixels. Received values in [{x.min()}, {x.max()}]"
            )
        return x.astype("float32") / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{path!r}: `{key}` must hold uint8 or float pixels. Received: {key}.dtype={x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(
            f"{path!r}: float `{key}` must hold finite values in [0, 1]. Received: "
            f"{int(np.isnan(x).sum())} NaN and {int(np.isinf(x).sum())} infinite value(s)"
        )
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"{path!r}: float `{key}` must hold values in [0, 1] (divide 0-255 pixels by 255). "
            f"Received values in [{x.min():g}, {x.max():g}]"
        )
    return x.astype("float32")


def load_npz(path):
    """Load any image-classification dataset from a `.npz` file.

    The file holds four arrays: `x_train`, `y_train`, `x_test`, `y_test`.
    Images are `(N, H, W)` or `(N, H, W, C)`, either uint8 0-255 (scaled to
    [0, 1] here) or floats already in [0, 1]; labels are integers from 0. Every
    test label must occur among the training labels.

    Returns:
        `(x_train, y_train), (x_test, y_test)` as `load_fashion_mnist` returns them.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
    >>> x = np.zeros((4, 8, 8), "uint8"); y = np.array([0, 1, 0, 1])
    >>> np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    >>> (x_train, y_train), _ = load_npz(path)
    >>> x_train.shape, x_train.dtype
    ((4, 8, 8, 1), dtype('float32'))
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`path` does not exist or is not a file. Received: path={path!r}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(
                f"`path` must be a .npz file holding {list(NPZ_ARRAYS)}. Received: path={path!r}, a .npy file "
                f"holding one array of shape {loaded.shape}; save the four arrays with np.savez(path, x_train=...)."
            )
        with loaded as archive:
            missing = [key for key in NPZ_ARRAYS if key not in archive.files]
            if missing:
                raise ValueError(
                    f"{path!r} lacks the array(s) {missing}: a dataset file holds {list(NPZ_ARRAYS)}; "
                    f"this one holds {archive.files}."
                )
            arrays = {key: archive[key] for key in NPZ_ARRAYS}
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path!r} is not a readable .npz file ({type(e).__name__}: {e}).") from e
    x_train = _npz_images(arrays["x_train"], path, "x_train")
    x_test = _npz_images(arrays["x_test"], path, "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"{path!r}: train images are {x_train.shape[1:]} but test images {x_test.shape[1:]}.")
    y_train = check_labels(arrays["y_train"], "y_train", length=len(x_train))
    y_test = check_labels(arrays["y_test"], "y_test", length=len(x_test))
    if len(y_train) and y_train.max() >= MAX_CLASSES:
        raise ValueError(
            f"{path!r}: `y_train` holds class {int(y_train.max())}: a classifier would need that many outputs. "
            f"Class ids must be below {MAX_CLASSES:,} (number the classes 0, 1, 2, ...)."
        )
    unseen = sorted(set(np.unique(y_test).tolist()) - set(np.unique(y_train).tolist()))
    if unseen:
        raise ValueError(f"{path!r}: `y_test` holds class(es) {unseen} that never occur in `y_train`.")
    return (x_train, y_train), (x_test, y_test)


def pad_to_multiple(x, multiple):
    """Zero-pad images `(N, H, W, C)` evenly on each side so height and width are multiples of `multiple`.

    Example:
    >>> pad_to_multiple(np.ones((1, 30, 30, 1), "float32"), 4).shape
    (1, 32, 32, 1)
    """
    multiple = check_positive_int(multiple, "multiple")
    pads = [(0, 0)]
    for size in x.shape[1:3]:
        extra = -size % multiple
        pads.append((extra // 2, extra - extra // 2))
    return np.pad(x, [*pads, (0, 0)]) if any(p != (0, 0) for p in pads) else x


def load_dataset(name):
    """Load a dataset by name: `"fashion_mnist"`, `"mnist"` or `"digits"`."""
    check_choice(name, "name", DATASETS)
    return DATASETS[name]()


def check_labels_per_class(y, labels_per_class, what="`y`"):
    """The one label-budget check: `labels_per_class` images must exist in every class of `y`.

    Returns the budget, a positive int; raises a `ValueError` that names the shortest class, its
    count and every class short of the budget.

    Example:
    >>> check_labels_per_class(np.array([0, 0, 1, 1, 1]), 2)
    2
    >>> check_labels_per_class(np.array([0, 0, 1, 1, 1]), 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `labels_per_class` 3 is more than the 2 images left in class 0 of `y` (every class short of it, ...
    """
    n = check_positive_int(labels_per_class, "labels_per_class")
    classes, counts = np.unique(y, return_counts=True)
    short = {int(c): int(k) for c, k in zip(classes, counts, strict=True) if k < n}
    if short:
        shortest = min(short, key=short.get)
        raise ValueError(
            f"`labels_per_class` {n} is more than the {short[shortest]} images left in class {shortest} of {what} "
            f"(every class short of it, with its count: {short})."
        )
    return n


def sample_per_class(x, y, labels_per_class, seed=0):
    """A stratified sample of exactly `labels_per_class` images of each class.

    Args:
        x: images, first axis the samples.
        y: integer labels, one per image.
        labels_per_class: images to take from every class present in `y`.
        seed: seed of the draw. Defaults to `0`.

    Returns:
        `(x_sample, y_sample)`, classes in order, images within a class shuffled.

    Raises:
        ValueError: if a class has fewer than `labels_per_class` images.

    Example:
    >>> x = np.zeros((6, 2, 2, 1), "float32"); y = np.array([0, 0, 1, 1, 1, 2])
    >>> sample_per_class(x, y, 1)[1]
    array([0, 1, 2])
    """
    seed = check_seed(seed)
    check_array(x, "x")
    y = check_labels(check_array(y, "y"), "y", length=len(x))
    n = check_labels_per_class(y, labels_per_class)
    rng = np.random.default_rng(seed)
    picked = []
    classes = np.unique(y)
    for c in classes:
        picked.append(rng.choice(np.flatnonzero(y == c), size=n, replace=False))
    idx = np.concatenate(picked)
    return x[idx], y[idx]


def split_by_class(x, y, classes):
    """The images of some classes, with labels re-indexed from 0 in the order given.

    Used for "source task / target task" splits: pretrain on some classes,
    transfer to the others.

    Args:
        x: images.
        y: integer labels.
        classes: the labels to keep; `classes[i]` becomes label `i`.

    Returns:
        `(x_subset, y_subset)`.

    Example:
    >>> x = np.zeros((4, 2, 2, 1), "float32"); y = np.array([0, 5, 7, 5])
    >>> split_by_class(x, y, [5, 7])[1]
    array([0, 1, 0])
    """
    check_array(x, "x")
    y = check_labels(check_array(y, "y"), "y", length=len(x))
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise ValueError(f"`classes` must be a list of integer labels. Received: classes={classes!r}")
    classes = [int(c) if isinstance(c, np.integer) else c for c in classes]
    if not classes:
        raise ValueError("`classes` must name at least one class. Received: classes=[]")
    if len(set(classes)) != len(classes):
        raise ValueError(f"`classes` must not repeat a class. Received: classes={classes}")
    present = set(np.unique(y).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise ValueError(
            f"`classes` names labels that do not occur in `y`: {missing}. Labels present: {sorted(present)}"
        )
    mask = np.isin(y, classes)
    remap = {c: i for i, c in enumerate(classes)}
    return x[mask], np.array([remap[int(v)] for v in y[mask]], dtype="int64")


def validation_split(x, y, size, seed=0):
    """Carve a stratified validation split of `size` images off `(x, y)`.

    Returns:
        `((x_rest, y_rest), (x_val, y_val))`.

    Example:
    >>> y = np.repeat(np.arange(3), 10); x = np.zeros((30, 2, 2, 1), "float32")
    >>> (rest, _), (val, y_val) = validation_split(x, y, 6)
    >>> len(rest), np.bincount(y_val).tolist()
    (24, [2, 2, 2])
    """
    y = check_labels(y, "y", length=len(x))
    mask = validation_mask(y, size, seed)
    return (x[~mask], y[~mask]), (x[mask], y[mask])


def validation_mask(y, size, seed=0):
    """Which of the labels `y` `validation_split` holds out: a boolean array, stratified, `size` of them."""
    size = check_number(size, "size", 1, len(y) - 1, integer=True)
    rng = np.random.default_rng(check_seed(seed))
    classes = np.unique(y)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    share = np.floor(size * np.array([len(p) for p in per_class]) / len(y)).astype(int)
    share[: size - share.sum()] += 1  # the rounding remainder, one image each to the first classes
    picked = np.concatenate([p[:k] for p, k in zip(per_class, share, strict=True)])
    mask = np.zeros(len(y), bool)
    mask[picked] = True
    return mask
