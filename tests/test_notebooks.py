"""The notebooks as files: stripped, parametrised, and their exercise versions up to date.

Executing them is `make test`'s nbmake step (`TLKERAS_FAST=1 pytest --nbmake notebooks/*.ipynb`, on each backend);
`benchmarks/notebook_seeds.py` runs them per seed, with papermill injecting `SEED` after the parameters cell.
"""

import glob
import importlib.util
import os

import nbformat
import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
SOLUTIONS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb")))
EXERCISES = sorted(glob.glob(os.path.join(ROOT, "notebooks", "exercises", "*.ipynb")))


def _make_exercises():
    spec = importlib.util.spec_from_file_location("make_exercises", os.path.join(ROOT, "scripts", "make_exercises.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_is_a_numbered_course():
    names = [os.path.basename(p) for p in SOLUTIONS]
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(len(names))] and len(names) >= 6


@pytest.mark.parametrize("path", SOLUTIONS + EXERCISES, ids=os.path.basename)
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path}: strip the outputs"


@pytest.mark.parametrize("path", SOLUTIONS, ids=os.path.basename)
def test_each_notebook_opens_with_a_title_and_has_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert (
        first.cell_type == "markdown"
        and first.source.startswith("# ")
        and "After it you will be able to" in first.source
    )
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    assert 'os.environ.get("TLKERAS_FAST") == "1"' in tagged[0].source and "SEED" in tagged[0].source
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "assert" in code, "a notebook checks its own claims"
    assert "tf.keras" not in code, "Keras 3: `import keras`, never tf.keras"
    # TensorFlow itself only for TensorFlow-only features (tf.distribute), behind a backend check.
    assert "import tensorflow" not in code or 'if BACKEND == "tensorflow":' in code


def test_exercise_notebooks_are_generated_and_up_to_date():
    assert _make_exercises().main(["--check"]) == 0, "run `python scripts/make_exercises.py`"
    with_solutions = [p for p in SOLUTIONS if "### BEGIN SOLUTION" in open(p).read()]
    assert [os.path.basename(p) for p in with_solutions] == [os.path.basename(p) for p in EXERCISES]


def test_exercises_hide_the_solution_and_keep_the_check():
    source = "a = 1\n### BEGIN SOLUTION\nsecret = 42\n### END SOLUTION\nprint(check(secret))"
    stripped = _make_exercises().strip_solutions(source)
    assert "secret = 42" not in stripped and "raise NotImplementedError()" in stripped
    assert stripped.startswith("a = 1\n") and stripped.endswith("print(check(secret))")
    for path in EXERCISES:
        text = open(path).read()
        assert "### BEGIN SOLUTION" not in text and "NotImplementedError" in text and "checks.check_" in text


@pytest.mark.parametrize("path", SOLUTIONS, ids=os.path.basename)
def test_parameters_cell_values_do_not_derive_from_each_other(path):
    """papermill injects new values *after* the parameters cell: a value computed there from another
    parameter (say `SEEDS = (SEED, SEED + 1)`) would silently keep the old one."""
    import ast

    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    assigned = set()
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), f"{path}: the parameters cell holds assignments only"
        used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        assert not used & (assigned - {"FAST"}), f"{path}: {ast.unparse(node)} derives from another parameter"
        assigned |= {t.id for t in node.targets}
