import keras
import numpy as np
import pytest

from tlkeras.data import validation_split
from tlkeras.study.label_efficiency import label_efficiency
from tlkeras.study.schedule import Schedule

QUICK = Schedule(max_steps=6, eval_every=2, patience=1)
FEW_REFERENCES = {"frozen": {"pool_images": 32}}


def test_label_efficiency_records_every_run_reproducibly(tiny_pretrained, images, labels):
    kwargs = dict(
        labels_per_class=(1, 2),
        strategies=("scratch", "frozen"),
        seeds=(0, 1),
        schedule=QUICK,
        strategy_options=FEW_REFERENCES,
        validation_size=12,
        progress=False,
    )
    runs = label_efficiency(tiny_pretrained, (images, labels), (images[:20], labels[:20]), **kwargs)
    assert len(runs) == 2 * 2 * 2
    assert set(runs[0]) == {
        "setting",
        "strategy",
        "pretraining",
        "cut",
        "labels_per_class",
        "seed",
        "accuracy",
        "val_accuracy",
        "steps",
        "seconds",
        "validation_labels",
    }
    assert all(r["validation_labels"] == 12 and 0 <= r["val_accuracy"] <= 1 for r in runs)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["seconds"] > 0 and r["setting"] == "in_domain" for r in runs)
    assert all(r["steps"] % QUICK.eval_every == 0 and r["steps"] <= 2 * QUICK.max_steps for r in runs)
    # The same seed gives the same numbers: rerun one cell of each strategy (a full rerun doubles the time).
    again = label_efficiency(
        tiny_pretrained,
        (images, labels),
        (images[:20], labels[:20]),
        **{**kwargs, "labels_per_class": (2,), "seeds": (1,)},
    )
    assert [r["accuracy"] for r in again] == [
        r["accuracy"] for r in runs if (r["labels_per_class"], r["seed"]) == (2, 1)
    ]


def test_by_default_a_run_spends_no_label_beyond_its_budget(tiny_pretrained, images, labels, monkeypatch):
    from tlkeras.study import label_efficiency as study
    from tlkeras.study import strategies

    seen = []
    real = strategies.train_strategy

    def spy(name, task, **options):
        seen.append((len(task.labeled[1]), task.validation_data))
        return real(name, task, **options)

    monkeypatch.setattr(study, "train_strategy", spy)
    runs = label_efficiency(
        tiny_pretrained,
        (images, labels),
        (images[:20], labels[:20]),
        labels_per_class=(1,),
        strategies=("scratch",),
        seeds=(0,),
        schedule=QUICK,
        progress=False,
    )
    assert seen == [(3, None)]  # 1 label for each of 3 classes, and no validation labels
    assert runs[0]["validation_labels"] == 0 and runs[0]["val_accuracy"] is None
    assert runs[0]["steps"] == QUICK.epochs * QUICK.eval_every  # the fixed schedule, run to its end
    assert study.protocol(0, QUICK)["labels_for_choices"] == 0
    assert "label-rich" in study.protocol(1000, QUICK)["lengths"]


def test_validation_split_is_stratified_disjoint_and_seeded():
    x = np.arange(100, dtype="float32")[:, None, None, None]
    y = np.repeat(np.arange(4), 25)
    (rest, y_rest), (val, y_val) = validation_split(x, y, 20, seed=3)
    assert len(val) == 20 and np.bincount(y_val).tolist() == [5, 5, 5, 5]
    assert not set(rest[:, 0, 0, 0]) & set(val[:, 0, 0, 0]) and len(rest) == 80
    assert np.array_equal(validation_split(x, y, 20, seed=3)[1][0], val)
    with pytest.raises(ValueError, match="size"):
        validation_split(x, y, 100)


def test_label_efficiency_rejects_bad_arguments(tiny_pretrained, images, labels):
    data = (images, labels)
    with pytest.raises(ValueError, match="strategy"):
        label_efficiency(tiny_pretrained, data, data, strategies=("magic",))
    with pytest.raises(ValueError, match="strategies"):
        label_efficiency(tiny_pretrained, data, data, strategies="scratch")
    with pytest.raises(ValueError, match="strategies.*repeat"):
        label_efficiency(tiny_pretrained, data, data, strategies=("scratch", "scratch"))
    with pytest.raises(ValueError, match="recommended"):  # the old name of lp_ft is gone, not half-kept
        label_efficiency(tiny_pretrained, data, data, strategies=("scratch", "recommended"))
    with pytest.raises(ValueError, match="no option.*'stepz'"):
        label_efficiency(tiny_pretrained, data, data, strategy_options={"scratch": {"stepz": 3}})
    with pytest.raises(ValueError, match="strategy_options"):
        label_efficiency(tiny_pretrained, data, data, strategies=("scratch",), strategy_options={"lp_ft": {}})
    with pytest.raises(ValueError, match="`labels_per_class` 50 is more than"):
        label_efficiency(tiny_pretrained, data, data, labels_per_class=(50,), validation_size=5, progress=False)
    with pytest.raises(ValueError, match="test\\[0\\]"):
        label_efficiency(tiny_pretrained, data, (images[:, :8], labels))
    with pytest.raises(ValueError, match="repeat"):
        label_efficiency(tiny_pretrained, data, data, seeds=(0, 0))
    with pytest.raises(ValueError, match="repeat"):
        label_efficiency(tiny_pretrained, data, data, labels_per_class=(1, 1))
    with pytest.raises(ValueError, match="seeds"):
        label_efficiency(tiny_pretrained, data, data, seeds=(-1,))
    with pytest.raises(ValueError, match="pair"):
        label_efficiency(tiny_pretrained, data, (images, labels, labels))
    with pytest.raises(ValueError, match="schedule"):
        label_efficiency(tiny_pretrained, data, data, schedule={"max_steps": 3})
    # A test class the training labels never hold is an error, not a silent extra class.
    with pytest.raises(ValueError, match="out of range"):
        label_efficiency(tiny_pretrained, data, (images[:2], np.array([0, 7])), progress=False)


def test_each_transfer_strategy_runs_on_each_pretraining_and_cut_as_a_row_of_its_own(tiny_pretrained, images, labels):
    from tlkeras.study.label_efficiency import describe_arm

    other = keras.models.clone_model(tiny_pretrained)  # another pretraining of the same architecture
    runs = label_efficiency(
        {"reconstruction": tiny_pretrained, "supervised": other},
        (images, labels),
        (images[:20], labels[:20]),
        labels_per_class=(1,),
        strategies=("scratch", "frozen"),
        seeds=(0,),
        schedule=QUICK,
        strategy_options={"frozen": {"pool_images": 32}},
        cuts=("bottleneck", "block"),
        progress=False,
    )
    rows = [(r["strategy"], r["pretraining"], r["cut"]) for r in runs]
    assert rows == [
        ("scratch", "reconstruction", None),  # no encoder transferred: once
        ("frozen", "reconstruction", "bottleneck"),
        ("frozen/block", "reconstruction", "block"),
        ("frozen@supervised", "supervised", "bottleneck"),
        ("frozen@supervised/block", "supervised", "block"),
    ]
    assert "pretrained by `supervised`" in describe_arm("frozen@supervised/block")
    assert "Cut at `block`" in describe_arm("frozen@supervised/block")
    with pytest.raises(ValueError, match="cuts.*'middle'"):
        label_efficiency(tiny_pretrained, (images, labels), (images, labels), strategies=("frozen",), cuts=("middle",))
