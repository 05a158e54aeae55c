"""`tlkeras.course`: the run a notebook is in, and its results shown beside the published full run's."""

import json
import os

import nbformat
import pytest
from helpers import load_script

from tlkeras.course import RECORD_VARIABLE, NotebookRun, load_full_run, setup_notebook

# Backend-independent: make test runs these on its first backend only.
pytestmark = pytest.mark.any_backend

QUICK = {"TLKERAS_FAST": "1"}


def _publish(folder, notebook, shown):
    with open(os.path.join(folder, f"{notebook}.json"), "w", encoding="utf-8") as f:
        json.dump({"notebook": notebook, "command": "record", "backend": "jax", "shown": shown}, f)


def test_the_quick_run_prints_each_result_with_the_full_runs_beneath(tmp_path, capsys):
    _publish(tmp_path, "nb", {"mse": "MSE 0.0093", "table": "| a |\n| 1 |"})
    run = setup_notebook("nb", environ=QUICK, full_runs=str(tmp_path))
    assert run.fast and "results/notebooks/nb.json (record, jax)" in capsys.readouterr().out
    run.show("mse", "MSE 0.0302")
    run.show("table", "| a |\n| 2 |")
    assert capsys.readouterr().out.splitlines() == [
        "quick run | MSE 0.0302",
        "full run  | MSE 0.0093",
        "quick run | | a |",
        "          | | 2 |",
        "full run  | | a |",
        "          | | 1 |",
    ]


def test_a_result_without_a_full_run_says_how_to_publish_one(tmp_path, capsys):
    run = setup_notebook("nb", environ=QUICK, full_runs=str(tmp_path))
    assert "No full run of nb is published yet" in capsys.readouterr().out
    run.show("mse", "MSE 0.03")
    assert capsys.readouterr().out.splitlines()[1] == (
        "full run  | not published (results/notebooks/nb.json has no 'mse': `python scripts/course.py record nb`)"
    )


def test_a_full_run_prints_results_plainly_and_records_them_only_when_asked(tmp_path, capsys):
    run = setup_notebook("nb", environ={}, full_runs=str(tmp_path))
    run.show("mse", "MSE 0.0093")
    assert capsys.readouterr().out.splitlines()[-1] == "MSE 0.0093" and os.listdir(tmp_path) == []

    record_dir = tmp_path / "record"
    run = setup_notebook("nb", environ={RECORD_VARIABLE: str(record_dir)}, full_runs=str(tmp_path))
    assert load_full_run("nb", str(record_dir))["shown"] == {}  # a fresh record: nothing from an earlier run
    run.show("mse", "MSE 0.0093")
    run.show("gain", "+1.0 points")
    run.show("mse", "MSE 0.0090")  # a cell run again replaces its result
    record = load_full_run("nb", str(record_dir))
    assert record["shown"] == {"mse": "MSE 0.0090", "gain": "+1.0 points"}
    assert record["notebook"] == "nb" and record["backend"]


def test_bad_names_and_records_are_refused_by_name(tmp_path):
    run = NotebookRun(True, "transpose", notebook="nb")
    with pytest.raises(ValueError, match="`key` must be lower-case words.*'Validation MSE'"):
        run.show("Validation MSE", "0.1")
    with pytest.raises(TypeError, match="`text` must be the result as a string. Received: float"):
        run.show("mse", 0.1)
    with pytest.raises(ValueError, match=r"`notebook` must be the notebook's file name.*'01/x.ipynb'"):
        setup_notebook("01/x.ipynb", environ=QUICK)
    (tmp_path / "nb.json").write_text("{not json")
    with pytest.raises(ValueError, match="nb.json' is not valid JSON"):
        setup_notebook("nb", environ=QUICK, full_runs=str(tmp_path))
    (tmp_path / "nb.json").write_text('{"mse": 0.1}')
    with pytest.raises(ValueError, match="nb.json' is not a notebook's full run"):
        load_full_run("nb", str(tmp_path))


def _notebook(path, *code):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in code])
    nbformat.write(nb, path)
    return str(path)


def test_record_publishes_a_full_runs_results_with_the_hash_of_its_code(tmp_path, monkeypatch):
    course = load_script("course")
    monkeypatch.setenv("TLKERAS_FAST", "1")  # recording runs the full run whatever the caller's mode
    setup = 'from tlkeras.course import setup_notebook\ncourse = setup_notebook("tiny")'
    tiny = _notebook(tmp_path / "tiny.ipynb", setup, 'course.show("mode", f"fast: {course.fast}")')
    published = tmp_path / "published"
    course.record(["tiny"], full_runs=str(published), sources=[tiny])
    record = load_full_run("tiny", str(published))
    assert record["shown"] == {"mode": "fast: False"} and record["code_sha256"] == course.code_sha256(tiny)
    assert record["command"] == "python scripts/course.py record tiny" and record["seconds"] > 0
    assert os.environ["TLKERAS_FAST"] == "1" and RECORD_VARIABLE not in os.environ  # the caller's environment back

    broken = _notebook(tmp_path / "broken.ipynb", setup.replace("tiny", "broken"), "raise RuntimeError('no')")
    with pytest.raises(Exception, match="no"):
        course.record(["broken"], full_runs=str(published), sources=[broken])
    assert sorted(os.listdir(published)) == ["tiny.json"]  # a failed run publishes nothing
    with pytest.raises(ValueError, match=r"`names` must be course notebooks.*\['missing'\]"):
        course.record(["missing"], full_runs=str(published), sources=[tiny])


def test_the_code_hash_covers_what_a_full_run_runs_and_not_the_quick_runs_values(tmp_path):
    course = load_script("course")
    parameters, quick, rest = "STEPS = 500", "if course.fast:\n    STEPS = 20", "train(STEPS)"
    hashed = course.code_sha256(_notebook(tmp_path / "a.ipynb", parameters, quick, rest))
    assert course.code_sha256(_notebook(tmp_path / "b.ipynb", parameters, quick.replace("20", "5"), rest)) == hashed
    for changed in (("STEPS = 400", quick, rest), (parameters, quick, "train(STEPS, seed=1)")):
        assert course.code_sha256(_notebook(tmp_path / "c.ipynb", *changed)) != hashed, changed
