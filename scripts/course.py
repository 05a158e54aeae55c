"""The course as an nbgrader course: student versions of the notebooks, and autograding.

The notebooks in `notebooks/NN_*.ipynb` are nbgrader *source* notebooks: solution cells (the code
between `### BEGIN SOLUTION` and `### END SOLUTION`), locked autograded test cells with points
(some with `### BEGIN HIDDEN TESTS` regions a student never sees), and markdown answers graded by
hand. Each notebook is one nbgrader assignment named after it. The student versions in
`notebooks/exercises/` are what `nbgrader generate_assignment` releases; never edit them by hand.

Usage:
    python scripts/course.py release [--check]   # regenerate notebooks/exercises/ (or only compare)
    python scripts/course.py setup COURSE_DIR    # a course folder with every assignment, for a teacher
    python scripts/course.py words               # what a student reads: prose words and minutes, per notebook
    python scripts/course.py record [NAME ...]   # run notebooks in full mode, publish what they show

`record` executes each named source notebook (default: all that show results) in full mode in a fresh kernel and a
temporary folder, and writes `results/notebooks/NAME.json`: every line the notebook shows with
`run.show`, which the quick run prints beneath its own, with the command, machine, package
versions, date, run time and the SHA-256 of the notebook's code (`code_sha256`: the tests fail when
the code changed after its full run). A notebook that fails publishes nothing.

Functions for the tests: `make_course`, `generate`, `submit`, `autograde`, `scores`, `prose_words`.
nbgrader runs from this interpreter's environment (its `bin/` goes on `PATH`: nbgrader calls `alembic`).
"""

