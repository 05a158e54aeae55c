"""Your own images: folders of image files, the Keras way.

The layout is `keras.utils.image_dataset_from_directory`'s: one sub-folder per class, named after
it (class names sorted alphanumerically give the labels 0, 1, ...), or, for images without labels,
a folder of image files::

    my_data/
      train/   cat/ 001.png ...   dog/ 001.png ...
      test/    cat/ ...           dog/ ...
      unlabeled/  0001.jpg 0002.jpg ...       (optional)

Images are decoded with Pillow, converted to `color_mode` (`"grayscale"`, `"rgb"` or `"rgba"`),
resized bilinearly to `image_size` when one is given, and scaled to float32 in [0, 1]. 16-bit
grayscale (PNG) is scaled from its own range, 0-65535; a mode without a fixed range (32-bit integer
or float pixels) or one Pillow cannot convert is refused with its name, as is an image whose header
declares more pixels than Pillow's decompression-bomb limit.

`load_image_folder` reads a folder into arrays; `load_folder_dataset` reads the train / test /
unlabeled layout above for `tlkeras demo --data DIR`; `ImageFolderStream` reads a folder batch by
batch while a model trains, for folders too large to hold in memory (`tlkeras.images.streaming`).
Files that are not images, or that cannot be decoded, are skipped with a warning that counts them
(`on_error="skip"`) or refused (`on_error="raise"`).
"""

import hashlib
import math
import numbers
import os
import threading
import warnings

import keras
import numpy as np

from tlkeras._validation import check_choice, check_number, check_seed

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
    size = (image_size, image_size) if isinstance(image_size, numbers.Number) else image_size
    try:
        size = tuple(size)
    except TypeError:
        size = ()
    if len(size) != 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            "`image_size` must be None, a positive int or a (height, width) pair of positive ints. "
            f"Received: image_size={image_size!r}"
        )
    return int(size[0]), int(size[1])


def _files(folder):
    """Every non-hidden file under `folder`, sub-folders included, sorted."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".")]
    return found


# Pillow's 16-bit grayscale modes: their pixels run over 0-65535, which `convert("L")` would clip to 255.
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _eight_bit(image):
    """`image` with 8-bit channels: 16-bit grayscale rescaled from 0-65535; a mode without a fixed range refused."""
    from PIL import Image

    if image.mode in _SIXTEEN_BIT or (image.mode == "I" and image.format == "PNG"):
        pixels = np.asarray(image, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("I", "F"):
        raise ValueError(f"mode {image.mode!r} (32-bit pixels) has no fixed range to scale to [0, 1]")
    return image


def _decode(path, mode, size):
    from PIL import Image

    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return None, f"not an image file (extensions read: {', '.join(IMAGE_EXTENSIONS)})"
    source_mode = None
    try:
        with Image.open(path) as image:
            source_mode = image.mode
            image = _eight_bit(image).convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except Image.DecompressionBombError as e:
        return None, f"refused: its header declares more pixels than Pillow's limit ({e})"
    except MemoryError:
        return None, "cannot be decoded: not enough memory for its pixels"
    except Exception as e:  # Pillow's decoders raise OSError, ValueError, SyntaxError, EOFError, struct.error...
        where = f"mode {source_mode!r}, " if source_mode else ""
        return None, f"cannot be decoded ({where}{type(e).__name__}: {e})"
    return (pixels[..., None] if pixels.ndim == 2 else pixels), None


def _read(paths, mode, size, on_error, what):
    """`(images, indices of the paths read)`: unreadable files skipped with one warning, or refused."""
    images, kept, problems = [], [], []
    for index, path in enumerate(paths):
        pixels, problem = _decode(path, mode, size)
        if problem:
            if on_error == "raise":
                raise ValueError(f"{path}: {problem}. Pass on_error='skip' to leave such files out.")
            problems.append(f"{os.path.basename(path)}: {problem}")
            continue
        if images:
            _check_same_size(pixels.shape, images[0].shape, path, paths[kept[0]], what)
        images.append(pixels)
        kept.append(index)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        warnings.warn(f"Skipped {len(problems)} of {len(paths)} files in {what}: {shown}", stacklevel=3)
    return images, kept


def _check_same_size(shape, first_shape, path, first_path, what):
    if shape != first_shape:
        raise ValueError(
            f"Images of different sizes in {what}: {first_path} is {first_shape[1]}x{first_shape[0]}, "
            f"{path} is {shape[1]}x{shape[0]} (width x height). Pass image_size=(height, width) "
            "to resize them all."
        )


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
    paths, labels_of, class_names = _list_images(directory, labels, class_names)
    images, kept = _read(paths, mode, size, on_error, directory)
    if not images:
        raise ValueError(f"No images in {directory!r} (extensions read: {', '.join(IMAGE_EXTENSIONS)}).")
    x = np.stack(images).astype("float32") / 255.0
    if labels is None:
        return x
    y = labels_of[kept]
    _check_every_class_has_images(y, directory, class_names)
    return x, y, class_names


def _class_folders(directory):
    return sorted(n for n in os.listdir(directory) if os.path.isdir(os.path.join(directory, n)) and n[0] != ".")


def _list_images(directory, labels, class_names):
    """`(paths, labels or None, class names or None)` of the files in `directory`'s layout."""
    check_choice(labels, "labels", ("inferred", None))
    if labels is None:
        if class_names is not None:
            raise ValueError(
                f"`class_names` needs labels='inferred'. Received: class_names={class_names!r}, labels=None"
            )
        return _files(directory), None, None
    found = _class_folders(directory)
    if class_names is None:
        class_names = found
        if not class_names:
            raise ValueError(
                f"{directory!r} has no class sub-folders: put each class's images in a folder named after it "
                "(or pass labels=None for images without labels)."
            )
    else:
        if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple)) or not class_names:
            raise ValueError(
                f"`class_names` must be a non-empty list of class folder names. Received: class_names={class_names!r}"
            )
        class_names = [str(c) for c in class_names]
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"`class_names` must not name a folder twice. Received: class_names={class_names!r}")
        missing = [c for c in class_names if c not in found]
        if missing:
            raise FileNotFoundError(f"No folder for class(es) {missing} in {directory!r}; it has {found}.")
    paths, labels_of = [], []
    for label, name in enumerate(class_names):
        files = _files(os.path.join(directory, name))
        paths += files
        labels_of += [label] * len(files)
    return paths, np.asarray(labels_of, dtype="int64"), class_names


