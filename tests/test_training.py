import keras
import numpy as np
import pytest

from tlkeras.study.schedule import LabeledBatches, Schedule


def test_a_schedule_counts_chunks_and_reports_the_kept_steps():
    schedule = Schedule(max_steps=120, eval_every=50, patience=2)
    assert schedule.epochs == 3
    early = keras.callbacks.History()
    early.history = {"loss": [1.0, 0.5, 0.4], "val_accuracy": [0.2, 0.6, 0.5]}
    fixed = keras.callbacks.History()
    fixed.history = {"loss": [1.0, 0.5, 0.4]}
    assert schedule.outcome(early) == {"steps": 100, "val_accuracy": 0.6}  # the best check is the one kept
    assert schedule.outcome(fixed) == {"steps": 150, "val_accuracy": None}  # run to its end
    assert schedule.outcome(early, fixed) == {"steps": 250, "val_accuracy": None}
    assert schedule.callbacks(None, None) == []
    with pytest.raises(ValueError, match="eval_every"):
        Schedule(eval_every=0)


def test_pseudo_labeled_images_fill_half_of_every_batch():
    x, y = np.zeros((2, 4, 4, 1), "float32"), np.array([0, 1])
    guessed = (np.ones((50, 4, 4, 1), "float32"), np.full(50, 2))
    batches = LabeledBatches(x, y, 32, steps=3, seed=0, pseudo=guessed)
    for images, labels in (batches[i] for i in range(3)):
        assert images.shape == (32, 4, 4, 1) and np.sum(labels == 2) == 16 and set(labels[:16]) <= {0, 1}
    again = LabeledBatches(x, y, 32, steps=3, seed=0, pseudo=guessed)
    assert np.array_equal(LabeledBatches(x, y, 32, 1, seed=0, pseudo=guessed)[0][1], again[0][1])  # seeded