import argparse
import filecmp
import glob
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import nbformat

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
SOURCES = sorted(glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb")))
EXERCISES = os.path.join(ROOT, "notebooks", "exercises")
READING_SPEED = 150  # words a minute, for docs/teaching.md's student time
CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "tlkeras"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ExecutePreprocessor.timeout = 1200
"""


def assignment_name(notebook):
    """`notebooks/03_freeze_and_train_head.ipynb` -> `03_freeze_and_train_head`."""
    return os.path.splitext(os.path.basename(notebook))[0]


def make_course(course_dir, notebooks=SOURCES):
    """A course folder: `nbgrader_config.py` and `source/<assignment>/<notebook>` for each notebook."""
    os.makedirs(course_dir, exist_ok=True)
    with open(os.path.join(course_dir, "nbgrader_config.py"), "w", encoding="utf-8") as f:
        f.write(CONFIG)
    for notebook in notebooks:
        folder = os.path.join(course_dir, "source", assignment_name(notebook))
        os.makedirs(folder, exist_ok=True)
        shutil.copy(notebook, folder)
    return course_dir


def nbgrader(course_dir, *args):
    """Run `nbgrader *args` in `course_dir`; raise with its output when it fails."""
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    command = [os.path.join(bin_dir, "nbgrader"), *args, "--force"]
    done = subprocess.run(command, cwd=course_dir, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[1:])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def generate(course_dir, assignment):
    """`nbgrader generate_assignment`: the student version in `release/<assignment>/`."""
    nbgrader(course_dir, "generate_assignment", assignment)
    return os.path.join(course_dir, "release", assignment)


def submit(course_dir, student, assignment, notebook):
    """Put `notebook` where nbgrader expects student `student`'s submission of `assignment`."""
    folder = os.path.join(course_dir, "submitted", student, assignment)
    os.makedirs(folder, exist_ok=True)
    shutil.copy(notebook, os.path.join(folder, f"{assignment}.ipynb"))


def autograde(course_dir, assignment):
    """`nbgrader autograde`, one run for every submission of `assignment`: execute each, restore the
    locked and hidden tests, score them. Returns `{student: path of the autograded notebook}`."""
    nbgrader(course_dir, "autograde", assignment)
    students = sorted(os.listdir(os.path.join(course_dir, "submitted")))
    return {
        student: os.path.join(course_dir, "autograded", student, assignment, f"{assignment}.ipynb")
        for student in students
    }


def scores(course_dir, student, assignment):
    """`{grade_id: (score, max_score)}` of the autograded test cells of one submission."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{os.path.join(course_dir, 'gradebook.db')}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {
            grade.name: (grade.score, grade.max_score)
            for notebook in submission.notebooks
            for grade in notebook.grades
            if grade.cell_type == "code"
        }


def release(check=False):
    """Regenerate `notebooks/exercises/` from the source notebooks; with `check`, only list what differs."""
    stale = []
    with tempfile.TemporaryDirectory() as course_dir:
        make_course(course_dir)
        os.makedirs(EXERCISES, exist_ok=True)
        for notebook in SOURCES:
            name = os.path.basename(notebook)
            released = os.path.join(generate(course_dir, assignment_name(notebook)), name)
            target = os.path.join(EXERCISES, name)
            if not (os.path.exists(target) and filecmp.cmp(released, target, shallow=False)):
                stale.append(target)
                if not check:
                    shutil.copy(released, target)
    for target in stale:
        print(("out of date: " if check else "wrote ") + os.path.relpath(target))
    return stale


def prose_words(notebook):
    """Words in the markdown cells of `notebook`'s student version: what a student reads."""
    cells = nbformat.read(os.path.join(EXERCISES, os.path.basename(notebook)), as_version=4).cells
    return sum(len(cell.source.split()) for cell in cells if cell.cell_type == "markdown")


QUICK_RUN = "if course.fast:"  # the cell right after the parameters that sets the quick run's values


def code_sha256(notebook):
    """SHA-256 of a notebook's code cells: what its published full run ran.

    The quick-run cell (`if course.fast:` right after the parameters; tests/test_notebooks.py checks that it holds
    that one branch) is left out: a full run skips it, so the quick run's values change without a new full run.
    """
    cells = nbformat.read(notebook, as_version=4).cells
    code = [cell.source for cell in cells if cell.cell_type == "code"]
    code = [source for source in code if not source.startswith(QUICK_RUN)]
    return hashlib.sha256("\n\0".join(code).encode("utf-8")).hexdigest()


def shown_keys(notebook):
    """The keys of the results a source notebook shows (`course.show("key", ...)`): what its full run publishes."""
    cells = nbformat.read(notebook, as_version=4).cells
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    return re.findall(r'course\.show\(\s*"([^"]+)"', code)


def record(names=None, full_runs=None, sources=SOURCES):
    """Execute source notebooks in full mode and publish what each shows (see the module's docstring)."""
    from nbclient import NotebookClient

    from tlkeras.course import FULL_RUNS, RECORD_VARIABLE, load_full_run
    from tlkeras.saving import write_json
    from tlkeras.study.published import environment

    full_runs = full_runs or FULL_RUNS
    by_name = {os.path.splitext(os.path.basename(path))[0]: path for path in sources}
    unknown = sorted(set(names or ()) - by_name.keys())
    if unknown:
        raise ValueError(f"`names` must be course notebooks, {sorted(by_name)}. Received: {unknown}")
    for name in names or sorted(name for name, path in by_name.items() if shown_keys(path)):
        with tempfile.TemporaryDirectory() as work:
            shutil.copy(by_name[name], work)
            nb = nbformat.read(os.path.join(work, f"{name}.ipynb"), as_version=4)
            environ = dict(os.environ)
            os.environ.pop("TLKERAS_FAST", None)  # the full run, whatever the caller's mode
            os.environ[RECORD_VARIABLE] = work  # the kernel inherits this environment
            try:
                start = time.perf_counter()
                NotebookClient(nb, timeout=3600, resources={"metadata": {"path": work}}).execute()
                seconds = time.perf_counter() - start
            finally:
                os.environ.clear()
                os.environ.update(environ)
            shown = load_full_run(name, work)
            if shown is None or not shown["shown"]:
                raise RuntimeError(f"{name} showed no result: does it call `setup_notebook({name!r})` and `show`?")
            published = {
                **shown,
                "command": f"python scripts/course.py record {name}",
                "seconds": round(seconds, 1),
                "code_sha256": code_sha256(by_name[name]),
                "environment": environment(),
            }
            write_json(os.path.join(full_runs, f"{name}.json"), published)
        count = len(shown["shown"])
        where = os.path.relpath(full_runs)
        print(f"{name}: {count} result{'s' * (count != 1)} in {seconds:.0f} s -> {where}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="regenerate notebooks/exercises/")
    release_parser.add_argument("--check", action="store_true", help="only report out-of-date student versions")
    setup_parser = commands.add_parser("setup", help="set up a course folder with every assignment, for nbgrader")
    setup_parser.add_argument("course_dir")
    commands.add_parser("words", help="prose words of each student version, and reading minutes at 150 words/min")
    record_parser = commands.add_parser("record", help="run notebooks in full mode; publish the results they show")
    record_parser.add_argument("names", nargs="*", help="notebook names without .ipynb (default: all)")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.names)
        return 0
    if args.command == "release":
        return 1 if release(check=args.check) and args.check else 0
    if args.command == "words":
        for notebook in SOURCES:
            words = prose_words(notebook)
            print(f"{assignment_name(notebook)}: {words} words, {math.ceil(words / READING_SPEED)} min of reading")
        return 0
    make_course(args.course_dir)
    for notebook in SOURCES:
        generate(args.course_dir, assignment_name(notebook))
    print(f"course in {args.course_dir}: release/ holds the student versions; collect submissions into submitted/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
