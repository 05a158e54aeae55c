"""What data augmentation is worth to the scratch baseline: the same runs with and without it, paired per seed.

Every strategy's classifier gets `tlkeras.strategies.DEFAULT_AUGMENT` (random shifts up to 10 % and
horizontal flips, active only in training) unless told otherwise. This runs `scratch` under the
default protocol (a fixed schedule, no label beyond the budget) with that augmentation and without
any, on the same labeled images per seed, and prints the paired gain with its 95 % interval.

Usage: python benchmarks/augmentation.py [--labels-per-class 1 10] [--seeds 10]
"""

import argparse

import keras
from _machine import describe

from tlkeras import data
from tlkeras.models import build_conv_autoencoder
from tlkeras.statistics import paired_comparison
from tlkeras.strategies import DEFAULT_AUGMENT
from tlkeras.study import label_efficiency


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    train, test = data.load_fashion_mnist()
    keras.utils.set_random_seed(0)
    architecture = build_conv_autoencoder()  # scratch takes only the encoder's architecture, with new weights
    runs = {}
    for augment in (DEFAULT_AUGMENT, ()):
        runs[augment] = label_efficiency(
            architecture,
            train,
            test,
            labels_per_class=args.labels_per_class,
            strategies=("scratch",),
            seeds=tuple(range(args.seeds)),
            augment=augment,
        )
    print(f"machine: {describe()}")
    print("| labels per class | scratch with augmentation | without | gain of the augmentation | 95 % CI | verdict |")
    print("|---|---|---|---|---|---|")
    for n in args.labels_per_class:
        with_it, without = (
            {r["seed"]: r["accuracy"] for r in runs[augment] if r["labels_per_class"] == n}
            for augment in (DEFAULT_AUGMENT, ())
        )
        seeds = sorted(with_it)
        c = paired_comparison([with_it[s] - without[s] for s in seeds])
        mean_with, mean_without = (100 * sum(d[s] for s in seeds) / len(seeds) for d in (with_it, without))
        print(
            f"| {n} | {mean_with:.1f} % | {mean_without:.1f} % | {100 * c['gain']:+.1f} points | "
            f"[{100 * c['low']:+.1f}, {100 * c['high']:+.1f}] | {c['verdict']} |"
        )


if __name__ == "__main__":
    main()
