"""Reports of a study: Markdown tables, the glossary of strategies, and the result files, written atomically."""

import os

from tlkeras.saving import write_json, write_text


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
