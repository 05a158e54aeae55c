"""The notebooks as files: stripped, parametrised, nbgrader sources with student versions.

Executing them is `make test`'s nbmake step (`TLKERAS_FAST=1 pytest --nbmake notebooks/*.ipynb`, on each backend);
`benchmarks/notebook_seeds.py` runs them per seed, with papermill injecting `SEED` after the parameters cell.
"""

import ast
import glob
import json
import os
import re
import subprocess

import nbformat
import pytest
from helpers import load_script

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
SOLUTIONS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb")))
EXERCISES = sorted(glob.glob(os.path.join(ROOT, "notebooks", "exercises", "*.ipynb")))


def test_the_teaching_guide_counts_the_words_a_student_reads():
    course = load_script("course")
    with open(os.path.join(ROOT, "docs", "teaching.md"), encoding="utf-8") as f:
        rows = {line.split()[1]: line for line in f if line.startswith("| 0")}
    assert len(rows) == len(SOLUTIONS)
    for path in SOLUTIONS:
        words = course.prose_words(path)
        assert f"| {words} words |" in rows[os.path.basename(path)[:2]], (
            f"{path}: {words} words; update docs/teaching.md"
        )


def test_there_is_a_numbered_course():
    names = [os.path.basename(p) for p in SOLUTIONS]
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(len(names))] and len(names) >= 6


