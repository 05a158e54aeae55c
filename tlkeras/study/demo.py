"""The main job: where learning from unlabeled images pays off, measured, as a report folder.

Pretrain (or reuse) the autoencoder, show what it learned, extract and freeze
its encoder, then run the label-efficiency study in each classification setting
of the map:

- `in_domain`: unlabeled and labeled images from the same dataset;
- `class_disjoint`: the autoencoder sees only the source classes' images, the
  classifiers learn the target classes;
- `cross_domain`: the autoencoder of `in_domain` transferred to another dataset;

and each registered downstream task (`tlkeras.study.tasks`): `clustering` (the
test images clustered from the codes, against pixels) and `generative` (the
autoencoder fine-tuned to denoise a handful of the other dataset's images,
against the same network trained on them from scratch).

Every choice is made on a validation split of the training images; every
comparison with scratch is paired per seed with a 95 % confidence interval.
The folder (`report.md`, `results.json`, `results.csv`, PNG plots) is written
beside the target and renamed into place at the end, so it always holds one
whole run.
"""

import dataclasses
import os
import shutil
import tempfile
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from tlkeras import data, plots
from tlkeras.models import build_classifier
from tlkeras.objectives import get_objective
from tlkeras.pretraining import POOR_RECONSTRUCTION, PretrainConfig, pretrain_autoencoder, reconstruction_quality
from tlkeras.saving import write_text
from tlkeras.scaling.precision import mixed_precision
from tlkeras.study.demo_plan import DemoOptions, plan
from tlkeras.study.label_efficiency import arm_name, label_efficiency, protocol, strategy_glossary
from tlkeras.study.published import environment
from tlkeras.study.reports import comparison_table, markdown_table, say_multiplicity, write_results
from tlkeras.study.schedule import Schedule
from tlkeras.study.statistics import compare_ablations, compare_with_scratch, recommend, summarize
from tlkeras.study.strategies import list_ablations, option_names
from tlkeras.study.tasks import TASKS, TaskContext, run_task
from tlkeras.transfer import extract_encoder, freeze, trainable_report


def _say(message):
    print(message, flush=True)


def run_demo(options=DemoOptions(), command=None):
    """Run the demo and return `(comparison rows, output folder)`.

    Args:
        options: a `DemoOptions`.
        command: the command line that started it, recorded in `results.json`.
    """
    study = plan(options)
    options = study.options
    target = os.path.abspath(options.output)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staging = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.partial-")
    try:
        with mixed_precision(options.precision):
            rows = _run(study, staging, command)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rows, options.output


