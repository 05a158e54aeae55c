"""Numbers that cannot drift: the results readers see come from results/, and their words from their intervals.

- Every published run in `results/runs.json` has a committed result file that records its command,
  commit, machine, package versions and date.
- The text between `<!-- result ... -->` markers in README.md, docs/*.md and the notebooks' markdown
  is what the result files say (`tlkeras results render` writes it; a hand edit fails here).
- Outside the markers, every interval a reader sees matches an interval of a result file at the
  printed rounding, and none of the phrases below stands within a sentence of an inconclusive
  interval: an inconclusive interval says "unresolved: between X and Y", never that a part adds nothing.
"""

import glob
import json
import os
import re

import pytest

from tlkeras.study import published

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend

ROOT = published.ROOT
# Read as "the part adds nothing" or "the other part did it all": refused near an inconclusive interval.
OVERREACH = (
    r"no effect",
    r"none of",
    r"\bnot (?:from )?the\b",
    r"belongs to",
    r"no difference",
    r"\bequal(?:ly)?\b",
    r"adds nothing",
    r"upper bound",
)
# An interval as tlkeras prints one: signed gains ("[-3.1, +3.3]", "[+0.006, +0.028]") or a ratio ("[0.20, 0.51]").
INTERVAL = re.compile(r"\[([+-]\d+(?:\.\d+)?), ([+-]\d+(?:\.\d+)?)\]|\[(\d\.\d\d), (\d\.\d\d)\]")


def prose_files():
    """`{path: markdown text}`: README.md, docs/*.md and the notebooks' markdown cells."""
    texts = {}
    for path in ["README.md", *sorted(glob.glob("docs/*.md", root_dir=ROOT))]:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            texts[path] = f.read()
    for path in sorted(glob.glob("notebooks/[0-9][0-9]_*.ipynb", root_dir=ROOT)):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        texts[path] = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return texts


def published_intervals(root=published.RESULTS):
    """Every interval of every result file, as the strings tlkeras prints it at 1, 2 and 3 decimals."""
    printed = set()
    for name in published.index(root):
        result = published.load(name, root)
        rows = [
            *result.get("comparisons", []),
            *result.get("ablations", []),
            *result.get("clustering_comparisons", []),
        ]
        for row in rows:
            if row["verdict"] == "too few seeds":
                continue
            for scale, digits in ((100, 1), (1, 3), (1, 2)):
                printed.add((f"{scale * row['low']:+.{digits}f}", f"{scale * row['high']:+.{digits}f}"))
        generative = published.summarize_generative_rows(result.get("generative", []))
        if generative:
            printed.add((f"{generative['low']:.2f}", f"{generative['high']:.2f}"))
    return printed


def outside_markers(text):
    return published.MARKER.sub(" ", text)


def drift(text, intervals):
    """The intervals in `text`, outside markers, that no result file holds."""
    found = []
    for match in INTERVAL.finditer(outside_markers(text)):
        pair = (match[1], match[2]) if match[1] else (match[3], match[4])
        if pair not in intervals:
            found.append(match[0])
    return found


def _inconclusive(sentence):
    if "inconclusive" in sentence or "unresolved" in sentence:
        return True
    for match in INTERVAL.finditer(sentence):
        if match[1] and float(match[1]) < 0 < float(match[2]):
            return True
    return False


def overreach(text):
    """Sentences that read an inconclusive interval as more than it shows: a refused phrase within a sentence of one."""
    plain = re.sub(r"<!-- /?result[^>]*-->", "", text)
    sentences = [s for s in re.split(r"(?<=[.;:!?])\s+|\n\s*\n|\n(?=\s*[-|#])", plain) if s.strip()]
    hits = []
    for i, sentence in enumerate(sentences):
        near = sentences[max(0, i - 1) : i + 2]
        if any(_inconclusive(s) for s in near):
            for phrase in OVERREACH:
                if re.search(phrase, sentence, re.I):
                    hits.append(f"{phrase!r} in: {sentence.strip()[:160]}")
    return hits


def test_every_published_run_has_a_result_file_with_its_provenance():
    runs = published.index()
    assert runs, "results/runs.json lists no run"
    for name, entry in runs.items():
        result = published.load(name)
        environment = result["configuration"]["environment"]
        assert re.fullmatch(r"[0-9a-f]{40}", environment["commit"]), name
        assert environment["date"] and environment["machine"] and environment["python"], name
        assert {"keras", "numpy"} <= set(environment["packages"]), name
        assert result["configuration"]["command"].startswith("tlkeras " + " ".join(entry["argv"])), name
        measured = result["runs"] or result.get("clustering") or result.get("generative")
        assert result["protocol"] and measured, name  # a clustering-only run has no classification runs
        big = [f for f in os.listdir(os.path.join(published.RESULTS, name)) if f not in published.KEPT]
        assert not big, f"results/{name} keeps only {published.KEPT}: {big}"


@pytest.mark.parametrize("path", sorted(prose_files()))
def test_the_words_between_markers_are_what_the_results_say(path):
    text = prose_files()[path]
    for match in published.MARKER.finditer(text):
        assert match["text"] == published.filled(match["query"]), (
            f"{path}: the marker {match['query']!r} says {match['text']!r}; its result file says "
            f"{published.filled(match['query'])!r}. Run `tlkeras results render {path}`."
        )


@pytest.mark.parametrize("path", sorted(prose_files()))
def test_every_interval_outside_the_markers_is_a_published_one(path):
    assert drift(prose_files()[path], published_intervals()) == [], path


