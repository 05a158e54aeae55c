"""Which semi-supervised variant? The tried-table of docs/benchmarks.md, chosen on the validation split.

Each variant is a set of options of the `semi_supervised` strategy (`tlkeras.study.strategies`),
trained exactly as `tlkeras demo` trains it (same validation split of 1,000
training images, same labeled images per seed, early stopping on validation),
on Fashion-MNIST with the demo's cached 4-epoch autoencoder. Prints one JSON
line per run (validation and test accuracy, steps, seconds); choose by the
validation column, report the test column.

Usage: python benchmarks/semi_supervised_variants.py VARIANT[,VARIANT...] --labels-per-class 1 10 --seeds 0 1
"""

import argparse
import json
import time

import keras
import numpy as np
from _machine import describe

from tlkeras import data
from tlkeras.data import validation_split
from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder
from tlkeras.study.schedule import Schedule
from tlkeras.study.strategies import Task, train_strategy
from tlkeras.training import accuracy_of

VARIANTS = {
    "scratch": ("scratch", {}),
    "ae_rec_cons": (
        "semi_supervised",
        {"consistency_weight": 10.0, "pseudo_label_rounds": 0, "start": "autoencoder"},
    ),
    "ae_rec_cons_pl3": ("semi_supervised", {"consistency_weight": 10.0, "start": "autoencoder"}),
    "ae_rec_pl3": ("semi_supervised", {"start": "autoencoder"}),
    "rand_rec_pl3": ("semi_supervised", {}),  # the default
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help=f"comma-separated, from {sorted(VARIANTS)}")
    parser.add_argument("--labels-per-class", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-steps", type=int, default=1000)
    args = parser.parse_args()
    print("machine:", describe(), flush=True)
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    (x_pool, y_pool), validation = validation_split(x_train, y_train, 1000)
    autoencoder = pretrain_autoencoder(PretrainConfig(epochs=4), images=x_train, verbose=0).autoencoder
    unlabeled = x_pool[np.random.default_rng(0).permutation(len(x_pool))]  # as label_efficiency shuffles it
    for seed in args.seeds:
        for n in args.labels_per_class:
            labeled = data.sample_per_class(x_pool, y_pool, n, seed=seed)
            for name in args.variants.split(","):
                strategy, overrides = VARIANTS[name]
                keras.utils.set_random_seed(seed)
                start = time.perf_counter()
                model, info = train_strategy(
                    strategy,
                    Task(
                        autoencoder,
                        labeled,
                        unlabeled,
                        validation,
                        10,
                        seed=seed,
                        schedule=Schedule(max_steps=args.max_steps),
                    ),
                    **overrides,
                )
                record = {"variant": name, "labels_per_class": n, "seed": seed, **info}
                record["test_accuracy"] = accuracy_of(model, x_test, y_test)
                record["seconds"] = round(time.perf_counter() - start)
                print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
