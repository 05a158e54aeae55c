"""Do the notebooks' asserts hold for any seed, on every backend? Run each notebook per seed and backend.

Each run is a fresh kernel (papermill injects `SEED` after the cell tagged `parameters`), in fast mode
unless --full, in a working folder (temporary unless --keep), with `KERAS_BACKEND` set for the kernel.
With --as-script each notebook runs as one plain Python script of its code cells instead (`SEED` set
the same way; plots drawn off screen), for a machine without Jupyter, such as a bare GPU machine. The
pretrained-autoencoder cache is shared, as it is for a user. Prints one line per run and a markdown
pass table (a failing run names the first line of its error) for docs/benchmarks.md.

Usage: python benchmarks/notebook_seeds.py [NOTEBOOK ...] [--backends B ...] [--seeds S ...] [--full]
[--as-script] [--keep DIR] (notebooks first: --backends and --seeds take several values)
"""

import argparse
import contextlib
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from _machine import describe
from tqdm import tqdm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def notebook_as_script(path, seed):
    """The notebook's code cells as one script, `SEED = seed` right after the `parameters` cell."""
    with open(path, encoding="utf-8") as f:
        cells = [cell for cell in json.load(f)["cells"] if cell["cell_type"] == "code"]
    parts = []
    for cell in cells:
        parts.append("".join(cell["source"]))
        if "parameters" in cell["metadata"].get("tags", []):
            parts.append(f"SEED = {seed}")
    return "\n\n".join(parts) + "\n"


def run_notebook(path, backend, seed, full, work, as_script=False):
    """Execute one notebook; return (passed, seconds, first line of the error or '')."""
    stem = os.path.join(work, f"{backend}-{seed}-{os.path.splitext(os.path.basename(path))[0]}")
    output = stem + (".py" if as_script else ".ipynb")
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.pop("TLKERAS_FAST", None) if full else env.update(TLKERAS_FAST="1")
    if as_script:
        with open(output, "w", encoding="utf-8") as f:
            f.write(notebook_as_script(path, seed))
        env.update(MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")])))
        command = [sys.executable, output]
    else:
        command = [sys.executable, "-m", "papermill", path, output, "-p", "SEED", str(seed), "--cwd", work]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=work)
    seconds = time.perf_counter() - start
    with open(stem + ".log", "w", encoding="utf-8") as f:
        f.write(done.stdout + done.stderr)
    if done.returncode == 0:
        return True, seconds, ""
    error = done.stderr.strip().splitlines()[-1:] or ["the run failed"]
    if not as_script and os.path.exists(output):
        import nbformat

        for cell in nbformat.read(output, as_version=4).cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    error = [f"{out['ename']}: {out['evalue']}".splitlines()[0]]
    return False, seconds, error[0][:160]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode, as CI runs them)")
    parser.add_argument("--as-script", action="store_true", help="run the code cells as a Python script (no Jupyter)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep each run's output and log there")
    parser.add_argument("notebooks", nargs="*", help="default: notebooks/NN_*.ipynb")
    args = parser.parse_args()
    paths = args.notebooks or sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb")))
    paths = [os.path.abspath(p) for p in paths]
    mode = "full" if args.full else "fast"
    print(f"machine: {describe()}; {mode} mode", flush=True)
    results = {}
    jobs = [(p, b, s) for p in paths for b in args.backends for s in args.seeds]
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    with tempfile.TemporaryDirectory() if args.keep is None else contextlib.nullcontext(args.keep) as work:
        for path, backend, seed in tqdm(jobs, desc="notebook runs", file=sys.stdout):
            passed, seconds, error = run_notebook(path, backend, seed, args.full, os.path.abspath(work), args.as_script)
            results[path, backend, seed] = (passed, seconds, error)
            verdict = "pass" if passed else f"FAIL ({error})"
            tqdm.write(f"{os.path.basename(path)} {backend} seed {seed}: {verdict}, {seconds:.0f} s", file=sys.stdout)
    print(f"\n| notebook | {' | '.join(args.backends)} |")
    print("|---|" + "---|" * len(args.backends))
    for path in paths:
        cells = []
        for backend in args.backends:
            runs = [results[path, backend, s] for s in args.seeds]
            passed = sum(r[0] for r in runs)
            seconds = sum(r[1] for r in runs) / len(runs)
            failed = [f"seed {s}: {r[2]}" for s, r in zip(args.seeds, runs, strict=True) if not r[0]]
            cells.append(f"{passed}/{len(runs)} pass, {seconds:.0f} s" + (f" ({'; '.join(failed)})" if failed else ""))
        print(f"| {os.path.basename(path)} | {' | '.join(cells)} |")
    sys.exit(0 if all(r[0] for r in results.values()) else 1)


if __name__ == "__main__":
    main()
