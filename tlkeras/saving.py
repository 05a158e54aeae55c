"""Save and load models and reports without ever leaving a half-written file.

Writes go to a temporary file in the destination folder, then `os.replace`
moves it into place: a crash mid-write leaves the old file (or none), never a
corrupt one.
"""

import contextlib
import json
import os
import shutil
import stat
import tempfile
import threading
import zipfile

import keras

from tlkeras._validation import check_model
from tlkeras.models import compile_translations_on_jax

_TMP_MARK = ".tmp"


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_temporaries(folder, base):
    """Remove what killed writers of `base` left in `folder`: `.<base>.tmp<pid>-*` of dead processes."""
    prefix = f".{base}{_TMP_MARK}"
    for name in os.listdir(folder):
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            stale = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                shutil.rmtree(stale) if os.path.isdir(stale) and not os.path.islink(stale) else os.remove(stale)


def _default_mode(path):
    """The mode a plain `open(path, "w")` would give: the existing file's, else 0o666 less the umask."""
    if os.path.exists(path):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success move it onto `path`.

    The temporary name (`.<name>.tmp<pid>-<random><ext>`) keeps `path`'s
    extension, which Keras' savers check, and names the writing process, so the
    next write of the same file removes what a killed writer left. A symlink at
    `path` is written through (its target is replaced), and the new file gets
    the mode a plain `open` would give it.
    """
    path = os.path.realpath(os.fspath(path))
    folder = os.path.dirname(path)
    base = os.path.basename(path)
    os.makedirs(folder, exist_ok=True)
    _remove_stale_temporaries(folder, base)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}{_TMP_MARK}{os.getpid()}-", suffix=suffix)
    os.close(fd)
    try:
        os.chmod(tmp, _default_mode(path))
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# `tempfile.tempdir` is process-wide: two saves in two threads must not swap it under each other.
_TEMPDIR_LOCK = threading.Lock()


@contextlib.contextmanager
def _scratch_dir_beside(path):
    """Point `tempfile` at a private folder beside `path` while Keras saves.

    Keras stages a model's assets in a temporary folder; a killed save would
    leave it in /tmp for ever. Beside the target it is marked with our pid and
    removed by the next save of the same file.
    """
    path = os.path.realpath(os.fspath(path))
    with _TEMPDIR_LOCK:
        scratch = tempfile.mkdtemp(
            dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}{_TMP_MARK}{os.getpid()}-"
        )
        previous = tempfile.tempdir
        tempfile.tempdir = scratch
        try:
            yield
        finally:
            tempfile.tempdir = previous
            shutil.rmtree(scratch, ignore_errors=True)


def write_text(path, text):
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path, data):
    """Write JSON atomically, indented for people to read."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def check_model_path(path, name="path"):
    """`path` as a string, if a model can be saved there: a `.keras` name, not a folder, no file in its way.

    Missing folders are fine (saving makes them). Raises `ValueError` for another suffix, and the
    `OSError` saving would meet otherwise (`IsADirectoryError`, `NotADirectoryError`), its message
    naming the argument.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"`{name}` must end in '.keras'. Received: {name}={path!r}")
    expected = f"`{name}` must name a file that can be written. Received: {name}={path!r}"
    if os.path.isdir(path):
        raise IsADirectoryError(f"{expected}, a folder")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)  # the nearest part of the path that exists
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{expected}: {folder!r} is a file, not a folder")
    return path


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
    check_model(model)
    path = check_model_path(path)
    with atomic_path(path) as tmp, _scratch_dir_beside(path):
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
        model = keras.saving.load_model(path, compile=compile)
    except Exception as e:
        raise ValueError(
            f"`path` could not be loaded as a Keras model ({type(e).__name__}: {e}). Received: path={path!r}"
        ) from e
    return compile_translations_on_jax(model)  # as tlkeras built it: Keras does not save the lifted mark
