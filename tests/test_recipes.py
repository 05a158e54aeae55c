"""Every ```python block of docs/recipes.md, and the README's quick start, runs as written."""

import os
import re

import keras
import pytest

from tlkeras import data

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def _blocks(name):
    text = open(os.path.join(ROOT, name), encoding="utf-8").read()
    return re.findall(r"^##+ (.+?)$.*?^```python\n(.*?)^```", text, re.M | re.S)


RECIPES = _blocks(os.path.join("docs", "recipes.md"))
README = _blocks("README.md")


def _photos(folder):
    """The folder the RGB recipe reads: real digits as PNG files, tinted per class so colour matters."""
    import numpy as np
    from helpers import save_pngs

    from tlkeras.data import load_digits

    (x, y), _ = load_digits(size=24)
    tints = np.array([(1.0, 0.2, 0.2), (0.2, 1.0, 0.2), (0.2, 0.2, 1.0)])
    for part, (start, count) in {"train": (0, 20), "test": (20, 10)}.items():
        for label, tint in enumerate(tints):
            images = x[np.flatnonzero(y == label)[start : start + count]]
            save_pngs(folder / part / f"class_{label}", images * tint * 255)
    save_pngs(folder / "unlabeled", x[100:130] * tints[np.arange(30) % 3][:, None, None, :] * 255)
    (folder / "train" / "class_0" / "notes.txt").write_text("not an image: skipped with a warning")


def _run(title, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if '"photos' in code:
        _photos(tmp_path / "photos")
    exec(compile(code, title, "exec"), {"__name__": "__recipe__"})


def test_every_recipe_has_code():
    assert len(RECIPES) >= 6 and len(README) == 1


@pytest.mark.parametrize("title, code", RECIPES, ids=[title for title, _ in RECIPES])
def test_recipe_runs(title, code, tmp_path, monkeypatch):
    _run(f"recipes.md: {title}", code, tmp_path, monkeypatch)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the recipes above cover the same calls on every backend; one backend runs the README's lines",
)
def test_readme_quick_start_runs(tmp_path, monkeypatch, capsys):
    # Every line as written, on a slice of Fashion-MNIST: the README's epoch on all 60,000 images is a
    # minute of the suite's time on TensorFlow and tests nothing more.
    load = data.load_fashion_mnist
    monkeypatch.setattr(
        data,
        "load_fashion_mnist",
        lambda *args, **kwargs: tuple((x[:3000], y[:3000]) for x, y in load(*args, **kwargs)),
    )
    [(title, code)] = README
    _run(f"README.md: {title}", code, tmp_path, monkeypatch)
    assert "test accuracy:" in capsys.readouterr().out


def test_the_contributing_guides_strategy_registers_and_trains(images, labels):
    from helpers import tiny_autoencoder

    from tlkeras.study.schedule import Schedule
    from tlkeras.study.strategies import Task, list_strategies, train_strategy, unregister_strategy

    [(title, code)] = [b for b in _blocks(os.path.join("docs", "contributing.md")) if "register_strategy" in b[1]]
    exec(compile(code, f"contributing.md: {title}", "exec"), {"__name__": "__contributing__"})
    try:
        assert list_strategies()[-1] == "probe_then_all"
        schedule = Schedule(max_steps=4, eval_every=2)
        _, info = train_strategy(
            "probe_then_all", Task(tiny_autoencoder(), (images, labels), images, None, 3, schedule=schedule)
        )
        assert info == {"steps": 8, "val_accuracy": None}  # two phases of 4 steps, no validation labels spent
    finally:
        unregister_strategy("probe_then_all")


def test_the_contributing_guides_clustering_method_registers_and_clusters():
    import numpy as np

    from tlkeras.study.clustering import CLUSTERING_METHODS, cluster, cluster_accuracy

    [(title, code)] = [
        b for b in _blocks(os.path.join("docs", "contributing.md")) if "register_clustering_method" in b[1]
    ]
    exec(compile(code, f"contributing.md: {title}", "exec"), {"__name__": "__contributing__"})
    try:
        rng = np.random.default_rng(0)
        points = np.concatenate([rng.normal(0, 0.1, (10, 2)), rng.normal(5, 0.1, (10, 2))])
        assert cluster_accuracy(np.repeat([0, 1], 10), cluster(points, 2, "ward")) == 1.0
    finally:
        del CLUSTERING_METHODS["ward"]


