"""What each notebook of the course starts with: one call that sets up the run and says which run it is.

`setup_notebook()` reads the quick-run switch (`$TLKERAS_FAST`), picks the decoder that run builds
and, asked for, splits the CPU into devices (notebook 09). It prints which run this is, so that a
quick run's numbers are never read as the course's results: the quick run uses a few thousand
images and tens of steps to check that the notebook runs; the text's claims are about the full run.
The teacher's guide (docs/teaching.md) says why each quick-run value is what it is.
"""

import dataclasses

from tlkeras._validation import FAST_MODE_VARIABLE, fast_mode
from tlkeras.models import decoder_upsampling

QUICK_RUN = (
    f"QUICK RUN ({FAST_MODE_VARIABLE}=1): a few thousand images and tens of steps, to check that the notebook "
    "runs. Its numbers are too short to judge by and may contradict the text, which describes the full run "
    f"(unset {FAST_MODE_VARIABLE}); the course's measured results are in results/ (docs/benchmarks.md)."
)
FULL_RUN = f"Full run: the values of the parameters cell ({FAST_MODE_VARIABLE}=1 would make it a quick check)."


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """The run a notebook is in.

    Attributes:
        fast: the quick run (`$TLKERAS_FAST`).
        upsampling: the decoder's upsampling for this run (`tlkeras.models.decoder_upsampling`).
        devices: the devices data-parallel training uses, when the CPU was split; else `None`.
    """

    fast: bool
    upsampling: str
    devices: int | None = None


def setup_notebook(devices=None, environ=None):
    """Set up a course notebook's run and print which run it is.

    Args:
        devices: split the CPU into this many devices (`tlkeras.scaling.distribute.split_cpu`), a
            stand-in for several GPUs; call this before the backend computes anything. `None`: no split.
        environ: where `TLKERAS_FAST` is read (default: the process environment).

    Returns:
        A `NotebookRun`.

    Example:
    >>> setup_notebook(environ={"TLKERAS_FAST": "1"}).fast
    QUICK RUN (TLKERAS_FAST=1): a few thousand images and tens of steps, ...
    True
    """
    fast = fast_mode(environ)
    if devices is not None:
        from tlkeras.scaling.distribute import split_cpu  # scaling out: notebook 09 only

        devices = split_cpu(devices)
    print(QUICK_RUN if fast else FULL_RUN)
    return NotebookRun(fast, decoder_upsampling(fast), devices)
