"""Reports of a study: Markdown tables, the glossary of strategies, and the result files, written atomically."""

import math
import os

from tlkeras.pretraining import POOR_RECONSTRUCTION
from tlkeras.saving import write_json, write_text
from tlkeras.study.strategies import describe


def markdown_table(summary, setting=None):
    """Test accuracy as a Markdown table: one row per label budget, one column per strategy."""
    rows = [r for r in summary if setting is None or r["setting"] == setting]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    budgets = sorted({r["labels_per_class"] for r in rows})
    cell = {(r["strategy"], r["labels_per_class"]): r for r in rows}
    lines = [
        "| labels per class | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for n in budgets:
        values = [
            f"{100 * cell[s, n]['mean']:.1f} ± {100 * cell[s, n]['std']:.1f} %" if (s, n) in cell else ""
            for s in strategies
        ]
        lines.append(f"| {n} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _interval_and_verdict(row, scale=1.0, digits=1):
    """The `[low, high]` and verdict cells of a comparison row (`tlkeras.study.statistics.paired_comparison`)."""
    if math.isnan(row["low"]):
        interval = "n/a"
    else:
        interval = f"[{scale * row['low']:+.{digits}f}, {scale * row['high']:+.{digits}f}]"
    needed = row.get("seeds_needed")
    return interval, row["verdict"] + (f" (about {needed} seeds would tell)" if needed else "")


def comparison_table(rows, unit="points", scale=100.0):
    """Paired comparisons as a Markdown table: gain, 95 % CI, verdict.

    Rows of `compare_with_scratch` are gains over scratch; rows of `compare_ablations` (they name an
    `ablation`) get a column saying which ablation, and what it removes, each gain is over.
    """
    ablations = any("ablation" in r for r in rows)
    columns = "against (what it removes) | gain" if ablations else "gain over scratch"
    lines = [
        f"| setting | labels per class | strategy | {columns} | 95 % CI | verdict | seeds |",
        "|---|---|---|---|---|---|---|" + ("---|" if ablations else ""),
    ]
    for r in rows:
        interval, said = _interval_and_verdict(r, scale)
        against = f"{r['ablation']} ({r['removes']}) | " if ablations else ""
        gain = f"{scale * r['gain']:+.1f} {unit}"
        lines.append(
            f"| {r['setting']} | {r['labels_per_class']} | {r['strategy']} | {against}{gain} | {interval} | {said} | "
            f"{r['seeds']} |"
        )
    return "\n".join(lines)


def strategy_glossary(strategies):
    """A Markdown list saying what each strategy does, from its registered docstring."""
    return "\n".join(f"- `{name}`: {describe(name)}" for name in strategies)


CSV_COLUMNS = (
    "setting",
    "strategy",
    "labels_per_class",
    "seed",
    "accuracy",
    "val_accuracy",
    "steps",
    "seconds",
    "validation_labels",
)


def write_results(folder, runs, configuration, **extra):
    """Write `results.json` (configuration, runs, and any `extra` lists) and `results.csv` atomically."""
    write_json(os.path.join(folder, "results.json"), {"configuration": configuration, "runs": runs, **extra})
    lines = [",".join(CSV_COLUMNS)]
    for r in runs:
        lines.append(
            f"{r.get('setting', 'in_domain')},{r['strategy']},{r['labels_per_class']},{r['seed']},"
            f"{r['accuracy']:.6f},{_number(r.get('val_accuracy'))},{r.get('steps', '')},{r['seconds']:.3f},"
            f"{r.get('validation_labels', '')}"
        )
    write_text(os.path.join(folder, "results.csv"), "\n".join(lines) + "\n")


def _number(value):
    return "" if value is None else f"{value:.6f}"


def clustering_table(rows):
    """Clustering comparisons (`tlkeras.study.clustering.compare_features`) as a Markdown table."""
    lines = [
        "| features | against | method | metric | features' score | baseline's | gain | 95 % CI | verdict | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        interval, said = _interval_and_verdict(r, digits=3)
        lines.append(
            f"| {r['features']} | {r['baseline']} | {r['method']} | {r['metric']} | {r['mean']:.3f} | "
            f"{r['baseline_mean']:.3f} | {r['gain']:+.3f} | {interval} | {said} | {r['seeds']} |"
        )
    return "\n".join(lines)


def demo_report(
    name,
    options,
    summary,
    rows,
    generative_row,
    pretrained,
    quality,
    seconds,
    clustering_rows=(),
    ablation_rows=(),
):
    """The Markdown of `tlkeras demo`'s `report.md`: the map, the accuracies, what each strategy is, how it ran."""
    import keras

    from tlkeras.study.statistics import recommend

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
    generative = ""
    if generative_row:
        g = generative_row
        generative = (
            f"\n\n### generative\n\nDenoising {g['images']} {options.target} images: test MSE from scratch "
            f"{g['scratch_mse']:.4f}, fine-tuned from the autoencoder {g['fine_tuned_mse']:.4f}; ratio "
            f"fine-tuned/scratch {g['ratio']:.2f} (95 % CI [{g['low']:.2f}, {g['high']:.2f}]): **{g['verdict']}**."
        )
    clustering = ""
    if clustering_rows:
        clustering = (
            f"\n\n### clustering\n\nThe test images clustered without labels (accuracy under the best matching "
            f"of clusters to classes, and NMI), from the autoencoder's codes against the same recipe on pixels "
            f"(PCA; `+umap`: through UMAP, the N2D recipe):\n\n{clustering_table(clustering_rows)}"
        )
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
    glossary = strategy_glossary(options.strategies)
    if generative_row:
        glossary += (
            "\n- `generative`: the autoencoder fine-tuned to denoise a few images of `--target`, against the\n"
            "  same network trained on them from scratch for the same steps; the ratio of their test MSEs\n"
            "  (below 1: it pays)."
        )
    if options.validation_size:
        how = (
            f"every training length is chosen by early stopping on {options.validation_size} more labeled "
            f"training images (+{options.validation_size:,} validation labels: an upper bound of what the budget buys)"
        )
    else:
        how = (
            f"labels that count: a run at N labels per class uses those N and no other; every strategy trains a "
            f"fixed {options.max_steps} steps per phase, written down in advance"
        )
    return f"""# Where learning from unlabeled images pays off: {name}

Every strategy gets the same labeled images per seed; {how}; the test set only reports.
Gains are paired per-seed differences from `scratch` with a 95 % Student-t confidence interval over
{options.num_seeds} seeds; the verdict is read off the interval (`wins`: all of it above 0, `loses`: all of
it below, `inconclusive`: the seeds cannot tell).

## The map

{comparison_table(rows)}{ablations}{generative}{clustering}

![map](map.png){chosen}

## Test accuracy (mean ± std over seeds)

{tables}

{glossary}

Pretraining: {len(pretrained.history.get("loss", []))} epoch(s) on {options.max_images or "all"} unlabeled training
images, {pretrained.seconds:.0f} s ({"reused from the cache" if pretrained.cached else "in this run"}); test
reconstruction MSE {quality["mse"]:.4f}, against {quality["mean_image_mse"]:.4f} for predicting the mean training
image for every image (ratio {quality["ratio"]:.2f}).{warning}

Plots: `map.png`, `label_efficiency.png` (in-domain runs), `pretrain_loss.png`, `reconstructions.png`. Every run is in
`results.json` / `results.csv`. Wall time: {seconds:.0f} s on {os.cpu_count()} CPUs,
Keras {keras.__version__} on {keras.backend.backend()}.
"""
