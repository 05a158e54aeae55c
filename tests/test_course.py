"""The nbgrader round trip, in a temporary course folder, for every notebook.

Each test releases one notebook with `nbgrader generate_assignment` (it must equal the committed
student version), then autogrades the submissions: the solution (full marks on every test cell, no
cell fails), the untouched student version (0 points on every test cell, no crash), for the
exercises tlkeras could answer, the library's shortcut (`SHORTCUTS`: it loses exactly the points of
that exercise) and, for notebook 03, a typical wrong answer (it loses exactly the points of its
test). Autograding executes the notebooks, so these tests are the `notebooks` mark: `make test` runs
them in its notebook step, in fast mode, instead of nbmake on the first backend
(`pytest -m notebooks tests/test_course.py`).
"""

import filecmp
import glob
import os

import nbformat
import pytest
from helpers import load_script

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
course = load_script("course")

pytestmark = pytest.mark.notebooks


def _errors(path):
    cells = nbformat.read(path, as_version=4).cells
    return [
        (i, output.get("ename"), output.get("evalue"))
        for i, cell in enumerate(cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]


def _without(source_path, grade_id, line, target):
    """The solution notebook with `line` taken out of the cell `grade_id`: a typical wrong answer."""
    nb = nbformat.read(source_path, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert line in cell.source
    cell.source = cell.source.replace(line, "")
    nbformat.write(nb, target)
    return target


def _graded_tests(notebook):
    """The grade ids of the autograded test cells of a source notebook."""
    cells = nbformat.read(notebook, as_version=4).cells
    grading = [cell.metadata.get("nbgrader", {}) for cell in cells if cell.cell_type == "code"]
    return {meta["grade_id"] for meta in grading if meta.get("grade") and not meta.get("solution")}


# The library shortcut of an exercise whose answer tlkeras already has: `{notebook prefix: (grade id, the
# answer in place of the solution)}`. Submitted with the solution, it must score 0 on that exercise's tests.
SHORTCUTS = {
    "00": (
        "ex00-stratified",
        "    from tlkeras.data import sample_per_class\n\n"
        "    return sample_per_class(np.arange(len(labels)), labels, n, seed)[0]\n",
    ),
    "01": ("ex01-plain-encoder", 'my_encoder = autoencoder.get_layer("encoder")\n'),
    "04": (
        "ex04-paired",
        "    from tlkeras.study.statistics import paired_interval as library\n\n"
        "    return library(np.subtract(transfer, scratch))\n",
    ),
    "07": (
        "ex07-pseudo",
        "    from tlkeras.study.parts import balanced_confident\n\n"
        "    return balanced_confident(probabilities, per_class)\n",
    ),
}


def _answered(source_path, grade_id, answer, target):
    """The solution notebook with the solution of cell `grade_id` replaced by `answer`."""
    nb = nbformat.read(source_path, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    start, end = cell.source.index("### BEGIN SOLUTION"), cell.source.index("### END SOLUTION")
    begin = cell.source.rindex("\n", 0, start) + 1 if "\n" in cell.source[:start] else 0
    after = cell.source.find("\n", end)
    cell.source = cell.source[:begin] + answer + (cell.source[after + 1 :] if after >= 0 else "")
    nbformat.write(nb, target)
    return target


@pytest.mark.parametrize("notebook", course.SOURCES, ids=os.path.basename)
def test_release_and_autograde(notebook, tmp_path):
    name, assignment, tests = os.path.basename(notebook), course.assignment_name(notebook), _graded_tests(notebook)
    root = course.make_course(str(tmp_path / "course"), [notebook])
    released = os.path.join(course.generate(root, assignment), name)
    assert filecmp.cmp(released, os.path.join(course.EXERCISES, name), shallow=False), (
        "the student version is out of date: run `python scripts/course.py release`"
    )

    course.submit(root, "solution", assignment, notebook)
    course.submit(root, "untouched", assignment, released)
    shortcut = SHORTCUTS.get(name[:2])
    if shortcut:
        course.submit(root, "shortcut", assignment, _answered(notebook, *shortcut, str(tmp_path / name)))
    graded = course.autograde(root, assignment)  # every submission, one nbgrader run
    assert graded.keys() == {"solution", "untouched"} | ({"shortcut"} if shortcut else set())
    assert _errors(graded["solution"]) == [], "the solution notebook runs without an error"
    full = course.scores(root, "solution", assignment)
    assert full.keys() == tests and all(score == maximum > 0 for score, maximum in full.values()), full

    untouched = course.scores(root, "untouched", assignment)
    assert untouched.keys() == tests and all(score == 0 for score, _ in untouched.values()), untouched
    if shortcut:  # the library's answer earns none of the exercise's points, and costs no other
        scores = course.scores(root, "shortcut", assignment)
        lost = {grade_id: maximum - score for grade_id, (score, maximum) in scores.items() if score != maximum}
        assert lost == {f"{shortcut[0]}-tests": scores[f"{shortcut[0]}-tests"][1]}, scores


def test_forgetting_to_freeze_loses_exactly_the_points_of_its_test(tmp_path):
    [notebook] = glob.glob(os.path.join(ROOT, "notebooks", "03_*.ipynb"))
    assignment = course.assignment_name(notebook)
    root = course.make_course(str(tmp_path / "course"), [notebook])
    course.generate(root, assignment)
    wrong = _without(notebook, "ex03-freeze", "encoder.trainable = False\n", str(tmp_path / "wrong.ipynb"))
    course.submit(root, "forgot-to-freeze", assignment, wrong)
    course.autograde(root, assignment)
    scores = course.scores(root, "forgot-to-freeze", assignment)
    lost = {grade_id: maximum - score for grade_id, (score, maximum) in scores.items() if score != maximum}
    assert lost == {"ex03-freeze-tests": scores["ex03-freeze-tests"][1]}, scores
