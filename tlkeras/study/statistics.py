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


def check_confidence(confidence):
    """`confidence` as a probability strictly between 0 and 1 (`0.95`); a percentage such as `95` is refused."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating, np.integer)):
        raise ValueError(f"`confidence` must be a number between 0 and 1. Received: confidence={confidence!r}")
    if not 0 < confidence < 1:
        hint = f" (a percentage? pass {confidence / 100:g})" if 1 < confidence < 100 else ""
        raise ValueError(
            f"`confidence` must lie strictly between 0 and 1, such as 0.95{hint}. Received: confidence={confidence!r}"
        )
    return float(confidence)


def check_differences(differences, name="differences"):
    """Paired values as a 1-D float array, each finite: a NaN or an infinity (a diverged run) is refused by position."""
    try:
        values = np.asarray(differences, dtype="float64")
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be a sequence of numbers. Received: {name}={differences!r}") from e
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D sequence of numbers, one per paired seed. "
            f"Received: an array of shape {values.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"`{name}` must be finite: entries {bad[:10].tolist()} are {values[bad[:10]].tolist()} (a diverged run?). "
            "Rerun or drop those seeds on both sides of the pair; an interval over them would mean nothing."
        )
    return values


def paired_interval(differences, confidence=0.95, test_to_train=None):
    """Mean of paired differences and its Student-t confidence interval.

    Args:
        differences: one value per pair (per seed, or per cross-validation fold); finite numbers.
        confidence: the interval's coverage, strictly between 0 and 1. Defaults to `0.95`.
        test_to_train: for folds that share training images (k-fold cross-validation), the ratio
            n_test / n_train of one fold: the variance of the mean is then multiplied by
            `1/k + n_test/n_train` instead of `1/k`, the corrected resampled t-test of Nadeau &
            Bengio (2003), since the folds' differences are not independent. `None` (the default)
            for independent pairs, such as seeds that draw their own images.

    Returns:
        `(mean, low, high)`; `low` and `high` are NaN with fewer than two pairs.

    Example:
    >>> mean, low, high = paired_interval([0.02, 0.04, 0.03])
    >>> round(mean, 3), low > 0
    (0.03, True)
    >>> folds = [0.01, 0.04, 0.02, 0.05, 0.03]  # 5-fold cross-validation: n_test / n_train = 1/4
    >>> paired_interval(folds, test_to_train=0.25)[1] < paired_interval(folds)[1]  # wider: the folds overlap
    True
    """
    from scipy import stats

    differences = check_differences(differences)
    confidence = check_confidence(confidence)
    mean, k = float(differences.mean()), len(differences)
    if k < 2:
        return mean, math.nan, math.nan
    share = 1 / k
    if test_to_train is not None:
        if isinstance(test_to_train, bool) or not isinstance(test_to_train, (int, float)) or not test_to_train > 0:
            raise ValueError(
                "`test_to_train` must be a positive number, one fold's n_test / n_train. "
                f"Received: test_to_train={test_to_train!r}"
            )
        share += float(test_to_train)
    half = stats.t.ppf(0.5 + confidence / 2, k - 1) * differences.std(ddof=1) * math.sqrt(share)
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
    """A planning estimate, not evidence: how many paired seeds would give an interval that excludes 0,
    were the true mean and spread what these seeds show (they are not known; a new run is the test).

    Returns:
        An integer `n` (at least the pairs given), or `None` when the mean is 0 or more than
        `most` pairs would be needed.

    Example:
    >>> seeds_needed([0.05, -0.01, 0.04])
    9
    """
    from scipy import stats

    differences = check_differences(differences)
    confidence = check_confidence(confidence)
    mean, spread = abs(float(differences.mean())), float(differences.std(ddof=1)) if len(differences) > 1 else math.nan
    if mean == 0 or math.isnan(spread):
        return None
    if spread == 0:
        return max(2, len(differences))
    for n in range(max(2, len(differences)), most + 1):
        if stats.t.ppf(0.5 + confidence / 2, n - 1) * spread / math.sqrt(n) < mean:
            return n
    return None


def paired_comparison(differences, reference=0.0, lower_is_better=False, test_to_train=None):
    """Paired per-seed values read as one comparison: mean, 95 % interval, verdict, seeds.

    Args:
        differences: one value per paired seed: a difference (`reference` 0) or a ratio (`reference` 1).
        reference: the value of no change. Defaults to `0.0`.
        lower_is_better: the values are costs (a ratio of MSEs). Defaults to `False`.
        test_to_train: for cross-validation folds, one fold's n_test / n_train (`paired_interval`).

    Returns:
        `{"gain", "low", "high", "verdict", "seeds", "seeds_needed"}`; `seeds_needed` (a planning
        estimate, `seeds_needed`) only where the verdict is `inconclusive` (else `None`).

    Example:
    >>> paired_comparison([0.02, 0.04, 0.03])["verdict"]
    'wins'
    """
    differences = check_differences(differences)
    gain, low, high = paired_interval(differences, test_to_train=test_to_train)
    outcome = verdict(low, high, reference, lower_is_better)
    return {
        "gain": gain,
        "low": low,
        "high": high,
        "verdict": outcome,
        "seeds": len(differences),
        # folds are not seeds: no planning estimate for them
        "seeds_needed": (
            seeds_needed(differences - reference) if outcome == "inconclusive" and test_to_train is None else None
        ),
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
    table = {}
    for r in runs:
        run = (r.get("setting", "in_domain"), r["labels_per_class"], r["strategy"], r["seed"])
        if run in table:
            raise ValueError(
                "`runs` holds two runs of setting {!r}, {} labels per class, strategy {!r}, seed {}: pairing one of "
                "them would silently drop the other (result files merged twice?). Keep one run per seed.".format(*run)
            )
        table[run] = r[key]
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
        ablations: `(strategy, ablation, removes)` triples (`tlkeras.study.strategies.list_ablations()`).

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
