"""Paired comparisons over seeds: the mean difference, its 95 % interval, and the verdict read off it.

Every comparison of tlkeras pairs two strategies run on the same labeled images
(the same seed), so the seed-to-seed spread of the data cancels out. The
verdict says what the interval says: `wins` (all of it on the good side of no
change), `loses` (all of it on the bad side) or `inconclusive` (it covers no
change: the seeds cannot tell; `seeds_needed` says how many pairs would resolve a
difference of the size observed).
"""

import math

import numpy as np

VERDICTS = ("wins", "loses", "inconclusive", "too few seeds")


def paired_interval(differences, confidence=0.95):
    """Mean of paired differences and its Student-t confidence interval.

    Returns:
        `(mean, low, high)`; `low` and `high` are NaN with fewer than two pairs.

    Example:
    >>> mean, low, high = paired_interval([0.02, 0.04, 0.03])
    >>> round(mean, 3), low > 0
    (0.03, True)
    """
    from scipy import stats

    differences = np.asarray(differences, dtype="float64")
    mean = float(differences.mean())
    if len(differences) < 2:
        return mean, math.nan, math.nan
    half = (
        stats.t.ppf(0.5 + confidence / 2, len(differences) - 1) * differences.std(ddof=1) / math.sqrt(len(differences))
    )
    return mean, float(mean - half), float(mean + half)


def verdict(low, high, reference=0.0, lower_is_better=False):
    """The verdict an interval `[low, high]` gives against `reference` (no change).

    Args:
        low, high: the interval, NaN with fewer than two pairs.
        reference: the value of no change: `0` for a difference, `1` for a ratio. Defaults to `0.0`.
        lower_is_better: the quantity is a cost (an MSE, a ratio of MSEs). Defaults to `False`.

    Returns:
        `"wins"`, `"loses"`, `"inconclusive"`, or `"too few seeds"`.

    Example:
    >>> verdict(0.01, 0.05), verdict(-0.1, 0.2), verdict(0.3, 0.5, reference=1, lower_is_better=True)
    ('wins', 'inconclusive', 'wins')
    """
    if math.isnan(low) or math.isnan(high):
        return "too few seeds"
    above, below = low > reference, high < reference
    if lower_is_better:
        above, below = below, above
    return "wins" if above else "loses" if below else "inconclusive"


def seeds_needed(differences, confidence=0.95, most=1000):
    """How many paired seeds would give an interval that excludes 0, were the mean and spread what they are now.

    Returns:
        An integer `n` (at least the pairs given), or `None` when the mean is 0 or more than
        `most` pairs would be needed.

    Example:
    >>> seeds_needed([0.05, -0.01, 0.04])
    9
    """
    from scipy import stats

    differences = np.asarray(differences, dtype="float64")
    mean, spread = abs(float(differences.mean())), float(differences.std(ddof=1)) if len(differences) > 1 else math.nan
    if mean == 0 or math.isnan(spread):
        return None
    if spread == 0:
        return max(2, len(differences))
    for n in range(max(2, len(differences)), most + 1):
        if stats.t.ppf(0.5 + confidence / 2, n - 1) * spread / math.sqrt(n) < mean:
            return n
    return None


def paired_comparison(differences, reference=0.0, lower_is_better=False):
    """Paired per-seed values read as one comparison: mean, 95 % interval, verdict, seeds.

    Args:
        differences: one value per paired seed: a difference (`reference` 0) or a ratio (`reference` 1).
        reference: the value of no change. Defaults to `0.0`.
        lower_is_better: the values are costs (a ratio of MSEs). Defaults to `False`.

    Returns:
        `{"gain", "low", "high", "verdict", "seeds", "seeds_needed"}`; `seeds_needed` only
        where the verdict is `inconclusive` (else `None`).

    Example:
    >>> paired_comparison([0.02, 0.04, 0.03])["verdict"]
    'wins'
    """
    differences = np.asarray(differences, dtype="float64")
    gain, low, high = paired_interval(differences)
    outcome = verdict(low, high, reference, lower_is_better)
    return {
        "gain": gain,
        "low": low,
        "high": high,
        "verdict": outcome,
        "seeds": len(differences),
        "seeds_needed": seeds_needed(differences - reference) if outcome == "inconclusive" else None,
    }


