import json
import math

import pytest

from tlkeras.study.reports import comparison_table, markdown_table, write_results
from tlkeras.study.statistics import (
    compare_ablations,
    compare_with_scratch,
    paired_interval,
    recommend,
    seeds_needed,
    summarize,
    verdict,
)

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend


def test_paired_interval_and_verdicts():
    mean, low, high = paired_interval([0.05, 0.06, 0.07, 0.05, 0.06])
    assert mean == pytest.approx(0.058) and 0 < low < mean < high
    # t(0.975, 4) = 2.776; std(ddof=1) of these = 0.008367
    assert high - mean == pytest.approx(2.776 * 0.008367 / math.sqrt(5), rel=1e-3)
    assert verdict(low, high) == "wins" and verdict(-0.2, -0.1) == "loses" and verdict(-0.1, 0.1) == "inconclusive"
    assert verdict(*paired_interval([0.1])[1:]) == "too few seeds"
    # A ratio of costs (an MSE): below 1 wins.
    assert verdict(0.3, 0.5, reference=1.0, lower_is_better=True) == "wins"
    assert verdict(1.1, 1.5, reference=1.0, lower_is_better=True) == "loses"
    assert verdict(0.8, 1.2, reference=1.0, lower_is_better=True) == "inconclusive"


def test_seeds_needed_is_where_the_interval_would_leave_zero():
    differences = [0.05, -0.01, 0.04]
    n = seeds_needed(differences)
    assert n > 3
    mean, spread = 0.08 / 3, 0.032146
    from scipy import stats

    half = lambda k: stats.t.ppf(0.975, k - 1) * spread / math.sqrt(k)  # noqa: E731
    assert half(n) < mean <= half(n - 1)
    assert seeds_needed([0.01, -0.01]) is None  # a mean of 0: no number of seeds resolves it


def _runs():
    rows = []
    for seed, (s, f) in enumerate([(0.40, 0.50), (0.60, 0.72), (0.50, 0.61)]):
        for strategy, accuracy, val in (("scratch", s, 0.5), ("frozen", f, 0.6)):
            rows.append(
                {
                    "setting": "in_domain",
                    "strategy": strategy,
                    "labels_per_class": 1,
                    "seed": seed,
                    "accuracy": accuracy,
                    "val_accuracy": val,
                    "steps": 10,
                    "seconds": 1.0,
                }
            )
    return rows


def test_comparisons_are_paired_per_seed():
    [row] = compare_with_scratch(_runs())
    # Unpaired, the seed-to-seed spread (0.4..0.6) would swamp the gain; paired, every seed gains 0.10..0.12.
    assert row["gain"] == pytest.approx(0.11) and row["low"] > 0 and row["verdict"] == "wins" and row["seeds"] == 3
    assert row["seeds_needed"] is None
    missing = [r for r in _runs() if not (r["strategy"] == "scratch" and r["seed"] == 2)]
    assert compare_with_scratch(missing)[0]["seeds"] == 2


def test_ablations_pair_each_strategy_with_the_recipe_missing_one_part():
    runs = _runs() + [
        {**r, "strategy": "ablated", "accuracy": r["accuracy"] - 0.05} for r in _runs() if r["strategy"] != "scratch"
    ]
    strategy = next(r["strategy"] for r in _runs() if r["strategy"] != "scratch")
    [row] = compare_ablations(runs, [(strategy, "ablated", "a part"), ("not run", "ablated", "another")])
    assert (row["strategy"], row["ablation"], row["removes"]) == (strategy, "ablated", "a part")
    assert row["gain"] == pytest.approx(0.05) and row["verdict"] == "wins" and row["seeds"] == 3
    table = comparison_table([row]).splitlines()
    assert "against (what it removes)" in table[0] and "| frozen | ablated (a part) | +5.0 points |" in table[2]
    assert "gain over scratch" in comparison_table(compare_with_scratch(_runs())).splitlines()[0]


def test_an_inconclusive_comparison_gives_its_seeds_needed_as_a_planning_estimate():
    runs = _runs()
    for r in runs:
        if r["strategy"] == "frozen" and r["seed"] == 1:
            r["accuracy"] = 0.55  # one seed loses: the interval now covers 0
    [row] = compare_with_scratch(runs)
    assert row["verdict"] == "inconclusive" and row["seeds_needed"] > 3
    table = comparison_table([row])
    assert "| inconclusive | 3 |" in table  # the verdict cell holds the verdict alone
    assert "Planning estimates, not evidence" in table and f"frozen (1/class) ~{row['seeds_needed']}" in table
    from tlkeras.study.reports import say

    assert say(row).startswith(f"{100 * row['gain']:+.1f} points, inconclusive: unresolved between ")


def test_summary_recommendation_table_and_files(tmp_path):
    runs = _runs()
    summary = summarize(runs)
    scratch = next(r for r in summary if r["strategy"] == "scratch")
    assert scratch["mean"] == pytest.approx(0.5) and scratch["runs"] == 3
    assert recommend(summary) == {1: "frozen"}
    table = markdown_table(summary)
    assert "| 1 | 50.0 ± 8.2 % | 61.0 ± 9.0 % |" in table
    write_results(tmp_path, runs, {"seed": 0}, generative=[{"seed": 0}])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["runs"] == runs and saved["configuration"] == {"seed": 0} and saved["generative"] == [{"seed": 0}]
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].startswith("setting,strategy") and lines[1] == "in_domain,scratch,1,0,0.400000,0.500000,10,1.000,"


def test_runs_on_a_fixed_schedule_recommend_nothing():
    runs = [{**r, "val_accuracy": None} for r in _runs()]
    summary = summarize(runs)
    assert math.isnan(summary[0]["val_mean"]) and recommend(summary) == {}
