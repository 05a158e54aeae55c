import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import save_pngs

from tlkeras import plots
from tlkeras.cli import main

# The command line is the same code on every backend, and its training paths (label_efficiency,
# train_strategy, generative_transfer) are tested on each in test_study and test_strategies; its end-to-end runs
# take minutes on XLA:CPU, so they run on the default backend only. They use the quick strategies:
# semi_supervised's four training rounds take ~35 s a run on TensorFlow; train_strategy tests it.
end_to_end = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="end-to-end demo runs: TensorFlow only (see comment)"
)

# A small study of scratch against a frozen encoder, in-domain and generative, for the --data tests.
SMALL_STUDY = ["--settings", "in_domain", "generative", "--strategies", "scratch", "frozen", "--labels-per-class", "2"]
QUICK = ["--fast", "--num-seeds", "2", "--max-steps", "4", "--max-test-images", "100", "--validation-size", "40"]


def _demo(tmp_path, name, *extra, dataset=("--dataset", "digits")):
    argv = ["demo", *dataset, *QUICK, "--output", str(tmp_path / name), "--cache-dir", str(tmp_path / "cache"), *extra]
    assert main(argv) == 0
    return json.loads((tmp_path / name / "results.json").read_text())


@end_to_end
def test_demo_writes_the_map_and_repeats_itself(tmp_path):
    first = _demo(
        tmp_path,
        "a",
        "--labels-per-class",
        "3",  # one budget: label_efficiency's loop over budgets is tested in test_study
        "--strategies",
        "scratch",
        "frozen",  # one training phase: lp_ft's two are tested in test_strategies
        "--settings",
        "in_domain",
        "class_disjoint",
    )
    folder = tmp_path / "a"
    for name in (
        "report.md",
        "results.csv",
        "pretrain_loss.png",
        "reconstructions.png",
        "label_efficiency.png",
        "map.png",
    ):
        assert (folder / name).stat().st_size > 0, name
    runs = first["runs"]
    assert {r["strategy"] for r in runs} == {"scratch", "frozen"}
    assert {r["setting"] for r in runs} == {"in_domain", "class_disjoint"}
    assert {r["labels_per_class"] for r in runs} == {3} and {r["seed"] for r in runs} == {0, 1}
    assert {(c["setting"], c["labels_per_class"]) for c in first["comparisons"]} == {
        ("in_domain", 3),
        ("class_disjoint", 3),
    }
    assert first["configuration"]["command"].startswith("tlkeras demo --dataset digits")
    # each setting's pretraining and its training time (the class-disjoint one on the source classes only)
    seconds = first["configuration"]["pretraining_seconds"]
    assert seconds.keys() == {"in_domain", "class_disjoint"} and all(s["reconstruction"] > 0 for s in seconds.values())
    report = (folder / "report.md").read_text()
    assert "95 % CI" in report and "| in_domain | 3 | frozen |" in report
    assert "Chosen on validation (best mean validation accuracy): in_domain: 3/class `" in report
    # Same seed, cached autoencoder: the same run gives the same accuracy; the folder is replaced whole
    # (nothing of the first run's class_disjoint setting is left in it).
    second = _demo(tmp_path, "a", "--labels-per-class", "3", "--strategies", "scratch", "--settings", "in_domain")
    assert {r["setting"] for r in second["runs"]} == {"in_domain"} and second["comparisons"] == []
    assert (
        "class_disjoint" not in (folder / "report.md").read_text()
        and "class_disjoint" not in (folder / "results.csv").read_text()
    )
    [original] = [
        r
        for r in runs
        if (r["strategy"], r["labels_per_class"], r["seed"], r["setting"]) == ("scratch", 3, 0, "in_domain")
    ]
    [rerun] = [r for r in second["runs"] if r["seed"] == 0]
    assert rerun["accuracy"] == original["accuracy"]


@end_to_end
def test_demo_runs_on_any_npz_dataset_with_generative_transfer(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((120, 14, 14)) * 255).astype("uint8")  # 14x14: padded to 16x16 for the encoder
    y = np.repeat(np.arange(3), 40)
    x[y == 1, :7] = 255  # a learnable difference between the classes
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y, x_test=x[:30], y_test=y[:30])
    # Only the settings asked for run: generative alone trains no classifier.
    result = _demo(tmp_path, "npz", "--data", str(tmp_path / "mine.npz"), "--settings", "generative", dataset=())
    assert result["runs"] == [] and result["comparisons"] == []
    assert [g["seed"] for g in result["generative"]] == [0, 1]
    assert all(g["scratch_mse"] > 0 and g["fine_tuned_mse"] > 0 for g in result["generative"])


