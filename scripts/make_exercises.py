"""Generate the exercise notebooks from the solution notebooks.

In every code cell of `notebooks/NN_*.ipynb`, the lines between
`### BEGIN SOLUTION` and `### END SOLUTION` (nbgrader's markers) are replaced by
a placeholder that raises `NotImplementedError`; everything else is kept. The
results go to `notebooks/exercises/`, stripped of outputs. Never edit those by
hand: run `python scripts/make_exercises.py` (the tests fail on a difference).

Usage: python scripts/make_exercises.py [--check]
"""

import argparse
import glob
import os
import re
import sys

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = os.path.join(HERE, os.pardir, "notebooks")
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)
PLACEHOLDER = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"


def strip_solutions(source):
    """The cell source with each solution region replaced by the placeholder."""
    return SOLUTION.sub(lambda m: PLACEHOLDER.format(indent=m.group(1)), source)


def exercise_notebook(path):
    """The exercise version of one solution notebook, as a notebook node."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return nb


def render(nb):
    return nbformat.writes(nb) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report exercise notebooks that are out of date")
    args = parser.parse_args(argv)
    out_dir = os.path.join(NOTEBOOKS, "exercises")
    os.makedirs(out_dir, exist_ok=True)
    stale = []
    for path in sorted(glob.glob(os.path.join(NOTEBOOKS, "[0-9][0-9]_*.ipynb"))):
        nb = nbformat.read(path, as_version=4)
        if not any("### BEGIN SOLUTION" in c.source for c in nb.cells if c.cell_type == "code"):
            continue
        target = os.path.join(out_dir, os.path.basename(path))
        text = render(exercise_notebook(path))
        current = open(target, encoding="utf-8").read() if os.path.exists(target) else None
        if current != text:
            stale.append(target)
            if not args.check:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
    for target in stale:
        print(("out of date: " if args.check else "wrote ") + os.path.relpath(target))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