def _first_of_each_class(labels, count):
    """The indices of `count` files taken in turn from each class (labels sorted), in their sorted order."""
    rank = np.arange(len(labels)) - np.searchsorted(labels, labels)
    return np.sort(np.lexsort((labels, rank))[:count])


def _check_every_class_has_images(y, directory, class_names):
    counts = np.bincount(y, minlength=len(class_names))
    if not counts.all():
        empty = os.path.join(directory, class_names[int(np.argmin(counts))])
        raise ValueError(f"No images in the class folder {empty!r}.")


def load_folder_dataset(directory, image_size=None, color_mode="grayscale", on_error="skip"):
    """The layout `tlkeras demo --data DIR` reads: `train/<class>/`, `test/<class>/`, optional `unlabeled/`.

    The test classes must be among the training classes (same folder names): a test class folder
    that `train/` lacks is refused.

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
    unknown = sorted(set(_class_folders(os.path.join(directory, "test"))) - set(names))
    if unknown:
        raise ValueError(
            f"{os.path.join(directory, 'test')!r} has class folder(s) {unknown} that 'train' lacks: a classifier "
            f"trained on {names} cannot be tested on them. Remove them or add their training images."
        )
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


class ImageFolderStream(keras.utils.PyDataset):
    """A folder of images read batch by batch: memory stays bounded however many files it holds.

    The layout and options are `load_image_folder`'s. Each batch's files are decoded when Keras
    asks for it (by `workers` threads, `max_queue_size` batches ahead), so memory holds a few
    batches, not the folder. The order is shuffled anew every epoch from `seed`. Files without an
    image extension are left out when the stream is made; a file that cannot be decoded is left out
    of its batch and counted in `skipped` (`on_error="skip"`), or raises (`on_error="raise"`). A last
    batch of a single image joins the batch before it.

    Args:
        directory: a folder of class folders (`labels="inferred"`, batches `(images, labels)`)
            or of images (`labels=None`, batches of images).
        image_size: `None` (every image must have the first one's size), an int or `(height, width)`.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`. Defaults to `"grayscale"`.
        labels: `"inferred"` or `None`. Defaults to `"inferred"`.
        class_names: the class folders to read, in label order; `None` takes them all, sorted.
        batch_size: images per batch. Defaults to `32`.
        shuffle: shuffle the files every epoch. Defaults to `True`.
        seed: seed of the shuffling. Defaults to `0`.
        max_images: read only `max_images` files, or all: the first ones in sorted order, or, with
            labels, the first of each class in turn (every class keeps images).
        on_error: `"skip"` or `"raise"`. Defaults to `"skip"`.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of `keras.utils.PyDataset`.

    Example:
    >>> import tempfile, os, numpy as np
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for i in range(5):
    ...     Image.fromarray(np.full((8, 8, 3), 40 * i, "uint8")).save(os.path.join(root, f"{i}.png"))
    >>> stream = ImageFolderStream(root, color_mode="rgb", labels=None, batch_size=2, shuffle=False)
    >>> len(stream), stream.image_shape, stream[1].shape  # no batch of one image: the last one has 3
    (2, (8, 8, 3), (3, 8, 8, 3))
    """

    def __init__(
        self,
        directory,
        image_size=None,
        color_mode="grayscale",
        labels="inferred",
        class_names=None,
        batch_size=32,
        shuffle=True,
        seed=0,
        max_images=None,
        on_error="skip",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.directory = _check_directory(directory)
        self.size = _image_size(image_size)
        self.color_mode = color_mode
        self.mode = COLOR_MODES[check_choice(color_mode, "color_mode", COLOR_MODES)]
        self.on_error = check_choice(on_error, "on_error", ON_ERROR)
        self.batch_size = check_number(batch_size, "batch_size", 1, integer=True)
        self.shuffle, self.seed = bool(shuffle), check_seed(seed)
        paths, labels_of, self.class_names = _list_images(self.directory, labels, class_names)
        is_image = np.array([p.lower().endswith(IMAGE_EXTENSIONS) for p in paths], bool)
        if not is_image.all():
            others = [os.path.basename(p) for p, ok in zip(paths, is_image, strict=True) if not ok]
            if on_error == "raise":
                raise ValueError(f"{others[0]} in {self.directory!r} is not an image file. Pass on_error='skip'.")
            warnings.warn(
                f"Left out {len(others)} files without an image extension in {self.directory!r}: "
                f"{', '.join(others[:3])}{', ...' if len(others) > 3 else ''}",
                stacklevel=2,
            )
        self.paths = [p for p, ok in zip(paths, is_image, strict=True) if ok]
        self.labels = None if labels_of is None else labels_of[is_image]
        if max_images is not None:
            check_number(max_images, "max_images", 1, integer=True)
            if self.labels is None:
                keep = np.arange(min(max_images, len(self.paths)))
            else:
                classes = len(self.class_names)
                if max_images < classes:
                    raise ValueError(
                        f"`max_images` must leave each of the {classes} classes an image: at least {classes}. "
                        f"Received: max_images={max_images}"
                    )
                keep = _first_of_each_class(self.labels, max_images)
            self.paths = [self.paths[i] for i in keep]
            self.labels = None if self.labels is None else self.labels[keep]
        self.skipped = []
        first = self._first_readable()
        if not self.paths:
            raise ValueError(f"No images in {self.directory!r} (extensions read: {', '.join(IMAGE_EXTENSIONS)}).")
        if self.labels is not None:
            _check_every_class_has_images(self.labels, self.directory, self.class_names)
        self.image_shape = first.shape
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(self.seed)
        self._order = np.arange(len(self.paths))
        self.on_epoch_end()

    def _first_readable(self):
        """The first image that decodes (it sets the stream's image shape); the unreadable files before it left out."""
        for index, path in enumerate(self.paths):
            pixels, problem = _decode(path, self.mode, self.size)
            if not problem:
                self.paths = self.paths[index:]
                self.labels = None if self.labels is None else self.labels[index:]
                return pixels
            if self.on_error == "raise":
                raise ValueError(f"{path}: {problem}. Pass on_error='skip' to leave such files out.")
            self.skipped.append(f"{os.path.basename(path)}: {problem}")
        if self.paths:
            raise ValueError(f"No readable image in {self.directory!r}: {'; '.join(self.skipped[:3])}")
        return None

    def __len__(self):
        # A last batch of one image joins the one before: PyTorch (2.13, CPU) cannot train the
        # grayscale reconstruction layer, a one-filter Conv2D, on a batch of one image.
        count = len(self.paths)
        return max(1, count // self.batch_size) if count % self.batch_size == 1 else math.ceil(count / self.batch_size)

    def on_epoch_end(self):
        if self.skipped:
            warnings.warn(
                f"Skipped {len(self.skipped)} unreadable files in {self.directory!r} so far: "
                f"{'; '.join(self.skipped[:3])}{'; ...' if len(self.skipped) > 3 else ''}",
                stacklevel=2,
            )
        if self.shuffle:
            self._order = self._rng.permutation(len(self.paths))

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of a stream of {len(self)} batches")
        end = len(self.paths) if index == len(self) - 1 else (index + 1) * self.batch_size
        picked = self._order[index * self.batch_size : end]
        images, kept = [], []
        for i in picked:
            pixels, problem = _decode(self.paths[i], self.mode, self.size)
            if problem:
                if self.on_error == "raise":
                    raise ValueError(f"{self.paths[i]}: {problem}. Pass on_error='skip' to leave such files out.")
                with self._lock:
                    self.skipped.append(f"{os.path.basename(self.paths[i])}: {problem}")
                continue
            _check_same_size(pixels.shape, self.image_shape, self.paths[i], self.paths[0], self.directory)
            images.append(pixels)
            kept.append(i)
        if not images:
            raise ValueError(f"No readable image in batch {index} of {self.directory!r}: {self.skipped[-1]}")
        x = np.stack(images).astype("float32") / 255.0
        return x if self.labels is None else (x, self.labels[kept])

    def fingerprint(self):
        """What the stream yields, as a dict: each file's name, size and modification time (hashed), and the options."""
        digest = hashlib.sha256()
        for path in self.paths:
            try:
                stat = os.stat(path)
                state = f"{stat.st_size}\0{stat.st_mtime_ns}"
            except OSError as e:  # a dangling link, a file removed since
                state = f"unreadable ({type(e).__name__})"
            digest.update(os.fsencode(os.path.relpath(path, self.directory)) + f"\0{state}\n".encode())
        return {
            "files": len(self.paths),
            "sha256": digest.hexdigest(),
            "image_shape": list(self.image_shape),
            "color_mode": self.color_mode,
            "class_names": self.class_names,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "seed": self.seed,
        }
