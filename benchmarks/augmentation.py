"""What data augmentation is worth to the scratch baseline: the same runs with and without it, paired per seed.

Every strategy's classifier gets `tlkeras.study.strategies.DEFAULT_AUGMENT` (random shifts up to 10 % and
horizontal flips, active only in training) unless told otherwise. This runs `scratch` under the
default protocol (a fixed schedule, no label beyond the budget) with that augmentation and without
any, on the same labeled images per seed, and prints the paired gain with its 95 % interval.

Usage: python benchmarks/augmentation.py [--labels-per-class 1 10] [--num-seeds 10]
"""

import argparse

import keras
from _machine import describe

from tlkeras import data
from tlkeras.models import build_conv_autoencoder
from tlkeras.study.label_efficiency import label_efficiency
from tlkeras.study.reports import comparison_table, markdown_table
from tlkeras.study.statistics import compare_with_scratch, summarize
from tlkeras.study.strategies import DEFAULT_AUGMENT


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--num-seeds", type=int, default=10)
    args = parser.parse_args()
    train, test = data.load_fashion_mnist()
    keras.utils.set_random_seed(0)
    architecture = build_conv_autoencoder()  # scratch takes only the encoder's architecture, with new weights
    runs = []
    # The baseline of this comparison is scratch *without* augmentation, so it keeps the name "scratch".
    for augment, name in ((DEFAULT_AUGMENT, "scratch+augmentation"), ((), "scratch")):
        for run in label_efficiency(
            architecture,
            train,
            test,
            labels_per_class=args.labels_per_class,
            strategies=("scratch",),
            seeds=tuple(range(args.num_seeds)),
            augment=augment,
        ):
            runs.append({**run, "strategy": name})
    print(f"machine: {describe()}")
    print(markdown_table(summarize(runs)))
    print("\n'scratch' here trains without augmentation: the gain is the augmentation's.")
    print(comparison_table(compare_with_scratch(runs)))


if __name__ == "__main__":
    main()
