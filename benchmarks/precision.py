"""float32 against mixed precision (bfloat16) for the autoencoder: speed and reconstruction error.

For each seed, both policies train the default autoencoder for the same epochs on the same
images, alternately, in one run; the report gives images per second (median over epochs after
the first) and the test MSE, mean ± std over seeds, so speed-up and accuracy cost are read side
by side.

Usage: python benchmarks/precision.py [--images 20000] [--epochs 3] [--num-seeds 3]
"""

import argparse
import statistics
import time

import keras
import numpy as np
from _machine import describe

from tlkeras.data import load_fashion_mnist
from tlkeras.models import build_conv_autoencoder
from tlkeras.scaling.precision import use_mixed_precision


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--num-seeds", type=int, default=3)
    parser.add_argument("--policy", default="mixed_bfloat16")
    args = parser.parse_args()
    (x, _), (xt, _) = load_fashion_mnist()
    x, xt = x[: args.images], xt[:5000]
    results = {"float32": {"speed": [], "mse": []}, args.policy: {"speed": [], "mse": []}}
    for seed in range(args.num_seeds):
        for policy in results:
            previous = use_mixed_precision(policy)
            keras.utils.set_random_seed(seed)
            ae = build_conv_autoencoder()
            ae.compile(optimizer="adam", loss="mse")
            timer = EpochTimer()
            ae.fit(x, x, epochs=args.epochs, batch_size=128, verbose=0, callbacks=[timer])
            results[policy]["speed"].append(len(x) / statistics.median(timer.seconds[1:] or timer.seconds))
            results[policy]["mse"].append(float(np.mean((ae.predict(xt, verbose=0) - xt) ** 2)))
            use_mixed_precision(previous)
            print(f"seed {seed} {policy}: {results[policy]['speed'][-1]:.0f} images/s", flush=True)
    print(f"machine: {describe()}")
    print("| policy | images/s (median over seeds) | test MSE (mean ± std) |")
    print("|---|---|---|")
    for policy, r in results.items():
        print(f"| {policy} | {statistics.median(r['speed']):.0f} | {np.mean(r['mse']):.5f} ± {np.std(r['mse']):.5f} |")
    ratio = statistics.median(results[args.policy]["speed"]) / statistics.median(results["float32"]["speed"])
    print(
        f"speed-up of {args.policy}: {ratio:.2f}x ({args.images} images, {args.epochs} epochs, {args.num_seeds} seeds)"
    )


if __name__ == "__main__":
    main()
