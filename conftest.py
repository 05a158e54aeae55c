"""Notebooks run slowest first: with two test workers, a long notebook started last leaves a core idle.

Applies to every test whose id names a course notebook (nbmake's items, the nbgrader round trip).
"""

import re

# The slowest notebooks in the TensorFlow round trip, make test's longest step, slowest first
# (`TLKERAS_FAST=1 pytest -m notebooks tests/test_course.py -k ... --durations=0`, 2-core Xeon, a few notebooks a run:
# 08 416 s, 06 308 s, 04 201 s, 09 201 s, 01 210 s in an earlier run; the others under 120 s).
SLOWEST_FIRST = ("08", "06", "01", "04", "09")


def pytest_collection_modifyitems(items):
    def rank(item):
        found = re.search(r"(\d\d)_\w+\.ipynb", item.nodeid)
        number = found.group(1) if found else None
        return SLOWEST_FIRST.index(number) if number in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
