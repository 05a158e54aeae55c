"""The published runs: every result a reader sees comes from a committed result file, and its words from its interval.

`results/runs.json` lists each run the README, the docs and the notebooks quote: its name, what it
measures and its `tlkeras demo` arguments. `tlkeras results rerun NAME` (or `--all`; `make results`)
runs it again into `results/NAME/` (`results.json`, which records the command, the git commit, the
machine, the package versions and the date, and `report.md`), and prints every verdict the rerun
moved. Prose quotes a result between markers, which `render` fills from the result file with the
one way tlkeras says a comparison (`tlkeras.study.reports.say`):

    <!-- result map comparison in_domain 1 neighbourhood -->(the gain, its interval and verdict)<!-- /result -->

`tlkeras results render FILE...` rewrites the text between markers; the test suite fails when the
text there differs from what the result files say (tests/test_published.py).
"""

import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata

from tlkeras.saving import write_text

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
RESULTS = os.path.join(ROOT, "results")
PACKAGES = ("keras", "tensorflow", "jax", "torch", "numpy", "scipy", "scikit-learn", "umap-learn")
# The files of a demo run a result folder keeps: small, text or one figure.
KEPT = ("results.json", "report.md", "map.png")


def environment():
    """Where and with what a run ran: git commit, date, machine, Python and package versions."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory = f", {memory:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{model}, {os.cpu_count()} CPUs{memory}, {platform.system()}"


def index(root=RESULTS):
    """`{name: {"what", "argv"}}`: the published runs, from `results/runs.json`."""
    path = os.path.join(root, "runs.json")
    try:
        with open(path, encoding="utf-8") as f:
            runs = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"No index of published runs at {path!r}.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from e
    for name, entry in runs.items():
        if not re.fullmatch(r"[a-z0-9_]+", name) or not isinstance(entry.get("argv"), list):
            raise ValueError(f"{path!r}: run {name!r} needs a lower-case name and an `argv` list. Received: {entry!r}")
    return runs


def upgrade(result):
    """A result file in today's names: one written before the clustering score was named `cluster_accuracy`
    (a Hungarian-matched cluster accuracy, not a classifier's) is converted in place and returned.

    Example:
    >>> old = {"clustering": [{"accuracy": 0.5, "nmi": 0.4}], "clustering_comparisons": [{"metric": "accuracy"}]}
    >>> upgrade(old)["clustering"], old["clustering_comparisons"]
    ([{'cluster_accuracy': 0.5, 'nmi': 0.4}], [{'metric': 'cluster_accuracy'}])
    """
    rows = result.get("clustering", [])
    for i, row in enumerate(rows):
        if "accuracy" in row and "cluster_accuracy" not in row:  # renamed where it stood: the file's order kept
            rows[i] = {"cluster_accuracy" if key == "accuracy" else key: value for key, value in row.items()}
    for row in result.get("clustering_comparisons", []):
        if row.get("metric") == "accuracy":
            row["metric"] = "cluster_accuracy"
    return result


def load(name, root=RESULTS):
    """The result file of published run `name`; a missing or unreadable one is a clear error."""
    known = index(root)
    if name not in known:
        raise ValueError(f"`name` must be a published run, one of {sorted(known)}. Received: name={name!r}")
    path = os.path.join(root, name, "results.json")
    try:
        with open(path, encoding="utf-8") as f:
            return upgrade(json.load(f))
    except FileNotFoundError:
        raise FileNotFoundError(f"Run {name!r} has no result file yet: `tlkeras results rerun {name}`.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON ({e}): rerun it, `tlkeras results rerun {name}`.") from e


def verdicts(result):
    """`{what was compared: verdict}` over a result's comparisons, ablations, clustering and generation."""
    said = {}
    for row in result.get("comparisons", []):
        said[f"{row['setting']} {row['labels_per_class']} {row['strategy']} vs scratch"] = row["verdict"]
    for row in result.get("ablations", []):
        key = f"{row['setting']} {row['labels_per_class']} {row['strategy']} vs {row['ablation']}"
        said[key] = row["verdict"]
    for row in result.get("clustering_comparisons", []):
        said[f"clustering {row['features']} {row['method']} {row['metric']} vs {row['baseline']}"] = row["verdict"]
    generative = summarize_generative_rows(result.get("generative", []))
    if generative:
        said["generative fine-tuned vs scratch"] = generative["verdict"]
    return said


def summarize_generative_rows(rows):
    """The generative summary of a result file's per-seed rows, or `None` without any."""
    from tlkeras.study.generative import summarize_generative

    return summarize_generative(rows) if rows else None


def moved(before, after):
    """The comparisons whose verdict differs between two results, as lines `what: old -> new`."""
    old, new = verdicts(before), verdicts(after)
    return [
        f"{key}: {old.get(key, 'absent')} -> {new.get(key, 'absent')}"
        for key in {**old, **new}
        if old.get(key) != new.get(key)
    ]


def rerun(name, root=RESULTS, cache_dir=None):
    """Run published run `name` again and replace `results/NAME/` whole; return the verdicts it moved."""
    from tlkeras.cli import main

    runs = index(root)
    if name not in runs:
        raise ValueError(f"`name` must be a published run, one of {sorted(runs)}. Received: name={name!r}")
    entry, before = runs[name], None
    if os.path.exists(os.path.join(root, name, "results.json")):
        before = load(name, root)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}.rerun-") as work:
        argv = [*entry["argv"], "--output", os.path.join(work, "run")]
        if cache_dir:
            argv += ["--cache-dir", cache_dir]
        status = main(argv)
        if status != 0:
            raise RuntimeError(f"`tlkeras {' '.join(entry['argv'])}` exited with status {status}")
        staged = os.path.join(work, name)
        os.makedirs(staged)
        for kept in KEPT:
            if os.path.exists(os.path.join(work, "run", kept)):
                shutil.copy(os.path.join(work, "run", kept), staged)
        target = os.path.join(root, name)
        if os.path.exists(target):
            os.rename(target, os.path.join(work, "old"))
        os.rename(staged, target)
    after = load(name, root)
    return [] if before is None else moved(before, after)


