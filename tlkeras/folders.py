"""Your own images: folders of image files, the Keras way.

The layout is `keras.utils.image_dataset_from_directory`'s: one sub-folder per class, named after
it (class names sorted alphanumerically give the labels 0, 1, ...), or, for images without labels,
a folder of image files::

    my_data/
      train/   cat/ 001.png ...   dog/ 001.png ...
      test/    cat/ ...           dog/ ...
      unlabeled/  0001.jpg 0002.jpg ...       (optional)

Images are decoded with Pillow, converted to `color_mode` (`"grayscale"`, `"rgb"` or `"rgba"`),
resized bilinearly to `image_size` when one is given, and scaled to float32 in [0, 1].

`load_image_folder` reads a folder into arrays; `load_folder_dataset` reads the train / test /
unlabeled layout above for `tlkeras demo --data DIR`. Files that are not images, or that cannot
be decoded, are skipped with a warning that counts them (`on_error="skip"`) or refused
(`on_error="raise"`).
"""

import os
import warnings

import numpy as np

from tlkeras._validation import check_choice

# The extensions keras.utils.image_dataset_from_directory reads.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
ON_ERROR = ("skip", "raise")


def _check_directory(directory):
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        what = "a file" if os.path.exists(directory) else "missing"
        raise FileNotFoundError(f"`directory` must be a folder of images. Received: directory={directory!r} ({what})")
    return directory


def _image_size(image_size):
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            "`image_size` must be None, a positive int or a (height, width) pair of positive ints. "
            f"Received: image_size={image_size!r}"
        )
    return size


