import dataclasses

import numpy as np
import pytest
from helpers import tiny_autoencoder, weights_by_path

from tlkeras import transfer
from tlkeras.cli import build_parser
from tlkeras.study import parts, strategies
from tlkeras.study.demo_plan import DemoOptions
from tlkeras.study.label_efficiency import label_efficiency, strategy_glossary
from tlkeras.study.schedule import Schedule
from tlkeras.study.strategies import (
    Task,
    check_options,
    list_ablations,
    list_strategies,
    register_ablation,
    register_strategy,
    train_strategy,
    unregister_strategy,
)

QUICK = Schedule(max_steps=6, eval_every=2, patience=1)
# One self-training round: semi_supervised then trains twice, not four times (test_semi_supervised tests the rounds).
OPTIONS = {
    "frozen": {"pool_images": 32},
    "lp_ft": {"pool_images": 32},
    "semi_supervised": {"unlabeled_batch_size": 8, "pseudo_label_rounds": 1},
}


def test_the_registry_lists_the_strategies_in_order_with_what_they_do():
    assert list_strategies()[0] == "scratch"  # the baseline first
    assert {"frozen", "fine_tuned", "lp_ft", "semi_supervised", "neighbourhood", "consistency"} <= set(
        list_strategies()
    )
    glossary = strategy_glossary(("scratch", "lp_ft"))
    assert glossary.startswith("- `scratch`: The encoder's architecture, randomly initialised")
    assert "LP-FT" in glossary.splitlines()[1]


@pytest.mark.parametrize("strategy", ["frozen", "fine_tuned", "semi_supervised"])
def test_every_strategy_trains_and_frozen_leaves_the_encoder_unchanged(tiny_pretrained, images, labels, strategy):
    before = weights_by_path(tiny_pretrained.get_layer("encoder"))
    model, info = train_strategy(
        strategy,
        Task(
            tiny_pretrained, (images[:30], labels[:30]), images, (images[30:], labels[30:]), 3, seed=0, schedule=QUICK
        ),
        **OPTIONS.get(strategy, {}),
    )
    assert 0.0 <= info["val_accuracy"] <= 1.0 and info["steps"] >= QUICK.eval_every
    after = weights_by_path(model.get_layer("encoder"))
    changed = [path for path in before if not np.array_equal(before[path], after[path])]
    if strategy == "frozen":
        assert changed == []
    else:
        assert changed, f"{strategy} never trained the encoder"
    # The pretrained autoencoder itself is never changed.
    assert all(np.array_equal(v, weights_by_path(tiny_pretrained.get_layer("encoder"))[k]) for k, v in before.items())


@pytest.mark.parametrize("strategy, phases", [("frozen", 0), ("lp_ft", 6), ("fine_tuned", 6)])
def test_the_transfer_strategies_run_the_fine_tune_the_course_teaches(
    tiny_pretrained, images, labels, monkeypatch, strategy, phases
):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return transfer.fine_tune(*args, **kwargs)

    monkeypatch.setattr(parts, "fine_tune", spy)
    train_strategy(
        strategy,
        Task(tiny_pretrained, (images[:30], labels[:30]), images, None, 3, schedule=QUICK),
        **OPTIONS.get(strategy, {}),
    )
    [call] = calls
    assert call["head_epochs"] == QUICK.epochs == 3 and call["fine_tune_epochs"] == (3 if phases else 0)


def test_a_fixed_schedule_spends_no_validation_labels(tiny_pretrained, images, labels):
    for strategy in ("scratch", "lp_ft"):
        _, info = train_strategy(
            strategy,
            Task(tiny_pretrained, (images[:30], labels[:30]), images, None, 3, schedule=QUICK),
            **OPTIONS.get(strategy, {}),
        )
        phases = 2 if strategy == "lp_ft" else 1
        assert info == {"steps": phases * QUICK.epochs * QUICK.eval_every, "val_accuracy": None}


