"""Every declared ablation removes exactly one part: both members train, and what they did is compared.

While a strategy trains, a spy on `keras.Model.compile` and `fit` records what each training
did: the losses that count (weight above 0, and so the inputs that feed them), the augmentation
layers of the trained model, the gradient steps, and whether it started from the autoencoder's
weights. A pair may differ in the one thing `register_ablation` declares, and in nothing else.
"""

import keras
import numpy as np
import pytest

from tlkeras.study import strategies
from tlkeras.study.registry import ABLATION_DIFFERENCES
from tlkeras.study.schedule import Schedule
from tlkeras.study.strategies import Task

TINY = Schedule(max_steps=2, eval_every=1, batch_size=4)
MEASURED = ("losses", "start", "steps", "augmentation")
# What a recipe does is the same on every backend: make test checks it on its first backend only.
pytestmark = pytest.mark.any_backend


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


class TrainingSpy:
    """Records, per `fit`, what a training did (see the module's docstring)."""

    def __init__(self, autoencoder, monkeypatch):
        self.kernels = [np.array(w) for w in autoencoder.get_layer("encoder").get_weights() if np.ndim(w) == 4]
        self.fits, self.compiled = [], {}
        compile_, fit = keras.Model.compile, keras.Model.fit
        spy = self

        def spy_compile(model, *args, **kwargs):
            spy.compiled[id(model)] = (
                kwargs.get("loss", args[1] if len(args) > 1 else None),
                kwargs.get("loss_weights"),
            )
            return compile_(model, *args, **kwargs)

        def spy_fit(model, *args, **kwargs):
            loss, weights = spy.compiled[id(model)]
            names = sorted(loss) if isinstance(loss, dict) else ["output"]
            counting = {name for name in names if (weights or {}).get(name, 1.0) > 0}
            started = any(
                np.array_equal(np.array(v), kernel)
                for v in model.weights
                for kernel in spy.kernels
                if tuple(v.shape) == kernel.shape
            )
            augmentation = sorted(
                type(layer).__name__ for layer in _layers(model) if type(layer).__name__.startswith("Random")
            )
            record = {
                "losses": tuple(sorted(counting)),
                "start": started,
                "augmentation": tuple(augmentation),
                "steps": 0,
            }

            class Count(keras.callbacks.Callback):
                def on_train_batch_end(self, batch, logs=None):
                    record["steps"] += 1

            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Count()]
            spy.fits.append(record)
            return fit(model, *args, **kwargs)

        monkeypatch.setattr(keras.Model, "compile", spy_compile)
        monkeypatch.setattr(keras.Model, "fit", spy_fit)

    def card(self):
        """What the whole strategy did, over all its trainings."""
        return {
            "losses": tuple(f["losses"] for f in self.fits),
            "start": "autoencoder" if self.fits and self.fits[0]["start"] else "random",
            "steps": sum(f["steps"] for f in self.fits),
            "augmentation": tuple(sorted({a for f in self.fits for a in f["augmentation"]})),
        }


SMALL = {"pool_images": 40, "pseudo_label_rounds": 1}  # the options that make a strategy cheap, where it has them


def _card(name, autoencoder, images, labels, monkeypatch):
    with monkeypatch.context() as patch:
        spy = TrainingSpy(autoencoder, patch)
        keras.utils.set_random_seed(0)
        strategies.train_strategy(
            name,
            Task(autoencoder, (images[:12], labels[:12]), images, None, 3, seed=0, schedule=TINY),
            **{k: v for k, v in SMALL.items() if k in strategies.option_names(name)},
        )
    return spy.card()


@pytest.mark.parametrize("strategy, ablation, removes", strategies.list_ablations())
def test_each_ablation_differs_from_its_strategy_in_the_declared_part_only(
    strategy, ablation, removes, tiny_pretrained, images, labels, monkeypatch
):
    declared = strategies.ablation_difference(strategy, ablation)
    assert declared in ABLATION_DIFFERENCES
    full = _card(strategy, tiny_pretrained, images, labels, monkeypatch)
    cut = _card(ablation, tiny_pretrained, images, labels, monkeypatch)
    assert full["steps"] > 0 and cut["steps"] > 0
    differs = {facet for facet in MEASURED if full[facet] != cut[facet]}
    if declared in MEASURED:
        assert differs == {declared}, f"{ablation} against {strategy}: {full} vs {cut}"
    else:  # an option computed before training (the features): training itself must not differ
        assert differs == set(), f"{ablation} against {strategy}: {full} vs {cut}"
        fixed = {**getattr(strategies.get_strategy(strategy), "fixed", {})}
        assert (
            declared in strategies.get_strategy(ablation).fixed
            and fixed.get(declared) != (strategies.get_strategy(ablation).fixed[declared])
        )


def test_the_spy_sees_a_second_difference(tiny_pretrained, images, labels, monkeypatch):
    """The check above can fail: scratch and lp_ft differ in more than one part, and the spy sees it."""
    full = _card("lp_ft", tiny_pretrained, images, labels, monkeypatch)
    cut = _card("scratch", tiny_pretrained, images, labels, monkeypatch)
    assert full["start"] == "autoencoder" and cut["start"] == "random"
    assert len({facet for facet in MEASURED if full[facet] != cut[facet]}) >= 2


def test_an_ablation_must_name_what_the_pair_differs_in():
    with pytest.raises(ValueError, match="`differs_in` must be one of"):
        strategies.register_ablation("scratch", "frozen", "everything", differs_in="the weather")
    with pytest.raises(TypeError):
        strategies.register_ablation("scratch", "frozen", "everything")  # the declaration is required