def _files(folder):
    """Every non-hidden file under `folder`, sub-folders included, sorted."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".")]
    return found


def _decode(path, mode, size):
    from PIL import Image, UnidentifiedImageError

    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return None, f"not an image file (extensions read: {', '.join(IMAGE_EXTENSIONS)})"
    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        return None, f"cannot be decoded ({type(e).__name__}: {e})"
    return (pixels[..., None] if pixels.ndim == 2 else pixels), None


def _read(paths, mode, size, on_error, what):
    images, kept, problems = [], [], []
    for path in paths:
        pixels, problem = _decode(path, mode, size)
        if problem:
            if on_error == "raise":
                raise ValueError(f"{path}: {problem}. Pass on_error='skip' to leave such files out.")
            problems.append(f"{os.path.basename(path)}: {problem}")
            continue
        if images and pixels.shape != images[0].shape:
            raise ValueError(
                f"Images of different sizes in {what}: {kept[0]} is {images[0].shape[1]}x{images[0].shape[0]}, "
                f"{path} is {pixels.shape[1]}x{pixels.shape[0]} (width x height). Pass image_size=(height, width) "
                "to resize them all."
            )
        images.append(pixels)
        kept.append(path)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        warnings.warn(f"Skipped {len(problems)} of {len(paths)} files in {what}: {shown}", stacklevel=3)
    return images, kept


def load_image_folder(
    directory, image_size=None, color_mode="grayscale", labels="inferred", class_names=None, on_error="skip"
):
    """Load a folder of images into arrays, with `keras.utils.image_dataset_from_directory`'s layout.

    Args:
        directory: with `labels="inferred"`, a folder with one sub-folder of images per class;
            with `labels=None`, a folder of images (sub-folders included).
        image_size: `None` keeps each image's size (all must then be equal), an int or a
            `(height, width)` resizes every image bilinearly. Defaults to `None`.
        color_mode: `"grayscale"` (1 channel), `"rgb"` (3) or `"rgba"` (4). Defaults to `"grayscale"`.
        labels: `"inferred"` (from the sub-folders) or `None` (no labels). Defaults to `"inferred"`.
        class_names: the class folders to read, in label order; `None` takes every sub-folder,
            sorted alphanumerically. Defaults to `None`.
        on_error: what to do with a file that is not an image or cannot be decoded: `"skip"` it
            (one warning counts them) or `"raise"`. Defaults to `"skip"`.

    Returns:
        `(x, y, class_names)` with `x` float32 `(N, H, W, C)` in [0, 1] and `y` int64 labels, or
        just `x` with `labels=None`.

    Raises:
        FileNotFoundError: the folder, or a folder of `class_names`, is missing.
        ValueError: no images, mixed sizes without `image_size`, a bad argument, or (with
            `on_error="raise"`) a file that is not a readable image.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for name in ("cat", "dog"):
    ...     os.makedirs(os.path.join(root, name))
    ...     Image.fromarray(np.zeros((8, 8), "uint8")).save(os.path.join(root, name, "a.png"))
    >>> x, y, names = load_image_folder(root, image_size=4)
    >>> x.shape, y.tolist(), names
    ((2, 4, 4, 1), [0, 1], ['cat', 'dog'])
    """
    directory = _check_directory(directory)
    size = _image_size(image_size)
    mode = COLOR_MODES[check_choice(color_mode, "color_mode", COLOR_MODES)]
    check_choice(on_error, "on_error", ON_ERROR)
    check_choice(labels, "labels", ("inferred", None))

    if labels is None:
        images, _ = _read(_files(directory), mode, size, on_error, directory)
        if not images:
            raise ValueError(f"No images in {directory!r} (extensions read: {', '.join(IMAGE_EXTENSIONS)}).")
        return np.stack(images).astype("float32") / 255.0

    found = sorted(n for n in os.listdir(directory) if os.path.isdir(os.path.join(directory, n)) and n[0] != ".")
    if class_names is None:
        class_names = found
        if not class_names:
            raise ValueError(
                f"{directory!r} has no class sub-folders: put each class's images in a folder named after it "
                "(or pass labels=None for images without labels)."
            )
    else:
        class_names = [str(c) for c in class_names]
        missing = [c for c in class_names if c not in found]
        if missing:
            raise FileNotFoundError(f"No folder for class(es) {missing} in {directory!r}; it has {found}.")
    paths, labels_of = [], {}
    for label, name in enumerate(class_names):
        for path in _files(os.path.join(directory, name)):
            paths.append(path)
            labels_of[path] = label
    images, kept = _read(paths, mode, size, on_error, directory)
    y = [labels_of[path] for path in kept]
    counts = np.bincount(y, minlength=len(class_names))
    if not counts.all():
        empty = os.path.join(directory, class_names[int(np.argmin(counts))])
        raise ValueError(f"No images in the class folder {empty!r}.")
    return np.stack(images).astype("float32") / 255.0, np.asarray(y, dtype="int64"), class_names


def load_folder_dataset(directory, image_size=None, color_mode="grayscale", on_error="skip"):
    """The layout `tlkeras demo --data DIR` reads: `train/<class>/`, `test/<class>/`, optional `unlabeled/`.

    The test classes must be the training classes (same folder names).

    Returns:
        `((x_train, y_train), (x_test, y_test), x_unlabeled_or_None, class_names)`.
    """
    directory = _check_directory(directory)
    options = dict(image_size=image_size, color_mode=color_mode, on_error=on_error)
    for part in ("train", "test"):
        if not os.path.isdir(os.path.join(directory, part)):
            raise FileNotFoundError(
                f"{directory!r} has no '{part}' folder: the layout is {part}/<class>/<images> "
                "(and optionally unlabeled/<images>)."
            )
    x_train, y_train, names = load_image_folder(os.path.join(directory, "train"), **options)
    x_test, y_test, _ = load_image_folder(os.path.join(directory, "test"), class_names=names, **options)
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(
            f"The test images are {x_test.shape[1:]}, the training images {x_train.shape[1:]}: pass image_size."
        )
    unlabeled = None
    if os.path.isdir(os.path.join(directory, "unlabeled")):
        unlabeled = load_image_folder(os.path.join(directory, "unlabeled"), labels=None, **options)
        if unlabeled.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"The unlabeled images are {unlabeled.shape[1:]}, the training images {x_train.shape[1:]}: "
                "pass image_size."
            )
    return (x_train, y_train), (x_test, y_test), unlabeled, names
