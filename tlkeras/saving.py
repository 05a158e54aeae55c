"""Save and load models and reports without ever leaving a half-written file.

Writes go to a temporary file in the destination folder, then `os.replace`
moves it into place: a crash mid-write leaves the old file (or none), never a
corrupt one.
"""

import contextlib
import json
import os
import tempfile
import zipfile

import keras


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success move it onto `path`.

    The temporary name keeps `path`'s extension, which Keras' savers check.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path, data):
    """Write JSON atomically, indented for people to read."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_model(model, path):
    """Save a Keras model to a `.keras` file atomically.

    Args:
        model: the `keras.Model` to save.
        path: destination; must end in `.keras`.

    Example:
    >>> from tlkeras.models import build_encoder
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "encoder.keras")
    >>> save_model(build_encoder((16, 16, 1), filters=(8,), latent_dim=4), path)
    >>> load_model(path).name
    'encoder'
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"`path` must end in '.keras'. Received: path={path!r}")
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(path, compile=True):
    """Load a `.keras` model, with a clear error for a missing or corrupt file.

    Args:
        path: a `.keras` file written by `save_model` or `model.save`.
        compile: restore the compiled state too. Defaults to `True`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable `.keras` archive.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"`path` does not exist. Received: path={path!r}")
    if not path.endswith(".keras"):
        raise ValueError(f"`path` must be a '.keras' file. Received: path={path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"`path` is not a valid .keras file (not a zip archive: truncated or corrupt?). Received: path={path!r}"
        )
    try:
        return keras.saving.load_model(path, compile=compile)
    except Exception as e:
        raise ValueError(
            f"`path` could not be loaded as a Keras model ({type(e).__name__}: {e}). Received: path={path!r}"
        ) from e
