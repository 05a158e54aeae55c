"""Reports of a study: Markdown tables, the glossary of strategies, and the result files, written atomically."""

import os

from tlkeras.pretraining import POOR_RECONSTRUCTION
from tlkeras.saving import write_json, write_text
from tlkeras.study.label_efficiency import describe_arm


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


def _signed(value, digits):
    return f"{value:+.{digits}f}"


def say(row, unit="points", scale=100.0, digits=1):
    """A comparison in words, the one way tlkeras says it: the gain, its 95 % interval, the verdict.

    An inconclusive interval is said as what it is, unresolved between its ends, never as "no effect".

    Example:
    >>> say({"gain": 0.059, "low": 0.050, "high": 0.069, "verdict": "wins", "seeds": 5})
    '+5.9 points [+5.0, +6.9]: wins'
    >>> say({"gain": 0.001, "low": -0.031, "high": 0.033, "verdict": "inconclusive", "seeds": 5})
    '+0.1 points, inconclusive: unresolved between -3.1 and +3.3 points'
    >>> say({"gain": 0.017, "low": 0.006, "high": 0.028, "verdict": "wins", "seeds": 10}, unit="", scale=1, digits=3)
    '+0.017 [+0.006, +0.028]: wins'
    """
    unit = f" {unit}" if unit else ""
    gain = _signed(scale * row["gain"], digits) + unit
    if row["verdict"] == "too few seeds":
        return f"{gain} from {row['seeds']} seed: too few seeds for an interval"
    low, high = _signed(scale * row["low"], digits), _signed(scale * row["high"], digits)
    if row["verdict"] == "inconclusive":
        return f"{gain}, inconclusive: unresolved between {low} and {high}{unit}"
    return f"{gain} [{low}, {high}]: {row['verdict']}"


def say_ratio(row):
    """A ratio of MSEs (fine-tuned over scratch) in words, as `say` says a gain.

    Example:
    >>> say_ratio({"ratio": 0.36, "low": 0.2, "high": 0.51, "verdict": "wins"})
    '0.36x the MSE of scratch [0.20, 0.51]: wins'
    """
    if row["verdict"] == "inconclusive":
        return (
            f"{row['ratio']:.2f}x the MSE of scratch, inconclusive: unresolved between "
            f"{row['low']:.2f}x and {row['high']:.2f}x"
        )
    if row["verdict"] == "too few seeds":
        return f"{row['ratio']:.2f}x the MSE of scratch: too few seeds for an interval"
    return f"{row['ratio']:.2f}x the MSE of scratch [{row['low']:.2f}, {row['high']:.2f}]: {row['verdict']}"


def say_multiplicity(verdicts, confidence=0.95):
    """How many verdicts a report prints, and how many false `wins` chance alone would give among them.

    Were every true difference zero, each 95 % interval would lie wholly above zero with probability
    2.5 %: among N verdicts, about 0.025 N false `wins` (and as many false `loses`).

    Example:
    >>> say_multiplicity({"a": "wins", "b": "inconclusive", "c": "inconclusive"}).split("; ")[0]
    '3 verdicts (1 wins, 0 loses, 2 inconclusive)'
    >>> say_multiplicity(["inconclusive"] * 15).split("; ")[1]
    'were every true difference zero, chance alone would give about 0.4 false wins among them (at least one: 32%).'
    """
    verdict_list = list(verdicts.values() if isinstance(verdicts, dict) else verdicts)
    n, tail = len(verdict_list), (1 - confidence) / 2
    counts = {v: verdict_list.count(v) for v in ("wins", "loses", "inconclusive")}
    return (
        f"{n} verdicts ({counts['wins']} wins, {counts['loses']} loses, {counts['inconclusive']} inconclusive); "
        f"were every true difference zero, chance alone would give about {tail * n:.1f} false wins among them "
        f"(at least one: {1 - (1 - tail) ** n:.0%})."
    )


def _cells(row, scale, digits):
    """The `[low, high]` and verdict cells of a comparison row (`tlkeras.study.statistics.paired_comparison`)."""
    if row["verdict"] == "too few seeds":
        return "n/a", row["verdict"]
    return f"[{_signed(scale * row['low'], digits)}, {_signed(scale * row['high'], digits)}]", row["verdict"]


def _planning(rows):
    """A note under a table: the planning estimates of the inconclusive rows, said as what they are."""

    def name(r):
        if "strategy" in r:
            return f"{r['strategy']} ({r['labels_per_class']}/class)"
        return f"{r['features']} {r['method']} {r['metric']}"

    plans = [f"{name(r)} ~{r['seeds_needed']}" for r in rows if r.get("seeds_needed")]
    if not plans:
        return ""
    return (
        "\n\nPlanning estimates, not evidence: were the true differences what these seeds show, about this many "
        "seeds would resolve the inconclusive rows: " + ", ".join(plans) + "."
    )


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
        interval, said = _cells(r, scale, 1)
        against = f"{r['ablation']} ({r['removes']}) | " if ablations else ""
        gain = f"{scale * r['gain']:+.1f} {unit}"
        lines.append(
            f"| {r['setting']} | {r['labels_per_class']} | {r['strategy']} | {against}{gain} | {interval} | {said} | "
            f"{r['seeds']} |"
        )
    return "\n".join(lines) + _planning(rows)


def strategy_glossary(strategies):
    """A Markdown list saying what each strategy does, from its registered docstring."""
    return "\n".join(f"- `{name}`: {describe_arm(name)}" for name in strategies)


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
        interval, said = _cells(r, 1.0, 3)
        lines.append(
            f"| {r['features']} | {r['baseline']} | {r['method']} | {r['metric']} | {r['mean']:.3f} | "
            f"{r['baseline_mean']:.3f} | {r['gain']:+.3f} | {interval} | {said} | {r['seeds']} |"
        )
    return "\n".join(lines) + _planning(rows)


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
            "\n\n### clustering\n\nThe test images clustered without labels (accuracy under the best matching "
            "of clusters to classes, and NMI), from the autoencoder's codes against the same recipe on pixels "
            "(PCA; `+umap`: through UMAP, the N2D recipe)"
            + (
                "; the embedding and the clusters fitted on the clustered test images and every training image "
                "(N2D's protocol), only the test images scored"
                if options.clustering_fit == "all"
                else ""
            )
            + f":\n\n{clustering_table(clustering_rows)}"
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
    verdict_list = [r["verdict"] for r in (*rows, *ablation_rows, *clustering_rows)]
    multiplicity = say_multiplicity(verdict_list + ([generative_row["verdict"]] if generative_row else []))
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
            f"training images (a label-rich protocol: {options.validation_size:,} validation labels beyond the budget)"
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

How many of these to believe: {multiplicity} A `wins` that stands alone among many
verdicts, with an interval that barely clears zero, is what chance produces; a rerun with other seeds
is its test.

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