# A query starts with a published run's name and a kind in lower case: `<!-- result NAME ... -->` in prose
# that explains the markers is not one.
MARKER = re.compile(r"<!-- result (?P<query>[a-z0-9_]+ [a-z]+[^>]*?) -->(?P<text>.*?)<!-- /result -->", re.S)


def quote(query, root=RESULTS, cache=None):
    """The words a marker's query stands for, read from the result file it names.

    Queries:
        `NAME comparison SETTING N STRATEGY`: the gain over scratch, interval and verdict;
        `NAME ablation SETTING N STRATEGY ABLATION`: the gain over the ablation;
        `NAME paired SETTING N STRATEGY BASELINE`: any two arms of the run, paired per seed (computed
            from its runs: a comparison the run did not declare, such as one cut against another);
        `NAME accuracy SETTING N STRATEGY`: mean test accuracy over seeds, in %;
        `NAME pretraining SETTING OBJECTIVE`: the seconds that objective's pretraining took (in the run
            that trained it: a cached encoder keeps its first run's time); `NAME pretraining`: the
            run's own autoencoder's;
        `NAME clustering FEATURES METHOD METRIC`: the codes' gain over pixels;
        `NAME score FEATURES METHOD METRIC`: the mean clustering score;
        `NAME generative`: the ratio of test MSEs, fine-tuned over scratch;
        `NAME seeds`: how many seeds the run paired;
        `NAME table comparisons|ablations|clustering`: a Markdown table;
        `NAME verdicts`: how many verdicts the run prints, and how many `wins` chance alone would give;
        `NAME command`: the run's command;
        `NAME environment`: the machine, versions, commit and date it ran with;
        `NAME accuracies SETTING`: mean ± std test accuracy per strategy and budget, a Markdown table.
    """
    from tlkeras.study import reports

    cache = {} if cache is None else cache
    name, kind, *args = query.split()
    if name not in cache:
        cache[name] = load(name, root)
    result = cache[name]

    def one(rows, what, **match):
        found = [r for r in rows if all(str(r.get(k)) == v for k, v in match.items())]
        if len(found) != 1:
            raise ValueError(f"Marker {query!r}: {len(found)} {what} rows match in results/{name}/results.json")
        return found[0]

    if kind == "comparison":
        setting, n, strategy = args
        return reports.say(
            one(result["comparisons"], "comparison", setting=setting, labels_per_class=n, strategy=strategy)
        )
    if kind == "ablation":
        setting, n, strategy, ablation = args
        row = one(
            result["ablations"], "ablation", setting=setting, labels_per_class=n, strategy=strategy, ablation=ablation
        )
        return reports.say(row)
    if kind == "paired":
        from tlkeras.study.statistics import compare_with_scratch

        setting, n, strategy, baseline = args
        runs = [
            r for r in result["runs"] if (r.get("setting", "in_domain"), str(r["labels_per_class"])) == (setting, n)
        ]
        return reports.say(one(compare_with_scratch(runs, baseline=baseline), "paired", strategy=strategy))
    if kind == "pretraining":
        if args:
            setting, objective = args
            seconds = result["configuration"].get("pretraining_seconds", {}).get(setting, {}).get(objective)
        else:
            seconds = result["configuration"].get("pretrain_seconds")
        if seconds is None:
            raise ValueError(f"Marker {query!r}: results/{name}/results.json records no such pretraining time")
        return f"{seconds:.0f} s"
    if kind == "accuracy":
        setting, n, strategy = args
        runs = [
            r["accuracy"]
            for r in result["runs"]
            if (r.get("setting"), str(r["labels_per_class"]), r["strategy"]) == (setting, n, strategy)
        ]
        if not runs:
            raise ValueError(f"Marker {query!r}: no runs match in results/{name}/results.json")
        return f"{100 * sum(runs) / len(runs):.1f} %"
    if kind in ("clustering", "score"):
        features, method, metric = args
        row = one(result["clustering_comparisons"], "clustering", features=features, method=method, metric=metric)
        return reports.say(row, unit="", scale=1.0, digits=3) if kind == "clustering" else f"{row['mean']:.3f}"
    if kind == "generative":
        return reports.say_ratio(summarize_generative_rows(result["generative"]))
    if kind == "seeds":
        return str(len({r["seed"] for r in result["runs"]} | {r["seed"] for r in result.get("clustering", [])}))
    if kind == "table":
        (which,) = args
        if which == "clustering":
            return reports.clustering_table(result["clustering_comparisons"])
        return reports.comparison_table(result[which])
    if kind == "verdicts":
        return reports.say_multiplicity(verdicts(result))
    if kind == "command":
        return f"`tlkeras {' '.join(index(root)[name]['argv'])}`"
    if kind == "environment":
        env, configuration = result["configuration"]["environment"], result["configuration"]
        packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if k in ("keras", "tensorflow", "jax"))
        dirty = " with uncommitted changes" if env.get("uncommitted_changes") else ""
        return (
            f"{env['machine']}; Python {env['python']}, {packages}, backend {configuration['backend']}; "
            f"commit {env['commit'][:10]}{dirty}, {env['date'][:10]}"
        )
    if kind == "accuracies":
        (setting,) = args
        from tlkeras.study.statistics import summarize

        return reports.markdown_table(summarize(result["runs"]), setting)
    raise ValueError(f"Marker {query!r}: unknown kind {kind!r}")


