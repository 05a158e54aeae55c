import json
import subprocess
import sys

import pytest

from tlkeras.cli import main


def _demo(tmp_path, name, *extra):
    argv = [
        "demo",
        "--dataset",
        "digits",
        "--fast",
        "--seeds",
        "1",
        "--steps",
        "5",
        "--test-images",
        "100",
        "--output",
        str(tmp_path / name),
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
    ]
    assert main(argv) == 0
    return json.loads((tmp_path / name / "results.json").read_text())


def test_demo_writes_a_complete_report_and_repeats_itself(tmp_path):
    first = _demo(tmp_path, "a", "--labels-per-class", "1", "3")
    folder = tmp_path / "a"
    for name in (
        "report.md",
        "results.csv",
        "pretrain_loss.png",
        "reconstructions.png",
        "label_efficiency.png",
    ):
        assert (folder / name).stat().st_size > 0, name
    runs = first["runs"]
    assert {r["strategy"] for r in runs} == {"scratch", "frozen", "fine_tuned", "recommended"}
    assert {r["labels_per_class"] for r in runs} == {1, 3} and {r["seed"] for r in runs} == {0}
    assert first["configuration"]["command"].startswith("tlkeras demo --dataset digits")
    assert "| labels per class |" in (folder / "report.md").read_text()
    # Same seed, cached autoencoder: the same run gives the same accuracy.
    second = _demo(tmp_path, "b", "--labels-per-class", "3", "--strategies", "recommended")
    [rerun] = second["runs"]
    [original] = [r for r in runs if r["strategy"] == "recommended" and r["labels_per_class"] == 3]
    assert rerun["accuracy"] == original["accuracy"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--labels-per-class", "0"], "positive integer"),
        (["demo", "--dataset", "cifar"], "invalid choice"),
        (["demo", "--strategies", "magic"], "invalid choice"),
        (["demo", "--bogus"], "unrecognized arguments"),
        ([], "required"),
    ],
)
def test_bad_options_get_a_message_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_errors_inside_the_demo_are_reported_cleanly(tmp_path, capsys):
    argv = [
        "demo",
        "--dataset",
        "digits",
        "--fast",
        "--labels-per-class",
        "500",
        "--output",
        str(tmp_path),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert main(argv) == 2
    assert "n=500" in capsys.readouterr().err


def test_module_entry_point_shows_help():
    out = subprocess.run([sys.executable, "-m", "tlkeras", "demo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--labels-per-class" in out.stdout and "TLKERAS_FAST" in out.stdout