def test_scratch_keeps_every_layer_option_of_the_encoder_with_new_weights(images, labels):
    autoencoder = tiny_autoencoder(batch_norm=True, bottleneck="conv")
    model, _ = train_strategy("scratch", Task(autoencoder, (images[:30], labels[:30]), images, None, 3, schedule=QUICK))
    pretrained, scratch = autoencoder.get_layer("encoder"), model.get_layer("encoder")
    assert [type(layer).__name__ for layer in scratch.layers] == [type(layer).__name__ for layer in pretrained.layers]
    assert any(type(layer).__name__ == "BatchNormalization" for layer in scratch.layers)
    kernel = "encoder_block1_conv"
    assert not np.array_equal(scratch.get_layer(kernel).get_weights()[0], pretrained.get_layer(kernel).get_weights()[0])


def test_options_are_checked_per_strategy_before_training():
    assert check_options("semi_supervised", {"start": "autoencoder", "unlabeled_batch_size": 8}) == {
        "start": "autoencoder",
        "unlabeled_batch_size": 8,
    }
    with pytest.raises(ValueError, match="no option.*'dropout_rate'.*dropout"):
        check_options("scratch", {"dropout_rate": 0.1})
    with pytest.raises(ValueError, match="no option.*'seed'"):  # shared arguments are not options
        check_options("lp_ft", {"seed": 1})
    for name in ("consistency", "semi_supervised"):  # nor is what a strategy hands its training loop
        for given in ("seed", "x_unlabeled", "schedule", "classifier"):
            with pytest.raises(ValueError, match=f"no option.*'{given}'"):
                check_options(name, {given: None})
    with pytest.raises(ValueError, match="magic"):
        check_options("magic", {})


def test_registering_refuses_a_taken_or_bad_name():
    with pytest.raises(ValueError, match="already registered"):
        register_strategy(name="scratch")(lambda *a, **k: None)
    with pytest.raises(ValueError, match="identifier"):
        register_strategy(name="two words")(lambda *a, **k: None)


def test_a_strategy_registered_elsewhere_is_in_the_cli_the_study_and_the_report(tiny_pretrained, images, labels):
    @register_strategy
    def nearest_mean(task):
        """Scratch, trained half as long: a strategy written outside tlkeras."""
        return strategies.scratch(dataclasses.replace(task, schedule=Schedule(max_steps=2, eval_every=2, patience=1)))

    try:
        demo_help = build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
        assert "nearest_mean" in demo_help
        assert DemoOptions(strategies=("scratch", "nearest_mean")).strategies[-1] == "nearest_mean"
        assert "- `nearest_mean`: Scratch, trained half as long" in strategy_glossary(("nearest_mean",))
        runs = label_efficiency(
            tiny_pretrained,
            (images, labels),
            (images[:20], labels[:20]),
            labels_per_class=(1,),
            strategies=("scratch", "nearest_mean"),
            seeds=(0,),
            schedule=QUICK,
            validation_size=12,
            progress=False,
        )
        assert [r["strategy"] for r in runs] == ["scratch", "nearest_mean"] and runs[1]["steps"] == 2
    finally:
        unregister_strategy("nearest_mean")
    assert "nearest_mean" not in list_strategies()


def test_neighbourhood_trains_a_cnn_on_balanced_pseudo_labels_and_its_ablation_uses_pixels(
    tiny_pretrained, images, labels, monkeypatch
):
    from tlkeras.study import clustering, neighbourhoods

    embedded = []
    real = clustering.embed
    monkeypatch.setattr(
        neighbourhoods, "embed", lambda ae, x, features, seed: embedded.append(features) or real(ae, x, features, seed)
    )
    labeled = (images[:3], labels[:3])
    for name in ("neighbourhood", "neighbourhood_pixels"):
        model, info = train_strategy(
            name,
            Task(tiny_pretrained, labeled, images, None, 3, schedule=QUICK),
            pool_images=60,
            pseudo_label_share=0.5,
        )
        assert info["pseudo_labels"] <= 30 and info["pseudo_labels"] >= 3 and info["val_accuracy"] is None
        assert model.get_layer("encoder").count_params() == tiny_pretrained.get_layer("encoder").count_params()
    assert embedded == ["autoencoder+umap", "pixels+umap"]


