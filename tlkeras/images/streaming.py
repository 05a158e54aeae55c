"""Streaming input: training on batches read as they are needed, so memory does not grow with the data.

`pretrain_autoencoder`, `fine_tune` and `label_efficiency` take, instead of an array, a *stream*:

- a `keras.utils.PyDataset`, such as `tlkeras.images.folders.ImageFolderStream` (image files decoded batch by
  batch, shuffled every epoch from a seed, on any backend);
- a `tf.data.Dataset` of batches (Keras reads it on the JAX and PyTorch backends too), built the
  usual way: `.shuffle(...).batch(...).prefetch(tf.data.AUTOTUNE)`.

A stream yields batches of images (for an autoencoder) or `(images, labels)` (for a classifier).
Every batch of a `PyDataset` is checked as it is read (shape, dtype, values in [0, 1], labels in
range); a `tf.data.Dataset` has its first batch checked. A `PyDataset` with a `fingerprint()`
method returning a dict (`ImageFolderStream`'s: file names, sizes and modification times) can key
the pretraining cache.
"""

import keras
import numpy as np

from tlkeras._validation import check_images, check_labels


def is_stream(x):
    """Whether `x` is a `keras.utils.PyDataset` or a `tf.data.Dataset` (without importing TensorFlow)."""
    if isinstance(x, keras.utils.PyDataset):
        return True
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "element_spec")


def _is_tf_dataset(x):
    return is_stream(x) and not isinstance(x, keras.utils.PyDataset)


def _parts(batch, name, labeled):
    """`(images, labels or None)` of one batch, as NumPy arrays."""
    if isinstance(batch, dict):
        raise ValueError(f"`{name}` must yield arrays or (images, labels) tuples. Received a batch of type dict.")
    if isinstance(batch, (tuple, list)):
        if labeled and len(batch) < 2:
            raise ValueError(f"`{name}` must yield (images, labels) batches. Received batches of {len(batch)} part.")
        return np.asarray(batch[0]), (np.asarray(batch[1]) if labeled else None)
    if labeled:
        raise ValueError(f"`{name}` must yield (images, labels) batches. Received batches of images alone.")
    return np.asarray(batch), None


def _first_batch(stream, name):
    """The first batch of `stream`, as it yields it."""
    if isinstance(stream, keras.utils.PyDataset):
        if stream.num_batches == 0:
            raise ValueError(f"`{name}` is empty: it has no batches.")
        batch = stream[0]
    else:
        try:
            batch = next(iter(stream))
        except StopIteration:
            raise ValueError(f"`{name}` is empty: it has no batches.") from None
    return batch


class CheckedBatches(keras.utils.PyDataset):
    """Another `PyDataset`'s batches, each checked, shaped for `fit`: `(x, x)` for an autoencoder, else `(x, y)`.

    Workers, multiprocessing and queue size are the wrapped stream's.
    """

    def __init__(self, stream, name, image_shape, num_classes=None, autoencoder=False):
        super().__init__(
            workers=stream.workers, use_multiprocessing=stream.use_multiprocessing, max_queue_size=stream.max_queue_size
        )
        self.stream, self.name, self.image_shape = stream, name, image_shape
        self.num_classes, self.autoencoder = num_classes, autoencoder
        self.error = None  # the first bad batch's ValueError, for `fit_or_raise` to raise as it is

    def __len__(self):
        return len(self.stream)

    def __getitem__(self, index):
        try:
            images, labels = _parts(self.stream[index], self.name, labeled=not self.autoencoder)
            images = check_images(images, f"{self.name} (batch {index})", expected_shape=self.image_shape)
            if self.autoencoder:
                return images, images
            labels = check_labels(labels, f"{self.name} (labels of batch {index})", self.num_classes, len(images))
            return images, labels
        except ValueError as e:
            self.error = self.error or e
            raise

    def on_epoch_end(self):
        self.stream.on_epoch_end()


def for_fit(stream, name, image_shape=None, num_classes=None, autoencoder=False):
    """`stream` ready for `fit`, its first batch checked; returns `(stream, image_shape)`.

    Args:
        stream: a `PyDataset` or a `tf.data.Dataset` (see the module's docstring).
        name: the argument's name, for error messages.
        image_shape: the shape each image must have; `None` takes the first batch's.
        num_classes: labels must lie in `[0, num_classes)` (classifiers).
        autoencoder: yield `(images, images)` (the labels of a labeled stream are dropped).
    """
    images, labels = _parts(_first_batch(stream, name), name, labeled=not autoencoder)
    images = check_images(images, f"{name} (first batch)", expected_shape=image_shape)
    if not autoencoder:
        check_labels(labels, f"{name} (labels of the first batch)", num_classes, len(images))
    image_shape = images.shape[1:]
    if _is_tf_dataset(stream):
        if autoencoder:
            stream = stream.map(lambda *batch: (batch[0], batch[0]))
        return stream, image_shape
    return CheckedBatches(stream, name, image_shape, num_classes, autoencoder), image_shape


def take_images(stream, count, name):
    """The first `count` images of `stream` (fewer if it holds fewer), as one float32 array, checked."""
    batches, held = [], 0
    if isinstance(stream, keras.utils.PyDataset):
        iterator = (stream[i] for i in range(len(stream)))
    else:
        iterator = iter(stream)
    for batch in iterator:
        images = check_images(_parts(batch, name, labeled=False)[0], name)
        batches.append(images[: count - held])
        held += len(batches[-1])
        if held >= count:
            break
    if not batches:
        raise ValueError(f"`{name}` is empty: it has no batches.")
    return np.concatenate(batches)


def stream_fingerprint(stream):
    """The dict a `PyDataset`'s `fingerprint()` returns (what a cache entry was trained on), else `None`.

    A `tf.data.Dataset` has none: its own `fingerprint()` names the pipeline, not the data in it.
    """
    method = getattr(stream, "fingerprint", None)
    if _is_tf_dataset(stream) or not callable(method):
        return None
    identity = method()
    if not isinstance(identity, dict):
        raise ValueError(
            f"A stream's fingerprint() must return a JSON-ready dict. Received: {type(identity).__name__} "
            f"from {type(stream).__name__}.fingerprint()"
        )
    return identity
