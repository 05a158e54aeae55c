"""Each defect of the hostile pass (issue #10), as a test that failed before the fix."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import SHAPE, tiny_autoencoder, tiny_classifier, weights_by_path

from tlkeras.data import sample_per_class, split_by_class
from tlkeras.models import build_classifier, build_conv_autoencoder, build_decoder, build_encoder
from tlkeras.saving import save_model
from tlkeras.scaling.precision import mixed_precision
from tlkeras.transfer import fine_tune


def test_a_decoder_whose_latent_cannot_reach_the_output_shape_is_refused():
    with pytest.raises(ValueError, match="latent_shape.*\\(8, 8\\)"):
        build_decoder((3, 5, 4), (16, 16, 1), filters=(4,))
    assert build_decoder((8, 8, 4), (16, 16, 1), filters=(4,)).output_shape == (None, 16, 16, 1)


@pytest.mark.parametrize(
    "reference, message",
    [
        (np.full((4, *SHAPE), 255, "uint8"), "/ 255"),
        (np.zeros((0, *SHAPE), "float32"), "at least one image"),
        (np.zeros((4, 16, 16, 3), "float32"), "expects"),
    ],
)
def test_standard_normalisation_checks_its_reference_images(reference, message):
    encoder = build_encoder(SHAPE, filters=(4,), latent_dim=4)
    with pytest.raises(ValueError, match=message):
        build_classifier(encoder, 3, normalize="standard", reference_images=reference)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer": "no-such"}, "optimizer"),
        ({"head_learning_rate": float("inf")}, "head_learning_rate"),
        ({"fine_tune_learning_rate": -1.0}, "fine_tune_learning_rate"),
        ({"validation_data": (1, 2, 3)}, "pair"),
    ],
)
def test_fine_tune_checks_every_argument_before_touching_the_model(images, labels, kwargs, message):
    clf = tiny_classifier()
    before = weights_by_path(clf)
    trainable = [layer.trainable for layer in clf.get_layer("encoder").layers]
    with pytest.raises(ValueError, match=message):
        fine_tune(clf, images, labels, head_epochs=1, fine_tune_epochs=1, verbose=0, **kwargs)
    assert [layer.trainable for layer in clf.get_layer("encoder").layers] == trainable
    assert all(np.array_equal(v, weights_by_path(clf)[k]) for k, v in before.items())


def test_unclear_inputs_get_clear_messages(images, labels):
    with pytest.raises(ValueError, match="size zero"):
        fine_tune(tiny_classifier(), np.zeros((2, 0, 16, 1), "float32"), labels[:2], verbose=0)
    with pytest.raises(ValueError, match="seed"):
        sample_per_class(images, labels, 1, seed=-1)
    with pytest.raises(ValueError, match="NumPy array"):
        sample_per_class(images.tolist(), labels, 1)
    with pytest.raises(ValueError, match="NumPy array"):
        split_by_class(images, labels.tolist(), [0, 1])
    with pytest.raises(ValueError, match="too large"):
        fine_tune(tiny_classifier(), images[:2], np.array([0.0, 1e20]), verbose=0)
    with pytest.raises(ValueError, match="noise_stddev.*\\[0, 1\\]"):
        build_conv_autoencoder(SHAPE, filters=(4,), latent_dim=4, noise_stddev=1.5)
    # NumPy integers are integers.
    assert build_encoder((np.int64(16), np.int64(16), np.int64(1)), filters=(4,), latent_dim=4).input_shape == (
        None,
        16,
        16,
        1,
    )


def test_save_model_cleans_up_after_killed_writers_honours_the_umask_and_writes_through_symlinks(tmp_path):
    target = tmp_path / "model.keras"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".model.keras.tmp{dead.stdout.strip()}-abc.keras"
    stale.write_text("half a model")
    stale_assets = tmp_path / f".model.keras.tmp{dead.stdout.strip()}-xyz"
    stale_assets.mkdir()
    other = tmp_path / ".other.keras.tmp1-abc.keras"  # another file's temporary: not ours to remove
    other.write_text("x")
    old_umask = os.umask(0o022)
    try:
        save_model(tiny_autoencoder(), target)
    finally:
        os.umask(old_umask)
    assert sorted(os.listdir(tmp_path)) == sorted([".other.keras.tmp1-abc.keras", "model.keras"])
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644)
    link = tmp_path / "link.keras"
    link.symlink_to(target)
    save_model(tiny_autoencoder(), link)
    assert link.is_symlink() and os.path.samefile(link, target)


def test_importing_the_plots_leaves_the_matplotlib_backend_alone():
    code = "import matplotlib; b = matplotlib.get_backend(); import tlkeras.plots; print(b == matplotlib.get_backend())"
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().endswith("True"), out.stderr[-500:]


def test_mixed_precision_as_a_context_restores_the_policy_even_on_error():
    with pytest.raises(RuntimeError), mixed_precision("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == "float32"


# Round three: options checked before work, data files, no lost models.


def test_numpy_integers_in_a_pretrain_config_make_a_cache_key(images):
    from tlkeras.pretraining import PretrainConfig

    config = PretrainConfig(latent_dim=np.int64(8), epochs=np.int32(2), noise_stddev=np.float32(0.1))
    assert type(config.latent_dim) is int and type(config.epochs) is int and type(config.noise_stddev) is float
    assert len(config.cache_key(images)) == 16


def test_a_cache_dir_that_names_a_file_keeps_the_trained_model(tmp_path, images):
    from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder

    a_file = tmp_path / "cache"
    a_file.write_text("not a folder")
    config = PretrainConfig(filters=(4,), latent_dim=4, epochs=1, batch_size=32)
    with pytest.warns(UserWarning, match="Not caching the autoencoder"):
        result = pretrain_autoencoder(config, cache_dir=a_file, images=images, verbose=0)
    assert result.autoencoder is not None and result.path is None and a_file.read_text() == "not a folder"


def test_saves_in_two_threads_leave_the_temporary_folder_usable(tmp_path):
    import tempfile
    import threading

    before = tempfile.gettempdir()
    models = [tiny_autoencoder() for _ in range(2)]
    threads = [
        threading.Thread(target=save_model, args=(m, str(tmp_path / f"m{i}.keras"))) for i, m in enumerate(models)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tempfile.gettempdir() == before and os.path.isdir(tempfile.gettempdir())
    assert all((tmp_path / f"m{i}.keras").stat().st_size > 0 for i in range(2))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), "1 NaN"),
        (lambda x, y: (x, np.where(np.arange(len(y)) == 0, 2**40, y)), "below 65,536"),
    ],
)
def test_a_data_file_with_nan_pixels_or_huge_labels_is_refused_by_name(tmp_path, change, message):
    from tlkeras.data import load_npz

    x, y = np.full((6, 4, 4), 0.5, "float32"), np.array([0, 1, 0, 1, 0, 1])
    x, y = change(x, y)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=np.zeros(6, "int64"))
    with pytest.raises(ValueError, match=message):
        load_npz(tmp_path / "d.npz")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--source-classes", "1", "1"], "repeat a class"),
        (["--settings", "generative", "--target", "none"], "nothing would be compared"),
        (["--settings", "cross_domain", "--target", "digits"], "`--target` is `--dataset`"),
        (["--labels-per-class", "2147483648"], "an integer in [1, 2147483647]"),
        (["--data", "x.npy"], "must be a .npz file"),
        (["--image-size", "16"], "applies to `--data DIR`"),
        (["--output", "out", "--cache-dir", "out/cache"], "inside `--output`"),
    ],
)
def test_demo_options_that_spoil_the_run_are_refused_before_any_work(tmp_path, monkeypatch, capsys, extra, message):
    from tlkeras.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--dataset", "digits", "--fast", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "out").exists()


def test_class_zero_can_be_named_and_the_fast_switch_reads_its_words(monkeypatch):
    from tlkeras.study.demo_plan import DemoOptions

    assert DemoOptions(source_classes=(0, 1), target_classes=(2, 3)).source_classes == (0, 1)
    monkeypatch.setenv("TLKERAS_FAST", "true")
    assert DemoOptions().fast is True
    monkeypatch.setenv("TLKERAS_FAST", "maybe")
    with pytest.raises(ValueError, match="TLKERAS_FAST.*maybe"):
        DemoOptions()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--batch-size", "33"], "multiple of the 2 processes"),
        (["--labels-per-class", "4"], "class(es) [1] have only {1: 3} images"),
        (["--output", "ae.h5"], "must end in '.keras'"),
        (["--output", "d.npz/ae.keras"], "is a file, not a folder"),
        (["--output", "."], "must end in '.keras'"),
    ],
)
def test_pretrain_refuses_what_its_workers_could_not_honour_before_starting_one(
    tmp_path, monkeypatch, capsys, extra, message
):
    from tlkeras.cli import main

    x, y = np.full((7, 8, 8), 0.5, "float32"), np.array([0, 0, 0, 0, 1, 1, 1])
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a worker was started"))
    assert main(["pretrain", "--workers", "2", "--data", "d.npz", "--batch-size", "4", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_ctrl_c_in_pretrain_exits_130_without_a_traceback(monkeypatch, capsys):
    from tlkeras.cli import main
    from tlkeras.scaling import workers

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workers, "launch_local_workers", interrupted)
    assert main(["pretrain", "--workers", "2"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_budget_the_validation_split_leaves_too_few_images_for_is_refused_before_work(tmp_path, capsys):
    from tlkeras.cli import main

    # 4, 6 and 10 images: a split of 5 takes 1, 1 and 2, and the rounding's extra image from class 0,
    # which keeps 2 images, not the 3 its share (4 x 0.75) suggests.
    y = np.repeat([0, 1, 2], [4, 6, 10])
    x = np.random.default_rng(0).random((20, 16, 16, 1), dtype="float32")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    argv = ["demo", "--data", str(tmp_path / "d.npz"), "--validation-size", "5", "--labels-per-class", "3"]
    assert main([*argv, "--output", str(tmp_path / "out")]) == 2
    assert "more than the 2 images left in class 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_model_is_saved_into_folders_that_do_not_exist_yet_but_not_through_a_file(tmp_path):
    from tlkeras.saving import check_model_path

    save_model(tiny_autoencoder(), tmp_path / "new" / "deeper" / "ae.keras")
    assert (tmp_path / "new" / "deeper" / "ae.keras").stat().st_size > 0
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(NotADirectoryError, match="`path` must name a file that can be written.*is a file"):
        check_model_path(tmp_path / "a_file" / "under" / "ae.keras")
    (tmp_path / "folder.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="a folder"):
        check_model_path(tmp_path / "folder.keras")


# Round four: statistics, clustering, the registry, huge options, channels-first arrays.


@pytest.mark.parametrize("confidence", [95, 1.0, 0, -0.5, "0.95", True])
def test_an_interval_refuses_a_confidence_that_is_not_a_probability(confidence):
    from tlkeras.study.statistics import paired_interval, seeds_needed

    for function in (paired_interval, seeds_needed):
        with pytest.raises(ValueError, match="`confidence`"):
            function([0.01, 0.03, 0.02], confidence=confidence)


def test_a_percentage_gets_a_hint():
    from tlkeras.study.statistics import paired_interval

    with pytest.raises(ValueError, match="a percentage\\? pass 0.95"):
        paired_interval([0.01, 0.03], confidence=95)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_diverged_run_is_refused_not_read_as_too_few_seeds(bad):
    from tlkeras.study.statistics import paired_comparison, paired_interval

    for function in (paired_interval, paired_comparison):
        with pytest.raises(ValueError, match="entries \\[1\\].*diverged"):
            function([0.02, bad, 0.01])
    with pytest.raises(ValueError, match="non-empty"):
        paired_interval([])


def test_two_runs_of_one_seed_are_refused_not_silently_dropped():
    from tlkeras.study.statistics import compare_ablations, compare_with_scratch

    runs = [
        {"strategy": s, "labels_per_class": 1, "seed": k, "accuracy": 0.5} for s in ("scratch", "x") for k in (0, 1)
    ]
    assert len(compare_with_scratch(runs)) == 1
    merged = [*runs, {"strategy": "x", "labels_per_class": 1, "seed": 1, "accuracy": 0.9}]
    with pytest.raises(ValueError, match="two runs of setting 'in_domain', 1 labels per class, strategy 'x', seed 1"):
        compare_with_scratch(merged)
    with pytest.raises(ValueError, match="two runs"):
        compare_ablations(merged, [("x", "scratch", "everything")])
    from tlkeras.study.clustering import compare_features

    rows = [
        {"features": f, "method": "kmeans", "seed": 0, "cluster_accuracy": 0.5, "nmi": 0.5}
        for f in ("autoencoder", "pixels")
    ]
    with pytest.raises(ValueError, match="two runs of features 'pixels', method 'kmeans', seed 0"):
        compare_features([*rows, rows[1]])


def test_an_unknown_clustering_method_is_refused_by_name():
    from tlkeras.study.clustering import cluster, clustering_study

    vectors = np.random.default_rng(0).random((20, 3))
    with pytest.raises(ValueError, match="`method` must be one of \\['kmeans', 'gmm'.*dbscan"):
        cluster(vectors, 2, "dbscan")
    with pytest.raises(ValueError, match="`vectors` must be 2-D"):
        cluster(vectors[:, 0], 2, "kmeans")
    with pytest.raises(ValueError, match="`methods`.*hdbscan"):
        clustering_study(tiny_autoencoder(), np.zeros((4, *SHAPE), "float32"), [0, 1, 0, 1], methods=("hdbscan",))


def test_cluster_accuracy_checks_its_arrays_and_counts_noise_as_wrong():
    from tlkeras.study.clustering import cluster_accuracy

    with pytest.raises(ValueError, match="`y_pred`.*one per label of `y_true` \\(4\\)"):
        cluster_accuracy([0, 0, 1, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="`y_pred`.*integer"):
        cluster_accuracy([0, 1], [0.0, 1.0])
    with pytest.raises(ValueError, match="`y_true` must hold labels >= 0"):
        cluster_accuracy([0, -1], [0, 1])
    # DBSCAN's noise (-1) matches no class: half the points right, not three quarters.
    assert cluster_accuracy([0, 0, 1, 1], [0, 0, -1, 1]) == 0.75
    assert cluster_accuracy([0, 0, 1, 1], [0, -1, 1, -1]) == 0.5
    assert cluster_accuracy([0, 0, 1, 1], [-1, -1, -1, -1]) == 0.0
    # Huge ids cost nothing: the matrix is clusters x classes.
    assert cluster_accuracy([0, 0, 7, 7], [2**40, 2**40, 5, 5]) == 1.0


@pytest.mark.parametrize(
    "options",
    [
        {"labels_per_class": (2**31,)},
        {"labels_per_class": (2**62,)},
        {"labels_per_class": ()},
        {"num_seeds": 2**31},
        {"num_seeds": 10, "seed": 2**32 - 5},
    ],
)
def test_a_huge_or_empty_budget_is_refused_without_materialising_its_range(options):
    import tracemalloc

    from tlkeras.study.demo_plan import DemoOptions

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"`{next(iter(options))}` must be"):
            DemoOptions(**options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # bytes: a list of the allowed budgets would take gigabytes


def test_check_choice_describes_a_range_and_a_long_list_in_a_few_words():
    from tlkeras._validation import check_choice

    with pytest.raises(ValueError, match=r"an integer in \[1, 9\]. Received: n=0"):
        check_choice(0, "n", range(1, 10))
    with pytest.raises(ValueError, match=r"\.\.\. \(1000 in all\)"):
        check_choice("x", "name", [str(i) for i in range(1000)])


def test_a_strategy_can_be_registered_by_a_name_given_positionally():
    from tlkeras.study.strategies import get_strategy, list_strategies, register_strategy, unregister_strategy

    @register_strategy("my_recipe")
    def recipe(task):
        """A made-up recipe."""

    try:
        assert "my_recipe" in list_strategies() and get_strategy("my_recipe") is recipe
    finally:
        unregister_strategy("my_recipe")
    with pytest.raises(ValueError, match="registers a function"):
        register_strategy(42)
    with pytest.raises(ValueError, match="Name a strategy once"):
        register_strategy("a", name="b")


def test_channels_first_images_are_refused_with_a_hint():
    from tlkeras._validation import check_images
    from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder

    x = np.zeros((4, 3, 16, 16), "float32")
    with pytest.raises(ValueError, match=r"channels-first.*np.moveaxis\(images, 1, -1\)"):
        check_images(x, "images")
    with pytest.raises(ValueError, match="channels-first"):
        pretrain_autoencoder(PretrainConfig(dataset="digits", epochs=1), cache_dir=False, images=x, verbose=0)
    assert check_images(np.zeros((4, 16, 16, 3), "float32")).shape == (4, 16, 16, 3)
    assert check_images(np.zeros((4, 3, 3, 3), "float32")).shape == (4, 3, 3, 3)  # ambiguous: taken as it is


def test_a_channels_first_npz_is_read_channels_last_and_says_so(tmp_path):
    from tlkeras.data import load_npz

    x = (np.random.default_rng(0).random((6, 1, 12, 10)) * 255).astype("uint8")  # PyTorch's (N, C, H, W)
    y = np.array([0, 1, 0, 1, 0, 1])
    np.savez(tmp_path / "torch.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.warns(UserWarning, match=r"channels-first.*read as \(N, H, W, C\) = \(6, 12, 10, 1\)"):
        (x_train, _), (x_test, _) = load_npz(tmp_path / "torch.npz")
    assert x_train.shape == x_test.shape == (6, 12, 10, 1)
    np.testing.assert_allclose(x_train[..., 0], x[:, 0] / 255.0, rtol=1e-6)


def test_load_npz_refuses_a_npy_file_by_name(tmp_path):
    from tlkeras.data import load_npz

    np.save(tmp_path / "x.npy", np.zeros((3, 4)))
    with pytest.raises(
        ValueError, match=r"`path` must be a .npz file.*a .npy file holding one array of shape \(3, 4\)"
    ):
        load_npz(tmp_path / "x.npy")