def test_pseudo_labels_from_neighbourhoods_are_class_balanced():
    from tlkeras.study.neighbourhoods import neighbourhood_pseudo_labels

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.2, (90, 16, 16, 1)).astype("float32")
    classes = np.repeat([0, 1, 2], 30)
    images[classes == 1, :, :8] += 0.7
    images[classes == 2, :, 8:] += 0.7
    picked = [int(np.flatnonzero(classes == c)[0]) for c in range(3)]
    labeled = (images[picked], classes[picked])
    x, y = neighbourhood_pseudo_labels(tiny_autoencoder(), labeled, images, 3, features="pixels", share=0.6, seed=0)
    assert np.bincount(y, minlength=3).tolist() == [18, 18, 18]
    truth = [int(np.flatnonzero((images == image).all(axis=(1, 2, 3)))[0]) for image in x]
    assert np.mean(classes[truth] == y) == 1.0  # three well-separated classes: every pseudo-label right


def test_every_winning_recipe_has_its_ablations_registered():
    for name in (
        "neighbourhood_pixels",
        "semi_supervised_from_autoencoder",
        "reconstruction_only",
        "self_training_only",
    ):
        assert name in list_strategies()
    # An ablation's fixed option is not an option of it; the rest of its base's options are.
    with pytest.raises(ValueError, match="no option.*'pseudo_label_weight'"):
        check_options("reconstruction_only", {"pseudo_label_weight": 2.0})
    assert check_options("reconstruction_only", {"unlabeled_batch_size": 8}) == {"unlabeled_batch_size": 8}
    assert check_options("neighbourhood_pixels", {"pool_images": 50}) == {"pool_images": 50}
    # Each declared ablation pairs two registered strategies and names what it removes.
    pairs = {(strategy, ablation) for strategy, ablation, _ in list_ablations()}
    assert ("neighbourhood", "neighbourhood_pixels") in pairs and ("consistency", "consistency_labels_only") in pairs
    assert ("semi_supervised_from_autoencoder", "semi_supervised") in pairs
    assert all(s in list_strategies() and a in list_strategies() for s, a in pairs)


def test_an_unregistered_strategy_takes_its_ablations_with_it():
    @register_strategy(name="full_recipe")
    def full_recipe(task):
        """A recipe of a test."""

    register_ablation("full_recipe", "scratch", "everything it adds", differs_in="losses")
    with pytest.raises(ValueError, match="names the part"):
        register_ablation("full_recipe", "full_recipe", "nothing", differs_in="losses")
    assert ("full_recipe", "scratch", "everything it adds") in list_ablations()
    unregister_strategy("full_recipe")
    assert all("full_recipe" not in triple for triple in list_ablations())


def test_an_ablation_runs_its_base_with_the_part_removed(tiny_pretrained, images, labels, monkeypatch):
    from tlkeras.study import semi_supervised

    calls = []
    real = semi_supervised.train_semi_supervised
    monkeypatch.setattr(semi_supervised, "train_semi_supervised", lambda *a, **k: calls.append(k) or real(*a, **k))
    train_strategy(
        "reconstruction_only",
        Task(tiny_pretrained, (images[:30], labels[:30]), images, None, 3, schedule=QUICK),
        unlabeled_batch_size=8,
    )
    assert calls[0]["pseudo_label_weight"] == 0.0 and calls[0]["unlabeled_batch_size"] == 8


@pytest.mark.parametrize(
    "cut, encoder_output, pooling", [("block", 4, "head_flatten"), ("block_avg", 4, "head_avg_pool")]
)
def test_a_transfer_strategy_cut_at_the_last_block_heads_its_feature_map(
    tiny_pretrained, images, labels, cut, encoder_output, pooling
):
    task = Task(tiny_pretrained, (images[:30], labels[:30]), images, None, 3, schedule=QUICK)
    model, _ = train_strategy("lp_ft", task, cut=cut, pool_images=32)
    encoder = model.get_layer("encoder")
    assert len(encoder.output_shape) == encoder_output and encoder.layers[-1].name == "encoder_block2_pool"
    assert pooling in [layer.name for layer in model.layers]
    bottleneck, _ = train_strategy("frozen", task, pool_images=32)
    assert bottleneck.get_layer("encoder").layers[-1].name == "bottleneck"  # the default cut
    with pytest.raises(ValueError, match="cut.*'middle'"):
        train_strategy("frozen", task, cut="middle")
