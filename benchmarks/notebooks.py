"""Wall time of each notebook, in fast mode (TLKERAS_FAST=1, what CI runs) or in full mode.

Each notebook runs in a fresh kernel, in a temporary copy of notebooks/, so nothing
is written into the tree. The pretrained-autoencoder cache (~/.cache/tlkeras) is
shared, as it is for a user: the first notebook that needs it pays for it.

Usage: python benchmarks/notebooks.py [--full] [NOTEBOOK ...]
"""

import argparse
import glob
import os
import shutil
import tempfile
import time

import nbformat
from _machine import describe
from nbclient import NotebookClient

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    parser.add_argument("notebooks", nargs="*", help="default: notebooks/NN_*.ipynb")
    args = parser.parse_args()
    paths = args.notebooks or sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb")))
    if args.full:
        os.environ.pop("TLKERAS_FAST", None)
    else:
        os.environ["TLKERAS_FAST"] = "1"
    mode = "full" if args.full else "fast"
    print(f"machine: {describe()}")
    total = 0.0
    with tempfile.TemporaryDirectory() as work:
        for path in paths:
            target = os.path.join(work, os.path.basename(path))
            shutil.copy(path, target)
            nb = nbformat.read(target, as_version=4)
            start = time.perf_counter()
            NotebookClient(nb, timeout=1800, resources={"metadata": {"path": work}}).execute()
            seconds = time.perf_counter() - start
            total += seconds
            print(f"{os.path.basename(path):<34} {mode}: {seconds:6.1f} s", flush=True)
    print(f"{'all notebooks':<34} {mode}: {total:6.1f} s")


if __name__ == "__main__":
    main()
