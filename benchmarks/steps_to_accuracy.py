"""The compute claim: training steps and seconds to reach a given accuracy, pretrained against scratch.

The same classifier (the autoencoder's encoder architecture, LayerNorm + dropout head, shifts and
flips) is trained with Adam at 1e-3 on n labeled images per class, once from random weights and
once from the pretrained encoder (all layers trainable), with the test accuracy on 2,000 test
images recorded every 25 steps. Reported: the first step count (and training seconds, evaluation
excluded) at which each reaches the target, median over seeds.

Usage: python benchmarks/steps_to_accuracy.py [--labels-per-class 10 100] [--targets 0.65 0.8]
"""

import argparse
import statistics
import time

import keras
import numpy as np
from _machine import describe

from tlkeras import data
from tlkeras.models import build_classifier, build_encoder
from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder
from tlkeras.transfer import extract_encoder

EVERY = 25


class Curve(keras.callbacks.Callback):
    """Test accuracy every `EVERY` steps, with the training time spent so far."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test, self.points, self.seconds = x_test, y_test, [], 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds += time.perf_counter() - self.start
        if (batch + 1) % EVERY == 0:
            probabilities = self.model.predict(self.x_test, batch_size=500, verbose=0)
            accuracy = float(np.mean(probabilities.argmax(axis=1) == self.y_test))
            self.points.append((batch + 1, self.seconds, accuracy))


def curve(encoder, x, y, x_test, y_test, steps, seed):
    keras.utils.set_random_seed(seed)
    model = build_classifier(encoder, 10, normalize="layer", augment=("translate", "flip"), dropout=0.3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(steps * 32 // len(x) + 1)])[: steps * 32]
    tracker = Curve(x_test, y_test)
    model.fit(x[order], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[tracker])
    return tracker.points


def first_reaching(points, target):
    return next(((step, seconds) for step, seconds, accuracy in points if accuracy >= target), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--targets", type=float, nargs="+", default=[0.65, 0.78])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--num-seeds", type=int, default=3)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    x_test, y_test = x_test[:2000], y_test[:2000]
    autoencoder = pretrain_autoencoder(PretrainConfig(epochs=8), images=x_train, verbose=2).autoencoder
    print(f"machine: {describe()}")
    print(
        "| labels/class | start | final accuracy | " + " | ".join(f"steps (s) to {t:.0%}" for t in args.targets) + " |"
    )
    print("|---|---|---|" + "---|" * len(args.targets))
    for n, target in zip(args.labels_per_class, args.targets, strict=True):
        for start in ("scratch", "pretrained"):
            reached, finals = [], []
            for seed in range(args.num_seeds):
                x, y = data.sample_per_class(x_train, y_train, n, seed=seed)
                keras.utils.set_random_seed(seed)
                encoder = extract_encoder(autoencoder) if start == "pretrained" else build_encoder()
                points = curve(encoder, x, y, x_test, y_test, args.steps, seed)
                reached.append(first_reaching(points, target))
                finals.append(points[-1][2])
            hits = [r for r in reached if r is not None]
            cell = (
                f"{statistics.median(h[0] for h in hits):.0f} ({statistics.median(h[1] for h in hits):.1f} s), "
                f"{len(hits)}/{len(reached)} seeds"
                if hits
                else f"not in {args.steps} steps"
            )
            print(f"| {n} | {start} | {100 * np.mean(finals):.1f} % | {target:.0%} | {cell} |", flush=True)


if __name__ == "__main__":
    main()