@pytest.mark.parametrize("path", sorted(prose_files()))
def test_no_inconclusive_interval_is_read_as_no_share(path):
    assert overreach(prose_files()[path]) == [], path


def test_the_drift_checks_fail_on_hand_edited_numbers_and_on_yesterdays_prose(tmp_path):
    """The checks above can fail."""
    intervals = published_intervals()
    name = next(iter(published.index()))
    [row] = published.load(name)["comparisons"][:1] or [None]
    if row is not None:
        query = f"{name} comparison {row['setting']} {row['labels_per_class']} {row['strategy']}"
        good = f"<!-- result {query} -->{published.quote(query)}<!-- /result -->"
        assert published.render(good) == good
        edited = re.sub(r"\d", lambda m: str((int(m[0]) + 1) % 10), published.quote(query), count=1)
        assert (
            published.render(f"<!-- result {query} -->{edited}<!-- /result -->")
            == good
            != good.replace(published.quote(query), edited)
        )
    # An interval no run printed, outside the markers.
    assert drift("LP-FT loses, -7.1 [-11.0, -3.3] (made up).", intervals) == ["[-11.0, -3.3]"]
    # Sentences the README printed before: an inconclusive interval read as "no share".
    yesterday = (
        "the recipe on pixels wins nearly as much, and what the codes add, +0.7 [-0.3, +1.7], is inconclusive: "
        "the win belongs to the neighbourhoods. Its ablations credit the self-training, not the reconstruction "
        "loss (+0.1 [-3.1, +3.3]). None of this win is the autoencoder's (-2.0 [-6.9, +3.0])."
    )
    hits = overreach(yesterday)
    assert any("belongs to" in h for h in hits) and any("none of" in h for h in hits)
    assert any("not (?:from )?the" in h for h in hits)
    assert overreach("It wins, +5.9 [+5.0, +6.9]; the other part adds nothing the seeds show.") == []


def test_a_paired_quote_of_two_arms_is_the_ablation_the_run_declared():
    # `paired` computes from the runs what the run itself compared: where both exist, they agree.
    name, row = next((name, row) for name in published.index() for row in published.load(name).get("ablations", []))
    where = f"{row['setting']} {row['labels_per_class']} {row['strategy']}"
    assert published.quote(f"{name} paired {where} {row['ablation']}") == published.quote(
        f"{name} ablation {where} {row['ablation']}"
    )
    with pytest.raises(ValueError, match="0 paired rows match"):
        published.quote(f"{name} paired {row['setting']} {row['labels_per_class']} no_such_arm {row['ablation']}")


def test_the_results_command_lists_renders_and_refuses_unknown_runs(tmp_path, capsys):
    from tlkeras.cli import main

    assert main(["results", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{name}: " in listed for name in published.index())
    assert main(["results", "rerun", "no_such_run"]) == 2
    assert "`NAME` must be a published run" in capsys.readouterr().err
    name = next(iter(published.index()))
    page = tmp_path / "page.md"
    page.write_text(f"Seeds: <!-- result {name} seeds -->99<!-- /result -->.\n")
    assert main(["results", "render", str(page)]) == 0
    assert (
        page.read_text() == f"Seeds: <!-- result {name} seeds -->{published.quote(f'{name} seeds')}<!-- /result -->.\n"
    )


def test_a_result_file_from_before_the_clustering_score_was_renamed_loads_converted(tmp_path):
    """`cluster_accuracy` was `accuracy`, the word for a classifier's score too: old files are converted on load."""
    result = published.load("map")
    old = json.loads(json.dumps(result).replace('"cluster_accuracy"', '"accuracy"'))
    assert old["clustering"][0]["accuracy"] and old["clustering_comparisons"][0]["metric"] in ("accuracy", "nmi")
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "results.json").write_text(json.dumps(old))
    (tmp_path / "runs.json").write_text(json.dumps({"map": published.index()["map"]}))
    assert published.load("map", root=str(tmp_path)) == result


@pytest.mark.skipif(
    __import__("keras").backend.backend() != "tensorflow", reason="an end-to-end demo run: TensorFlow only"
)
def test_a_rerun_replaces_the_folder_whole_and_reports_no_moved_verdict_on_the_same_machine(tmp_path):
    argv = ["demo", "--dataset", "digits", "--fast", "--num-seeds", "2", "--max-steps", "4", "--max-test-images", "60"]
    argv += ["--settings", "in_domain", "--strategies", "scratch", "frozen", "--labels-per-class", "2"]
    (tmp_path / "runs.json").write_text(json.dumps({"tiny": {"what": "a test's run", "argv": argv}}))
    cache = str(tmp_path / "cache")
    assert published.rerun("tiny", root=str(tmp_path), cache_dir=cache) == []  # the first run: nothing to move
    first = published.load("tiny", root=str(tmp_path))
    assert sorted(os.listdir(tmp_path / "tiny")) == sorted(published.KEPT)
    assert first["configuration"]["command"].startswith("tlkeras " + " ".join(argv))
    assert published.rerun("tiny", root=str(tmp_path), cache_dir=cache) == []  # same seeds, same machine
    second = published.load("tiny", root=str(tmp_path))
    assert [r["accuracy"] for r in second["runs"]] == [r["accuracy"] for r in first["runs"]]
    [row] = second["comparisons"]
    other = "loses" if row["verdict"] != "loses" else "wins"
    changed = {**second, "comparisons": [{**row, "verdict": other}]}
    assert published.moved(second, changed) == [f"in_domain 2 frozen vs scratch: {row['verdict']} -> {other}"]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no staging folder left
