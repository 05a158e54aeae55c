"""Keras' backend started without TensorFlow's start-up lines, which are not for a student's first screen.

Importing TensorFlow (the default backend) prints half a dozen lines from C++ to the process's
standard error before its logging can be configured ("All log messages before
absl::InitializeLog() ...", "Could not find cuda drivers ...", "rebuild TensorFlow with the
appropriate compiler flags", "failed call to cuInit ..."): `TF_CPP_MIN_LOG_LEVEL` does not remove
them. Importing tlkeras starts the backend with file descriptor 2 caught, then writes back every
line that is not one of those: real warnings and errors still show. `TLKERAS_STARTUP_LOGS=1` shows
everything. A program that imported Keras before tlkeras has already printed them.
"""

import contextlib
import os
import re
import sys
import tempfile

STARTUP_NOISE = re.compile(
    "|".join(
        (
            r"All log messages before absl::InitializeLog\(\) is called",
            r"oneDNN custom operations are on",
            r"Could not find cuda drivers on your machine",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"rebuild TensorFlow with the appropriate compiler flags",
            r"failed call to cuInit",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"TF-TRT Warning: Could not find TensorRT",
        )
    )
)


@contextlib.contextmanager
def filtered_stderr(noise=STARTUP_NOISE):
    """Catch what is written to file descriptor 2 inside the block; write back the lines `noise` does not match."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 to catch
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def start_backend():
    """Import Keras and start its backend (TensorFlow: look for GPUs once), its start-up lines filtered."""
    show_all = os.environ.get("TLKERAS_STARTUP_LOGS", "0").strip().lower() in ("1", "true", "yes", "on")
    if "keras" in sys.modules or show_all:
        return
    with filtered_stderr():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # where TensorFlow says it found no CUDA driver


start_backend()
