import math

import numpy as np
import pytest
from helpers import tiny_autoencoder

from tlkeras.study.generative import denoising_mse, generative_transfer, summarize_generative


def test_generative_transfer_pairs_both_arms_per_seed_and_leaves_the_autoencoder_alone(images):
    ae = tiny_autoencoder(noise_stddev=0.1)
    before = [w.copy() for w in ae.get_weights()]
    results = generative_transfer(ae, (images, None), (images, None), seeds=(0, 1), images_per_seed=16, steps=4)
    assert [r["seed"] for r in results] == [0, 1] and all(r["images"] == 16 for r in results)
    assert all(r["scratch_mse"] > 0 and r["fine_tuned_mse"] > 0 for r in results)
    assert all(np.array_equal(a, b) for a, b in zip(before, ae.get_weights(), strict=True))
    again = generative_transfer(ae, (images, None), (images, None), seeds=(0, 1), images_per_seed=16, steps=4)
    assert again == results  # seeded
    with pytest.raises(ValueError, match="images_per_seed"):
        generative_transfer(ae, (images, None), (images, None), images_per_seed=1000)
    for bad, message in (
        (dict(batch_size=0), "batch_size"),
        (dict(seeds=(0, 0)), "repeat"),
        (dict(seeds=(0, -1)), "seeds"),
    ):
        with pytest.raises(ValueError, match=message):  # before any seed trains
            generative_transfer(ae, (images, None), (images, None), images_per_seed=16, steps=4, **bad)


def test_the_scratch_arm_keeps_every_option_of_the_autoencoder(images, monkeypatch):
    from tlkeras.study import generative

    built = []
    real = generative.fresh_copy
    monkeypatch.setattr(generative, "fresh_copy", lambda model, **kw: built.append(real(model, **kw)) or built[-1])
    ae = tiny_autoencoder(upsampling="upsampling", batch_norm=True)
    generative_transfer(ae, (images, None), (images, None), seeds=(0,), images_per_seed=16, steps=2)
    layers = lambda m: [type(layer).__name__ for layer in m.get_layer("decoder").layers]  # noqa: E731
    assert all(layers(model) == layers(ae) for model in built) and "UpSampling2D" in layers(ae)


def test_the_generative_verdict_reads_the_ratio_interval():
    wins = summarize_generative(
        [{"images": 9, "scratch_mse": 0.02, "fine_tuned_mse": f} for f in (0.010, 0.011, 0.012)]
    )
    assert wins["ratio"] == pytest.approx(0.55) and wins["high"] < 1 and wins["verdict"] == "wins"
    one = summarize_generative([{"images": 9, "scratch_mse": 0.02, "fine_tuned_mse": 0.01}])
    assert one["verdict"] == "too few seeds" and math.isnan(one["low"])


def test_denoising_mse_is_zero_for_a_perfect_denoiser_of_constant_images():
    class Constant:
        def predict(self, x, **kwargs):
            return np.full_like(x, 0.5)

    assert denoising_mse(Constant(), np.full((3, 4, 4, 1), 0.5, "float32")) == 0.0