@end_to_end
def test_the_default_map_runs_the_three_tasks_on_any_npz_with_labels_that_count(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.random((150, 14, 14)) * 80).astype("uint8")
    y = np.repeat(np.arange(3), 50)
    x[y == 1, :, :7] += 170  # classes a clustering can find: dark, bright left, bright right
    x[y == 2, :, 7:] += 170
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y, x_test=x[::3], y_test=y[::3])
    argv = ["demo", "--data", str(tmp_path / "mine.npz"), "--fast", "--num-seeds", "2", "--max-steps", "4"]
    assert main([*argv, "--output", str(tmp_path / "map"), "--cache-dir", str(tmp_path / "cache")]) == 0
    result = json.loads((tmp_path / "map" / "results.json").read_text())
    assert {r["strategy"] for r in result["runs"]} == {"scratch", "neighbourhood", "neighbourhood_pixels"}
    assert result["protocol"]["labels_for_choices"] == 0 and all(r["val_accuracy"] is None for r in result["runs"])
    assert {c["features"] for c in result["clustering"]} == {"autoencoder", "autoencoder+umap", "pixels", "pixels+umap"}
    assert len(result["generative"]) == 2 and result["comparisons"] and result["clustering_comparisons"]
    assert {(a["strategy"], a["ablation"]) for a in result["ablations"]} == {("neighbourhood", "neighbourhood_pixels")}
    report = (tmp_path / "map" / "report.md").read_text()
    assert "labels that count" in report and "### clustering" in report and "mean training" in report
    assert "Chosen on validation" not in report  # no validation split to choose on
    assert "### ablations" in report and "| neighbourhood_pixels (the autoencoder's codes" in report


@end_to_end
def test_demo_runs_on_a_folder_of_rgb_images_with_unlabeled_ones(tmp_path, capsys):
    rng = np.random.default_rng(0)
    tints = {"red": (255, 60, 60), "green": (60, 255, 60), "blue": (60, 60, 255)}
    for part, count in (("train", 30), ("test", 6)):
        for name, tint in tints.items():  # noisy 14x14 squares tinted by class: colour tells the classes apart
            save_pngs(tmp_path / "photos" / part / name, rng.random((count, 14, 14, 1)) * np.array(tint))
    save_pngs(tmp_path / "photos" / "unlabeled", rng.random((20, 14, 14, 3)) * 255)
    result = _demo(
        tmp_path,
        "folder",
        "--data",
        str(tmp_path / "photos"),
        "--color-mode",
        "rgb",
        "--image-size",
        "16",
        *SMALL_STUDY,
        dataset=(),
    )
    out = capsys.readouterr().out
    assert "90 training images (16, 16, 3), 18 test images, 20 more without labels" in out
    assert {r["strategy"] for r in result["runs"]} == {"scratch", "frozen"} and len(result["generative"]) == 2
    assert {r["setting"] for r in result["runs"]} == {"in_domain"}  # only the settings asked for
    assert result["configuration"]["options"]["color_mode"] == "rgb"


def _fails(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_bad_options_and_budgets_fail_before_any_training(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    base = ["demo", "--dataset", "digits", "--fast", *cache]
    assert "is a file" in _fails([*base, "--output", str(a_file)], capsys)
    assert "is a file" in _fails([*base, "--output", str(a_file / "under")], capsys)
    assert "is a file" in _fails(["demo", "--dataset", "digits", "--cache-dir", str(a_file)], capsys)
    assert "500" in _fails([*base, "--labels-per-class", "500", "--output", str(tmp_path / "out")], capsys)
    assert "repeat" in _fails([*base, "--labels-per-class", "1", "1", "--output", str(tmp_path / "out")], capsys)
    assert "does not exist" in _fails(
        [*base, "--data", str(tmp_path / "none.npz"), "--output", str(tmp_path / "o")], capsys
    )
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # nothing trained, nothing written
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    assert "not a tlkeras report" in _fails([*base, "--output", str(tmp_path / "mine")], capsys)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--labels-per-class", "0"], "integer >= 1"),
        (["demo", "--seed", "-1"], "integer >= 0"),
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


@end_to_end
def test_an_interrupted_rerun_leaves_the_previous_report_whole(tmp_path, monkeypatch, capsys):
    _demo(tmp_path, "r", "--labels-per-class", "1", "--strategies", "scratch", "--settings", "in_domain")
    before = {name: (tmp_path / "r" / name).read_bytes() for name in os.listdir(tmp_path / "r")}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "plot_map", interrupt)
    argv = [
        "demo",
        "--dataset",
        "digits",
        *QUICK,
        "--output",
        str(tmp_path / "r"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert (
        main([*argv, "--labels-per-class", "1", "--strategies", "scratch", "--settings", "in_domain", "--seed", "5"])
        == 130
    )
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert {name: (tmp_path / "r" / name).read_bytes() for name in os.listdir(tmp_path / "r")} == before
    assert sorted(os.listdir(tmp_path)) == ["cache", "r"]  # no staging folder left behind


def test_module_entry_point_shows_help():
    out = subprocess.run([sys.executable, "-m", "tlkeras", "demo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--labels-per-class" in out.stdout and "TLKERAS_FAST" in out.stdout
    assert "--num-seeds" in out.stdout and "--data" in out.stdout and "--source-classes" in out.stdout