def test_the_contributing_guides_objective_registers_and_pretrains(images):
    import numpy as np

    from tlkeras.objectives import OBJECTIVES
    from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder

    [(title, code)] = [b for b in _blocks(os.path.join("docs", "contributing.md")) if "register_objective" in b[1]]
    exec(compile(code, f"contributing.md: {title}", "exec"), {"__name__": "__contributing__"})
    try:
        config = PretrainConfig(filters=(4,), latent_dim=4, epochs=1, batch_size=16, objective="dropped_pixels")
        reconstruction = PretrainConfig(filters=(4,), latent_dim=4, epochs=1, batch_size=16)
        assert config.cache_key(images) != reconstruction.cache_key(images)
        first = pretrain_autoencoder(config, cache_dir=False, images=images, verbose=0)
        second = pretrain_autoencoder(reconstruction, cache_dir=False, images=images, verbose=0)
        kernel = lambda p: p.autoencoder.get_layer("encoder").get_layer("encoder_block1_conv").get_weights()[0]  # noqa: E731
        assert not np.array_equal(kernel(first), kernel(second))  # the same seed and start, another objective
    finally:
        del OBJECTIVES["dropped_pixels"]


def test_the_contributing_guides_task_registers_runs_and_is_drawn(tmp_path, images, labels):
    import types

    import matplotlib.pyplot as plt
    from helpers import tiny_autoencoder

    from tlkeras import plots
    from tlkeras.study.demo_plan import DemoOptions, list_settings
    from tlkeras.study.tasks import TASKS, TaskContext, run_task

    [(title, code)] = [b for b in _blocks(os.path.join("docs", "contributing.md")) if "register_task" in b[1]]
    exec(compile(code, f"contributing.md: {title}", "exec"), {"__name__": "__contributing__"})
    try:
        assert list_settings()[-1] == "retrieval"
        assert DemoOptions(settings=("retrieval",)).settings == ("retrieval",)
        study = types.SimpleNamespace(test=(images, labels))
        pretrained = types.SimpleNamespace(autoencoder=tiny_autoencoder())
        records, rows = run_task("retrieval", TaskContext(None, study, pretrained, None, images, (0, 1, 2)))
        assert [r["seed"] for r in records] == [0, 1, 2] and all(0 <= r["codes"] <= 1 for r in records)
        assert rows[0]["verdict"] in ("wins", "loses", "inconclusive") and rows[0]["seeds"] == 3
        assert TASKS["retrieval"].report(rows, None).startswith("### retrieval")
        fig = plots.plot_map(TASKS["retrieval"].panels(rows), path=tmp_path / "map.png")
        assert [ax.get_title(loc="left") for ax in fig.axes] == ["Retrieval: precision gain over pixels"]
        plt.close(fig)
    finally:
        del TASKS["retrieval"]
    with pytest.raises(ValueError, match="settings.*Received.*retrieval"):
        DemoOptions(settings=("retrieval",))


def test_the_contributing_guides_ablation_differs_in_its_declared_part_only(
    tiny_pretrained, images, labels, monkeypatch
):
    from test_ablations import MEASURED, _card

    from tlkeras.study import strategies

    [(title, code)] = [b for b in _blocks(os.path.join("docs", "contributing.md")) if "register_ablation" in b[1]]
    exec(compile(code, f"contributing.md: {title}", "exec"), {"__name__": "__contributing__"})
    try:
        assert ("consistency_from_autoencoder", "consistency", "the pretrained start") in strategies.list_ablations()
        full = _card("consistency_from_autoencoder", tiny_pretrained, images, labels, monkeypatch)
        cut = _card("consistency", tiny_pretrained, images, labels, monkeypatch)
        assert {facet for facet in MEASURED if full[facet] != cut[facet]} == {"start"}
    finally:
        strategies.unregister_strategy("consistency_from_autoencoder")
    assert "consistency_from_autoencoder" not in strategies.list_strategies()