def compare_with_scratch(runs, baseline="scratch", key="accuracy", lower_is_better=False):
    """Paired per-seed differences against `baseline`, with a 95 % CI and a verdict, per setting, budget and strategy.

    Only seeds that ran both strategies are paired. For `lower_is_better` metrics
    (an MSE) the difference is `baseline - strategy`, so a positive gain is
    still a win.

    Returns:
        Rows `{"setting", "labels_per_class", "strategy", "gain", "low", "high",
        "verdict", "seeds", "seeds_needed"}`, the gain in the metric's units;
        `seeds_needed` only where the verdict is `inconclusive` (else `None`).
    """
    table = {(r.get("setting", "in_domain"), r["labels_per_class"], r["strategy"], r["seed"]): r[key] for r in runs}
    rows = []
    groups = dict.fromkeys((s, n, strategy) for s, n, strategy, _ in table)
    for setting, n, strategy in groups:
        if strategy == baseline:
            continue
        pairs = [
            (value, table[setting, n, baseline, seed])
            for (s, m, st, seed), value in table.items()
            if (s, m, st) == (setting, n, strategy) and (setting, n, baseline, seed) in table
        ]
        if not pairs:
            continue
        diffs = [(b - a) if lower_is_better else (a - b) for a, b in pairs]
        rows.append({"setting": setting, "labels_per_class": n, "strategy": strategy, **paired_comparison(diffs)})
    return rows


def compare_ablations(runs, ablations, key="accuracy"):
    """Each strategy against each of its ablations that ran beside it: what the removed part adds.

    Args:
        runs: run records, as `compare_with_scratch` reads them.
        ablations: `(strategy, ablation, removes)` triples (`tlkeras.strategies.list_ablations()`).

    Returns:
        Rows `{"setting", "labels_per_class", "strategy", "ablation", "removes", "gain", "low",
        "high", "verdict", "seeds", "seeds_needed"}`: the gain is the strategy's minus its ablation's.

    Example:
    >>> runs = [{"strategy": s, "labels_per_class": 1, "seed": k, "accuracy": a + k / 100}
    ...         for k in range(3) for s, a in (("full", 0.6), ("cut", 0.5))]
    >>> [row] = compare_ablations(runs, [("full", "cut", "a part")])
    >>> row["removes"], round(row["gain"], 3), row["verdict"]
    ('a part', 0.1, 'wins')
    """
    rows = []
    for strategy, ablation, removes in ablations:
        for row in compare_with_scratch(runs, baseline=ablation, key=key):
            if row["strategy"] == strategy:
                rows.append({**row, "ablation": ablation, "removes": removes})
    return rows


def summarize(runs):
    """Mean and std of test accuracy, mean validation accuracy and steps, per setting, strategy and budget."""
    groups = {}
    for run in runs:
        groups.setdefault((run.get("setting", "in_domain"), run["strategy"], run["labels_per_class"]), []).append(run)
    rows = []
    for (setting, strategy, n), group in groups.items():
        accuracies = np.array([r["accuracy"] for r in group])
        rows.append(
            {
                "setting": setting,
                "strategy": strategy,
                "labels_per_class": n,
                "mean": float(accuracies.mean()),
                "std": float(accuracies.std()),
                "val_mean": _mean_or_nan(r.get("val_accuracy") for r in group),
                "steps": _mean_or_nan(r.get("steps") for r in group),
                "runs": len(group),
                "seconds": float(np.mean([r["seconds"] for r in group])),
            }
        )
    return rows


def _mean_or_nan(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else math.nan


def recommend(summary, setting="in_domain"):
    """Per label budget, the strategy with the best mean *validation* accuracy (the test set only reports).

    Budgets whose runs chose nothing on a validation split (a fixed schedule) have no recommendation.
    """
    best = {}
    for row in summary:
        n = row["labels_per_class"]
        if row["setting"] != setting or math.isnan(row["val_mean"]):
            continue
        if n not in best or row["val_mean"] > best[n]["val_mean"]:
            best[n] = row
    return {n: row["strategy"] for n, row in sorted(best.items())}