def test_make_test_runs_every_notebook_on_tensorflow_and_another_backend():
    """TensorFlow grades every notebook (tests/test_course.py); nbmake runs each on JAX, PyTorch or both."""
    dry_run = subprocess.run(
        ["make", "-n", "notebook-tests", "TEST_BACKENDS=tensorflow jax torch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tests/test_course.py" in dry_run
    listed = {backend: re.search(rf'{backend}\) notebooks="([^"]*)"', dry_run) for backend in ("jax", "torch")}
    assert all(listed.values()), dry_run
    ran = [os.path.basename(path) for match in listed.values() for path in match.group(1).split()]
    assert sorted(set(ran)) == [os.path.basename(path) for path in SOLUTIONS], ran
    assert "09_scaling_out.ipynb" in listed["jax"].group(1) and "09_scaling_out.ipynb" in listed["torch"].group(1)


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
    # the knobs a student changes, the full run's values: the harness stays out of the parameters cell
    assert "SEED" in tagged[0].source
    for plumbing in ("FAST", "fast_mode", "backend()", "decoder_upsampling", "split_cpu", " CI "):
        assert plumbing not in tagged[0].source, f"{path}: {plumbing!r} in the parameters cell"
    # tlkeras first, so that Keras starts without TensorFlow's start-up lines (tlkeras._quiet)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.startswith("import tlkeras"), "the first code cell imports tlkeras, before keras"
    # one setup call before the parameters (the quick-run switch, read as the library reads it, and its banner)
    before = "\n".join(c.source for c in nb.cells[: nb.cells.index(tagged[0])] if c.cell_type == "code")
    assert before.count("setup_notebook(") == 1, f"{path}: one `course = setup_notebook()` before the parameters"
    # the quick run's values, if any, in the one cell right after the parameters
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    quick = [i for i, source in enumerate(code) if source.startswith("if course.fast:")]
    assert len(quick) <= 1 and all(code[i - 1] == tagged[0].source for i in quick), f"{path}: the quick-run cell"
    # ... and nothing else: a full run skips it whole (its code is left out of the full run's code hash)
    for i in quick:
        [branch] = ast.parse(code[i]).body
        assert isinstance(branch, ast.If) and not branch.orelse, f"{path}: the quick-run cell is one `if`, no `else`"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "assert" in code, "a notebook checks its own claims"
    assert "tf.keras" not in code, "Keras 3: `import keras`, never tf.keras"
    # TensorFlow itself only for TensorFlow-only features (tf.distribute), behind a backend check.
    assert "import tensorflow" not in code or 'if BACKEND == "tensorflow":' in code


def _grading(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("path", SOLUTIONS, ids=os.path.basename)
def test_each_notebook_is_an_nbgrader_source_with_two_graded_exercises(path):
    """The shape `nbgrader generate_assignment` needs; the round trip itself is tests/test_course.py."""
    cells = nbformat.read(path, as_version=4).cells
    ids = [_grading(c)["grade_id"] for c in cells if _grading(c)]
    assert len(ids) == len(set(ids)), f"{path}: grade ids repeat: {ids}"
    graded = [c for c in cells if _grading(c).get("grade")]
    assert len(graded) >= 2 and all(_grading(c).get("points", 0) > 0 for c in graded), f"{path}: >= 2 graded cells"
    for i, cell in enumerate(cells):
        meta = _grading(cell)
        if "### BEGIN SOLUTION" in cell.source:
            assert meta.get("solution"), f"{path}, cell {i}: a solution region outside a solution cell"
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert meta.get("grade") and meta.get("locked"), f"{path}, cell {i}: hidden tests outside a test cell"
        if cell.cell_type == "code" and meta.get("solution"):
            # Autograded: the next nbgrader cell is its locked test cell, and the test really tests.
            test = next(c for c in cells[i + 1 :] if _grading(c))
            assert _grading(test).get("grade") and _grading(test).get("locked"), f"{path}, cell {i}: no test cell"
            assert "assert" in test.source or "checks.check_" in test.source, f"{path}: {_grading(test)['grade_id']}"


@pytest.mark.parametrize("path", EXERCISES, ids=os.path.basename)
def test_student_versions_hide_solutions_and_hidden_tests(path):
    source = nbformat.read(os.path.join(ROOT, "notebooks", os.path.basename(path)), as_version=4)
    released = nbformat.read(path, as_version=4)
    assert len(released.cells) == len(source.cells)
    for mine, theirs in zip(released.cells, source.cells, strict=True):
        assert "BEGIN SOLUTION" not in mine.source and "BEGIN HIDDEN TESTS" not in mine.source
        if _grading(theirs).get("solution"):
            assert "NotImplementedError" in mine.source or "YOUR ANSWER HERE" in mine.source
        elif "BEGIN HIDDEN TESTS" not in theirs.source:
            assert mine.source == theirs.source


def test_every_notebook_has_a_student_version():
    assert [os.path.basename(p) for p in EXERCISES] == [os.path.basename(p) for p in SOLUTIONS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=os.path.basename)
def test_parameters_cell_values_do_not_derive_from_each_other(path):
    """papermill injects new values *after* the parameters cell: a value computed there from another
    parameter (say `SEEDS = (SEED, SEED + 1)`) would silently keep the old one."""
    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    assigned = set()
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), f"{path}: the parameters cell holds assignments only"
        used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        assert not used & assigned, f"{path}: {ast.unparse(node)} derives from another parameter"
        assigned |= {t.id for t in node.targets}


@pytest.mark.parametrize("path", SOLUTIONS, ids=os.path.basename)
def test_a_notebook_shows_its_results_beside_its_published_full_run(path):
    """Outside autograded test cells, a measured number or a table is printed with `course.show`; the quick run
    prints the full run's beneath it, from a full run of the notebook's current code."""
    course = load_script("course")
    name = os.path.splitext(os.path.basename(path))[0]
    cells = nbformat.read(path, as_version=4).cells
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    assert re.search(rf'setup_notebook\(\s*"{name}"', code), f"{path}: `course = setup_notebook({name!r})`"
    for cell in cells:
        graded_test = cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution")
        for printed in re.findall(r"print\((?:.|\n)*?\)\n", cell.source + "\n"):
            assert graded_test or not re.search(r":[+ ]?[\d,]*\.\d+f|_table\(", printed), (
                f"{path}: a result printed without its full run; show it: course.show(key, text)\n{printed}"
            )
    keys = course.shown_keys(path)
    assert len(keys) == len(set(keys)), f"{path}: a key shown twice: {sorted(keys)}"
    if not keys:
        return
    published = os.path.join(ROOT, "results", "notebooks", f"{name}.json")
    rerun = f"run it again: python scripts/course.py record {name}"
    assert os.path.exists(published), f"{published} is missing: {rerun}"
    with open(published, encoding="utf-8") as f:
        record = json.load(f)
    assert record["code_sha256"] == course.code_sha256(path), f"{path} changed after its full run: {rerun}"
    assert set(keys) <= record["shown"].keys(), f"{published} lacks {sorted(set(keys) - record['shown'].keys())}"
    assert not record["environment"]["uncommitted_changes"], f"{published} was recorded from uncommitted code: {rerun}"
    with open(os.path.join(ROOT, "docs", "teaching.md"), encoding="utf-8") as f:
        [row] = [line for line in f if line.startswith(f"| {name[:2]} ")]
    assert row.split("|")[2].strip() == f"{round(record['seconds'])} s", f"docs/teaching.md: {name}'s run time"