def _move_into_place(staging, target):
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.old-")
        os.rename(target, os.path.join(old, "report"))
    os.rename(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _pretrain(options, images, label, objective="reconstruction", labels=None):
    config = PretrainConfig(
        dataset=options.dataset,
        epochs=options.pretrain_epochs,
        min_steps=options.pretrain_min_steps,
        max_images=options.max_images,
        seed=options.seed,
        objective=objective,
    )
    count = min(len(images), options.max_images or len(images))
    what = "unlabeled images" if labels is None else "labeled images"
    _say(f"      pretraining the conv encoder ({objective}) on {count} {what} ({label})")
    pretrained = pretrain_autoencoder(config, cache_dir=options.cache_dir, images=images, verbose="auto", labels=labels)
    _say(
        f"      {'reused the cached' if pretrained.cached else 'trained a new'} encoder "
        f"({pretrained.seconds:.0f} s of training){': ' + pretrained.path if pretrained.path else ''}"
    )
    return config, pretrained


def _pretrain_each(options, images, labels, label, first):
    """`({objective: autoencoder}, {objective: seconds of training})` of `options.pretrainings`.

    `first`: the reconstruction `Pretrained`, if made already.
    """
    made = {}
    for objective in options.pretrainings:
        if objective == "reconstruction" and first is not None:
            made[objective] = first
        elif get_objective(objective).targets == "labels" and labels is None:
            _say(f"      {objective} pretraining skipped here: it would train on the labels of the classes scored")
        else:
            needs = get_objective(objective).targets == "labels"
            made[objective] = _pretrain(options, images, label, objective, labels if needs else None)[1]
    return {k: p.autoencoder for k, p in made.items()}, {k: round(p.seconds, 1) for k, p in made.items()}


def pretraining_ablations(strategies, pretrainings, cuts):
    """The pairs that credit a pretraining: each transfer strategy and cut, one pretraining against another.

    `supervised` against `reconstruction` credits the source labels (the same network, images and
    steps; only the labels differ); every objective against `random` credits its training (the
    same recipe from the same start, never trained).

    Example:
    >>> pretrainings = ("reconstruction", "supervised", "random")
    >>> for pair in pretraining_ablations(("scratch", "lp_ft"), pretrainings, ("bottleneck",)):
    ...     print(pair)
    ('lp_ft@supervised', 'lp_ft', 'the source labels')
    ('lp_ft', 'lp_ft@random', 'reconstruction pretraining')
    ('lp_ft@supervised', 'lp_ft@random', 'supervised pretraining')
    """
    pairs = []
    if {"reconstruction", "supervised"} <= set(pretrainings):
        pairs.append(("supervised", "reconstruction", "the source labels"))
    if "random" in pretrainings:
        pairs += [(p, "random", f"{p} pretraining") for p in pretrainings if p != "random"]
    return [
        (arm_name(s, trained, cut), arm_name(s, without, cut), removes)
        for trained, without, removes in pairs
        for s in strategies
        if "cut" in option_names(s)
        for cut in cuts
    ]


def _run(study, out, command):
    options, (x_train, y_train), (x_test, _) = study.options, study.train, study.test
    name = options.data or options.dataset
    started = time.perf_counter()
    extra = study.extra_unlabeled
    pool = x_train if extra is None else np.concatenate([x_train, extra])  # every image without its label
    _say(
        f"[1/5] Data: {name}, {len(x_train)} training images {x_train.shape[1:]}, {len(x_test)} test images"
        + ("" if extra is None else f", {len(extra)} more without labels")
    )
    _say("[2/5] Pretraining")
    config, pretrained = _pretrain(options, pool, "all classes" if extra is None else "all classes and unlabeled/")
    # Each figure is closed once saved: pyplot keeps every figure it made open, run after run.
    plt.close(
        plots.plot_history(
            pretrained.history, title="Autoencoder pretraining (MSE)", path=os.path.join(out, "pretrain_loss.png")
        )
    )
    shown = x_test[:10]
    plt.close(
        plots.plot_reconstructions(
            shown, pretrained.autoencoder.predict(shown, verbose=0), n=10, path=os.path.join(out, "reconstructions.png")
        )
    )
    quality = reconstruction_quality(pretrained.autoencoder, pool, x_test[:2000])
    if quality["ratio"] > POOR_RECONSTRUCTION:
        _say(
            f"      WARNING: the autoencoder's test MSE {quality['mse']:.4f} is {quality['ratio']:.0%} of predicting "
            f"the mean image ({quality['mean_image_mse']:.4f}): it learned little, and every transfer row measures that"
        )

    _say("[3/5] Extracting and freezing the encoder, a new head on top:")
    num_classes = int(y_train.max()) + 1
    _say(str(trainable_report(build_classifier(freeze(extract_encoder(pretrained.autoencoder)), num_classes))))

    schedule = Schedule(max_steps=options.max_steps)
    seeds = tuple(range(options.seed, options.seed + options.num_seeds))
    runs = []
    _say(
        f"[4/5] The map: {list(options.settings)}; {list(options.labels_per_class)} labels per class, "
        f"{list(options.strategies)}, {len(seeds)} paired seeds"
    )
    pretraining_seconds = {}  # {setting: {objective: seconds of training, of the original run when cached}}
    for setting, (train, test) in study.classification.items():
        if setting == "class_disjoint":
            source, targets = study.class_split
            _say(f"      class_disjoint: encoders on classes {list(source)}, classifiers on {list(targets)}")
            x_source, y_source = data.split_by_class(x_train, y_train, source)
            autoencoders, seconds = _pretrain_each(options, x_source, y_source, f"classes {list(source)}", None)
        else:
            autoencoders, seconds = _pretrain_each(options, pool, None, "all classes", pretrained)
        pretraining_seconds[setting] = seconds
        runs += label_efficiency(
            autoencoders,
            train,
            test,
            labels_per_class=options.labels_per_class,
            strategies=options.strategies,
            seeds=seeds,
            schedule=schedule,
            validation_size=min(options.validation_size, len(train[1]) // 4),
            extra_unlabeled=extra if setting == "in_domain" else None,
            setting=setting,
            cuts=options.cuts,
        )
    context = TaskContext(options, study, pretrained, config, pool, seeds)
    task_rows, sections = {}, {}  # {task: comparison rows}, {results.json key: value}
    for name in (s for s in options.settings if s in TASKS):
        if TASKS[name].needs_target and study.target_data is None:
            _say(f"      {name}: skipped, no `--target` images to run it on")
            continue
        records, task_rows[name] = run_task(name, context)
        sections.update(TASKS[name].sections(records, task_rows[name]))

    _say(f"[5/5] Writing the report to {options.output}/")
    summary = summarize(runs)
    rows = compare_with_scratch(runs)
    ablation_rows = compare_ablations(
        runs, [*list_ablations(), *pretraining_ablations(options.strategies, options.pretrainings, options.cuts)]
    )
    configuration = {
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(options).items()},
        "pretrain": config.to_dict(),
        "schedule": schedule.to_dict(),
        "backend": keras.backend.backend(),
        "dtype_policy": options.precision,
        "command": command,
        "environment": environment(),
        "pretrain_seconds": pretrained.seconds,
        "pretraining_seconds": pretraining_seconds,
        "reconstruction_mse": quality["mse"],
        "mean_image_mse": quality["mean_image_mse"],
    }
    write_results(
        out,
        runs,
        configuration,
        protocol=protocol(options.validation_size, schedule),
        comparisons=rows,
        ablations=ablation_rows,
        **sections,
    )
    in_domain = [r for r in summary if r["setting"] == "in_domain"]
    if in_domain:
        plt.close(
            plots.plot_label_efficiency(
                in_domain, title=f"{name}: in-domain", path=os.path.join(out, "label_efficiency.png")
            )
        )
    panels = [plots.classification_panel(rows), *(p for name, r in task_rows.items() for p in TASKS[name].panels(r))]
    plt.close(plots.plot_map(panels, path=os.path.join(out, "map.png")))
    report = demo_report(
        name=name,
        options=options,
        summary=summary,
        rows=rows,
        task_rows=task_rows,
        ablation_rows=ablation_rows,
        pretrained=pretrained,
        quality=quality,
        seconds=time.perf_counter() - started,
    )
    write_text(os.path.join(out, "report.md"), report)
    _say(comparison_table(rows))
    if ablation_rows:
        _say(comparison_table(ablation_rows))
    return rows


def demo_report(
    name,
    options,
    summary,
    rows,
    pretrained,
    quality,
    seconds,
    task_rows=None,
    ablation_rows=(),
):
    """The Markdown of `tlkeras demo`'s `report.md`: the map, the accuracies, what each strategy is, how it ran."""
    settings = list(dict.fromkeys(r["setting"] for r in summary))
    tables = "\n\n".join(f"### {setting}\n\n{markdown_table(summary, setting)}" for setting in settings)
    # `recommend` names nothing where the runs chose nothing on a validation split (a fixed schedule)
    choices = {setting: recommend(summary, setting) for setting in settings}
    chosen = "; ".join(
        f"{setting}: " + ", ".join(f"{n}/class `{name}`" for n, name in best.items())
        for setting, best in choices.items()
        if best
    )
    chosen = f"\n\nChosen on validation (best mean validation accuracy): {chosen}." if chosen else ""
    task_rows = task_rows or {}
    tasks = "".join(f"\n\n{TASKS[name].report(r, options)}" for name, r in task_rows.items() if r)
    ablations = ""
    if ablation_rows:
        ablations = (
            "\n\n### ablations\n\nEach strategy against the same recipe with one part removed, paired per seed: "
            f"a win is the removed part's only if this row wins too.\n\n{comparison_table(ablation_rows)}"
        )
    warning = ""
    if quality["ratio"] > POOR_RECONSTRUCTION:
        warning = (
            f"\n\n**Warning: the autoencoder is barely better than the mean image** (its MSE is "
            f"{quality['ratio']:.0%} of the mean image's): it learned little, and every transfer row above measures "
            "an encoder that learned little. Pretrain longer (`--pretrain-min-steps`, `--pretrain-epochs`)."
        )
    verdicts = [r["verdict"] for r in (*rows, *ablation_rows, *(r for rs in task_rows.values() for r in rs))]
    multiplicity = say_multiplicity(verdicts)
    glossary = strategy_glossary(options.strategies)
    lengths = protocol(options.validation_size, Schedule(max_steps=options.max_steps))["lengths"]
    if options.validation_size:
        how = f"every training length chosen on labels beyond the budget ({lengths})"
    else:
        how = f"labels that count: a run at N labels per class uses those N and no other; training length ({lengths})"
    return f"""# Where learning from unlabeled images pays off: {name}

Every strategy gets the same labeled images per seed; {how}; the test set only reports.
Gains are paired per-seed differences from `scratch` with a 95 % Student-t confidence interval over
{options.num_seeds} seeds; the verdict is read off the interval (`wins`: all of it above 0, `loses`: all of
it below, `inconclusive`: the seeds cannot tell).

## The map

{comparison_table(rows)}{ablations}{tasks}

How many of these to believe: {multiplicity} A `wins` that stands alone among many
verdicts, with an interval that barely clears zero, is what chance produces; a rerun with other seeds
is its test.

![map](map.png){chosen}

## Test accuracy (mean ± std over seeds)

{tables}

{glossary}

Pretraining of the autoencoder on every class (the in-domain rows, clustering, generation and the plots below; a
class-disjoint row's encoder is pretrained on its source classes only, timed under `pretraining_seconds` in
`results.json`): {len(pretrained.history.get("loss", []))} epoch(s) on {options.max_images or "all"} unlabeled training
images, {pretrained.seconds:.0f} s ({"reused from the cache" if pretrained.cached else "in this run"}); test
reconstruction MSE {quality["mse"]:.4f}, against {quality["mean_image_mse"]:.4f} for predicting the mean training
image for every image (ratio {quality["ratio"]:.2f}).{warning}

Plots: `map.png`, `label_efficiency.png` (in-domain runs), `pretrain_loss.png`, `reconstructions.png`. Every run is in
`results.json` / `results.csv`. Wall time: {seconds:.0f} s on {os.cpu_count()} CPUs,
Keras {keras.__version__} on {keras.backend.backend()}.
"""
