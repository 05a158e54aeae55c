"""What each notebook of the course starts with: one call that sets up the run and says which run it is.

`setup_notebook(NAME)` reads the quick-run switch (`$TLKERAS_FAST`), picks the decoder that run builds
and, asked for, splits the CPU into devices (notebook 09). It prints which run this is, so that a
quick run's numbers are never read as the course's results: the quick run uses a few thousand
images and tens of steps to check that the notebook runs; the text's claims are about the full run.

A notebook prints each result through `run.show(KEY, TEXT)`. In the full run that prints TEXT. In the
quick run it prints TEXT marked as the quick run's, and beneath it the full run's line for the same
KEY, read from `results/notebooks/NAME.json`: what `python scripts/course.py record NAME` published
from a full run of the notebook (its machine, backend, date and the hash of the code it ran, which the
tests compare with the notebook's code, so the two cannot drift apart).
"""

import dataclasses
import json
import os
import re

from tlkeras._validation import FAST_MODE_VARIABLE, fast_mode
from tlkeras.models import decoder_upsampling
from tlkeras.saving import write_json

# The full runs' results a quick run shows beside its own (written by `scripts/course.py record`).
FULL_RUNS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "notebooks")
# Set by `scripts/course.py record`: a full run writes every shown line to `$TLKERAS_RECORD_DIR/NAME.json`.
RECORD_VARIABLE = "TLKERAS_RECORD_DIR"
QUICK_RUN = (
    f"QUICK RUN ({FAST_MODE_VARIABLE}=1): a few thousand images and tens of steps, to check that the notebook "
    "runs. Its numbers are too short to judge by and may contradict the text, which describes the full run "
    f"(unset {FAST_MODE_VARIABLE}): each result below is followed by the full run's."
)
FULL_RUN = f"Full run: the values of the parameters cell ({FAST_MODE_VARIABLE}=1 would make it a quick check)."
QUICK, FULL = "quick run | ", "full run  | "


def load_full_run(notebook, full_runs=FULL_RUNS):
    """The published full run of `notebook` (`{"shown": {key: text}, ...}`), or `None` where none is.

    Raises `ValueError` naming the file when it is not a record of shown results.
    """
    path = os.path.join(full_runs, f"{notebook}.json")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from e
    if not isinstance(record, dict) or not isinstance(record.get("shown"), dict):
        raise ValueError(f"{path!r} is not a notebook's full run: expected a `shown` object of results by key.")
    return record


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """The run a notebook is in.

    Attributes:
        fast: the quick run (`$TLKERAS_FAST`).
        upsampling: the decoder's upsampling for this run (`tlkeras.models.decoder_upsampling`).
        devices: the devices data-parallel training uses, when the CPU was split; else `None`.
        notebook: the notebook's name (`"01_pretrain_autoencoder"`): where its full run is published.
        full_run: in the quick run, the notebook's published full run (`load_full_run`), if there is one.
        record_dir: in a full run that publishes its results (`$TLKERAS_RECORD_DIR`), where they go.
    """

    fast: bool
    upsampling: str
    devices: int | None = None
    notebook: str | None = None
    full_run: dict | None = None
    record_dir: str | None = None

    def show(self, key, text):
        """Print the result `text`; in the quick run, marked so, with the full run's result `key` beneath it.

        Args:
            key: the result's name in the notebook, lower case with dashes (`"validation-mse"`).
            text: the result as the notebook prints it, one or more lines.

        Example:
        >>> run = NotebookRun(True, "transpose", notebook="demo", full_run={"shown": {"mse": "MSE 0.0093"}})
        >>> run.show("mse", "MSE 0.0302")
        quick run | MSE 0.0302
        full run  | MSE 0.0093
        """
        if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key):
            raise ValueError(f"`key` must be lower-case words joined by dashes ('validation-mse'). Received: {key!r}")
        if not isinstance(text, str):
            raise TypeError(f"`text` must be the result as a string. Received: {type(text).__name__}")
        if not self.fast:
            print(text)
            if self.record_dir is not None:
                path = os.path.join(self.record_dir, f"{self.notebook}.json")
                record = load_full_run(self.notebook, self.record_dir)
                write_json(path, {**record, "shown": {**record["shown"], key: text}})
            return
        print(_marked(QUICK, text))
        shown = (self.full_run or {}).get("shown", {})
        if key in shown:
            print(_marked(FULL, shown[key]))
        else:
            where = os.path.join("results", "notebooks", f"{self.notebook}.json")
            print(f"{FULL}not published ({where} has no {key!r}: `python scripts/course.py record {self.notebook}`)")


def _marked(mark, text):
    """`text` with `mark` before its first line and the mark's width of `|` before the others."""
    indent = " " * (len(mark) - 2) + "| "
    return "\n".join((mark if i == 0 else indent) + line for i, line in enumerate(text.splitlines() or [""]))


def setup_notebook(notebook=None, devices=None, environ=None, full_runs=FULL_RUNS):
    """Set up a course notebook's run and print which run it is.

    Args:
        notebook: the notebook's name without `.ipynb`: its full run's results are published under it.
        devices: split the CPU into this many devices (`tlkeras.scaling.distribute.split_cpu`), a
            stand-in for several GPUs; call this before the backend computes anything. `None`: no split.
        environ: where `TLKERAS_FAST` and `TLKERAS_RECORD_DIR` are read (default: the process environment).
        full_runs: the folder of the published full runs.

    Returns:
        A `NotebookRun`.

    Example:
    >>> setup_notebook(environ={"TLKERAS_FAST": "1"}).fast
    QUICK RUN (TLKERAS_FAST=1): a few thousand images and tens of steps, ...
    True
    """
    environ = os.environ if environ is None else environ
    if notebook is not None and (not isinstance(notebook, str) or not re.fullmatch(r"[\w-]+", notebook)):
        raise ValueError(f"`notebook` must be the notebook's file name without '.ipynb'. Received: {notebook!r}")
    fast = fast_mode(environ)
    if devices is not None:
        from tlkeras.scaling.distribute import split_cpu  # scaling out: notebook 09 only

        devices = split_cpu(devices)
    print(QUICK_RUN if fast else FULL_RUN)
    full_run = record_dir = None
    if fast and notebook is not None:
        full_run = load_full_run(notebook, full_runs)
        if full_run is None:
            print(f"No full run of {notebook} is published yet: `python scripts/course.py record {notebook}`.")
        else:
            print(f"The full run's results: results/notebooks/{notebook}.json ({_provenance(full_run)}).")
    elif notebook is not None and environ.get(RECORD_VARIABLE):
        import keras  # the backend the record was made on

        record_dir = environ[RECORD_VARIABLE]
        write_json(
            os.path.join(record_dir, f"{notebook}.json"),
            {"notebook": notebook, "backend": keras.backend.backend(), "shown": {}},
        )
    return NotebookRun(fast, decoder_upsampling(fast), devices, notebook, full_run, record_dir)


def _provenance(record):
    """Where and how a full run was made, in a few words."""
    environment = record.get("environment", {})
    parts = [record.get("command"), environment.get("machine"), record.get("backend"), environment.get("date")]
    return ", ".join(str(part) for part in parts if part)
