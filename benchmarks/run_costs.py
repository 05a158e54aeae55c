"""Seconds of one classifier run per strategy, at notebook 06's full-mode settings, on the current backend.

The notebook's 8-epoch autoencoder (all 60,000 images, batch 128, Conv2DTranspose; from the cache when
it is there), then one `label_efficiency` run per STRATEGY:LABELS_PER_CLASS, seed 0, with the notebook's
`Schedule(max_steps=1000, eval_every=50)` and validation split of 1,000: what adding up the
notebook's runs needs when the whole notebook does not fit (docs/benchmarks.md, JAX's notebook 06).

Usage: KERAS_BACKEND=jax python benchmarks/run_costs.py [--runs scratch:10 lp_ft:10 frozen:100 semi_supervised:1]
"""

import argparse
import time

from _machine import describe

from tlkeras import data
from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder
from tlkeras.study.label_efficiency import label_efficiency
from tlkeras.study.schedule import Schedule


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["scratch:10", "lp_ft:10", "frozen:100", "semi_supervised:1"])
    args = parser.parse_args()
    runs = [(strategy, int(n)) for strategy, n in (run.split(":") for run in args.runs)]
    print(describe(), flush=True)
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    start = time.perf_counter()
    config = PretrainConfig(epochs=8, max_images=None, batch_size=128, upsampling="transpose", seed=0)
    pretrained = pretrain_autoencoder(config, images=x_train, verbose=2)
    print(f"autoencoder: {time.perf_counter() - start:.0f} s (cached: {pretrained.cached})", flush=True)
    for strategy, n in runs:
        [run] = label_efficiency(
            pretrained.autoencoder,
            (x_train, y_train),
            (x_test, y_test),
            labels_per_class=(n,),
            strategies=(strategy,),
            seeds=(0,),
            schedule=Schedule(max_steps=1000, eval_every=50),
            validation_size=1000,
            progress=False,
        )
        print(
            f"{strategy} at {n} labels per class: {run['seconds']:.0f} s, {run['steps']} steps, "
            f"test accuracy {100 * run['accuracy']:.1f} %",
            flush=True,
        )


if __name__ == "__main__":
    main()
