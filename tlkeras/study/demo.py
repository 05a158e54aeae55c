"""The main job: where learning from unlabeled images pays off, measured, as a report folder.

Pretrain (or reuse) the autoencoder, show what it learned, extract and freeze
its encoder, then run the label-efficiency study in each setting of the map:

- `in_domain`: unlabeled and labeled images from the same dataset;
- `class_disjoint`: the autoencoder sees only the source classes' images, the
  classifiers learn the target classes;
- `cross_domain`: the autoencoder of `in_domain` transferred to another dataset;
- `generative`: the autoencoder fine-tuned to denoise a handful of the other
  dataset's images, against the same network trained on them from scratch.

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
from tlkeras.study.clustering import clustering_study, compare_features
from tlkeras.study.demo_plan import DemoOptions, plan
from tlkeras.study.generative import generative_transfer, summarize_generative
from tlkeras.study.label_efficiency import arm_name, label_efficiency, protocol
from tlkeras.study.published import environment
from tlkeras.study.reports import comparison_table, demo_report, write_results
from tlkeras.study.schedule import Schedule
from tlkeras.study.statistics import compare_ablations, compare_with_scratch, summarize
from tlkeras.study.strategies import list_ablations, option_names
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
    runs, generative = [], []
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
    clustering = []
    if "clustering" in options.settings:
        fitted = " (fitted with every training image too: N2D's protocol)" if options.clustering_fit == "all" else ""
        _say(f"      clustering: the test images from the autoencoder's codes and from pixels, without labels{fitted}")
        x_all_test, y_all_test = study.test
        clustering = clustering_study(
            pretrained.autoencoder,
            x_all_test,
            y_all_test,
            seeds=seeds,
            max_images=min(options.clustering_images, len(x_all_test)),
            context_images=pool[: options.max_images] if options.clustering_fit == "all" else None,
        )
    if "generative" in options.settings and study.target_data is not None:
        _say(f"      generative: denoising {options.target} images, fine-tuned from the autoencoder vs from scratch")
        generative = generative_transfer(
            pretrained.autoencoder,
            *study.target_data,
            seeds=seeds,
            steps=options.generative_steps,
            noise_stddev=config.noise_stddev or 0.2,
            max_test_images=options.max_test_images,
        )

    _say(f"[5/5] Writing the report to {options.output}/")
    summary = summarize(runs)
    rows = compare_with_scratch(runs)
    ablation_rows = compare_ablations(
        runs, [*list_ablations(), *pretraining_ablations(options.strategies, options.pretrainings, options.cuts)]
    )
    generative_row = summarize_generative(generative) if generative else None
    clustering_rows = compare_features(clustering) if clustering else []
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
        generative=generative,
        clustering=clustering,
        clustering_comparisons=clustering_rows,
    )
    in_domain = [r for r in summary if r["setting"] == "in_domain"]
    if in_domain:
        plt.close(
            plots.plot_label_efficiency(
                in_domain, title=f"{name}: in-domain", path=os.path.join(out, "label_efficiency.png")
            )
        )
    plt.close(plots.plot_map(rows, generative_row, clustering_rows, path=os.path.join(out, "map.png")))
    report = demo_report(
        name=name,
        options=options,
        summary=summary,
        rows=rows,
        generative_row=generative_row,
        clustering_rows=clustering_rows,
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
