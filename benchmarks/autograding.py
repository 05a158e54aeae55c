"""What autograding a class costs: `nbgrader autograde` of the course's notebooks, timed per submission.

For each notebook, an nbgrader course in a temporary folder, `--students` copies of the solution
submitted, one `nbgrader autograde` run for them all (as a teacher runs it), timed. Prints the
seconds per submission and what a class of `--class-size` costs at that rate, one notebook after
another on this machine. Fast mode (TLKERAS_FAST=1) unless `--full`; the autoencoder cache is the
user's, as it is for a teacher whose shared cache `make notebooks` filled.

Usage: python benchmarks/autograding.py [--students 2] [--class-size 30] [--full] [NOTEBOOK ...]
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

from _machine import describe

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def _course_script():
    spec = importlib.util.spec_from_file_location("course", os.path.join(ROOT, "scripts", "course.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2, help="submissions autograded per notebook")
    parser.add_argument("--class-size", type=int, default=30, help="students the projection is for")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    parser.add_argument("notebooks", nargs="*", help="default: every notebook of the course")
    args = parser.parse_args()
    if args.students < 1 or args.class_size < 1:
        parser.error(f"--students and --class-size must be positive: {args.students}, {args.class_size}")
    if args.full:
        os.environ.pop("TLKERAS_FAST", None)
    else:
        os.environ["TLKERAS_FAST"] = "1"
    course = _course_script()
    notebooks = [os.path.abspath(p) for p in args.notebooks] or course.SOURCES
    print(f"machine: {describe()}")
    print(f"mode: {'full' if args.full else 'fast'}; {args.students} submissions a notebook, one autograde run each")
    total = 0.0
    for notebook in notebooks:
        assignment = course.assignment_name(notebook)
        with tempfile.TemporaryDirectory() as work:
            root = course.make_course(os.path.join(work, "course"), [notebook])
            course.generate(root, assignment)
            for k in range(args.students):
                course.submit(root, f"student{k}", assignment, notebook)
            start = time.perf_counter()
            course.autograde(root, assignment)
            per_submission = (time.perf_counter() - start) / args.students
        total += per_submission
        print(f"{assignment}: {per_submission:.0f} s a submission", flush=True)
    hours = total * args.class_size / 3600
    print(
        f"every notebook once: {total:.0f} s a student; a class of {args.class_size}, one after another on this "
        f"machine: {hours:.1f} h"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
