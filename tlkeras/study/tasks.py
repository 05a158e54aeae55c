"""The map's downstream tasks besides classification, one registered entry each.

The source article names three tasks transfer serves: classification (the label-efficiency
study's settings `in_domain`, `class_disjoint`, `cross_domain`), clustering and generation. Each
task other than classification is registered here by the module that holds it, with
everything the demo needs to run it, compare it, report it and draw it:

- `run(context) -> records`: the per-seed results (a `TaskContext` holds what every task may use);
- `compare(records) -> rows`: paired comparisons, each row with a `verdict`;
- `panels(rows) -> [plots.Panel]`: its panels of the map, each in the task's own unit;
- `report(rows, options) -> str`: its section of `report.md`;
- `sections(records, rows) -> dict`: what it adds to `results.json`.

`tlkeras demo --settings NAME` runs a registered task by its name; an unknown name is refused.
`tlkeras.study.clustering` and `tlkeras.study.generative` register the two built in
(`tlkeras.study.demo_plan` imports them).
"""

import dataclasses
from collections.abc import Callable

from tlkeras._validation import check_choice

TASKS = {}


@dataclasses.dataclass(frozen=True)
class TaskContext:
    """What a task's `run` gets.

    Attributes:
        options: the demo's `DemoOptions` (fast mode applied).
        study: the `StudyPlan` (`train`, `test`, `target_data`, ...).
        pretrained: the reconstruction `Pretrained` of the map's unlabeled images.
        config: its `PretrainConfig`.
        pool: every image without its label (the training images and any extra unlabeled ones).
        seeds: the paired seeds.
    """

    options: object
    study: object
    pretrained: object
    config: object
    pool: object
    seeds: tuple


@dataclasses.dataclass(frozen=True)
class DownstreamTask:
    """A registered task of the map (see the module's docstring for each part)."""

    name: str
    run: Callable
    compare: Callable
    panels: Callable
    report: Callable
    sections: Callable
    needs_target: bool = False  # runs on `--target`'s images (skipped, with a message, without them)
    description: str = ""


def register_task(name, *, compare, panels, report, sections, needs_target=False):
    """Register the decorated `run(context) -> records` as the map's task `name`.

    Example:
    >>> @register_task("doc_example", compare=lambda records: [], panels=lambda rows: [],
    ...                report=lambda rows, options: "", sections=lambda records, rows: {})
    ... def doc_example(context):
    ...     '''An example: never run.'''
    ...     return []
    >>> TASKS["doc_example"].description
    'An example: never run.'
    >>> del TASKS["doc_example"]
    """

    def register(run):
        if name in TASKS:
            raise ValueError(f"A downstream task named {name!r} is already registered.")
        description = (run.__doc__ or name).strip().splitlines()[0]
        TASKS[name] = DownstreamTask(name, run, compare, panels, report, sections, needs_target, description)
        return run

    return register


def run_task(name, context):
    """Run the task `name` and return `(records, rows)`."""
    task = TASKS[check_choice(name, "settings", tuple(TASKS))]
    records = task.run(context)
    return records, task.compare(records) if records else []