def filled(query, root=RESULTS, cache=None):
    """What stands between a marker and its end: `quote`'s words, a table set apart by blank lines
    (Markdown starts a table only on a line of its own)."""
    text = quote(query, root, cache)
    return f"\n\n{text}\n\n" if "\n" in text else text


def render(text, root=RESULTS):
    """`text` with the words between every pair of markers made again from the result files."""
    cache = {}
    return MARKER.sub(lambda m: f"<!-- result {m['query']} -->{filled(m['query'], root, cache)}<!-- /result -->", text)


def render_file(path, root=RESULTS):
    """Rewrite the markers of a Markdown file or of a notebook's markdown cells; return whether it changed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".ipynb"):
        import nbformat

        notebook = nbformat.reads(text, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = render(cell.source, root)
        new = nbformat.writes(notebook) + "\n"
    else:
        new = render(text, root)
    if new != text:
        write_text(path, new)
    return new != text


def main(argv=None):
    """`tlkeras results list | rerun NAME... | rerun --all | render FILE...`."""
    import argparse

    parser = argparse.ArgumentParser(prog="tlkeras results", description="The published runs in results/.")
    commands = parser.add_subparsers(dest="action", required=True)
    commands.add_parser("list", help="the published runs and what each measures")
    again = commands.add_parser("rerun", help="run published runs again into results/NAME/, print moved verdicts")
    again.add_argument("names", nargs="*", metavar="NAME")
    again.add_argument("--all", action="store_true", help="every published run")
    again.add_argument("--cache-dir", default=None, help="where the autoencoders are cached (default: the demo's)")
    fill = commands.add_parser("render", help="fill the result markers of Markdown files and notebooks")
    fill.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    try:
        runs = index()
        if args.action == "list":
            for name, entry in runs.items():
                print(f"{name}: {entry['what']}\n    tlkeras {' '.join(entry['argv'])}")
            return 0
        if args.action == "render":
            for path in args.files:
                print(f"{path}: {'rewritten' if render_file(path) else 'unchanged'}")
            return 0
        names = list(runs) if args.all else args.names
        if not names:
            parser.error("name the runs to rerun, or pass --all")
        for name in names:
            if name not in runs:
                raise ValueError(f"`NAME` must be a published run, one of {sorted(runs)}. Received: {name!r}")
        for name in names:
            print(f"== {name}: tlkeras {' '.join(runs[name]['argv'])}", flush=True)
            changes = rerun(name, cache_dir=args.cache_dir)
            print("\n".join(f"   verdict moved: {line}" for line in changes) or "   no verdict moved", flush=True)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"tlkeras results: error: {e}", file=sys.stderr)
        return 2
    return 0
