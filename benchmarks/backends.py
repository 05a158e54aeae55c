"""One pretraining epoch and one fine-tuning epoch on each installed Keras backend, in one run.

Each backend runs in its own process (Keras picks its backend at import), on the
same images, with both decoder kinds (Conv2DTranspose and UpSampling2D + Conv2D),
so a slow backend can be told apart from a slow layer. Numbers are images per
second of the second epoch (the first one compiles).

Usage: python benchmarks/backends.py [--images 6000] [--backends tensorflow jax torch]
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

from _machine import describe

WORKER = r"""
import json, sys, time
import keras, numpy as np
from tlkeras.data import load_fashion_mnist
from tlkeras.models import build_classifier, build_conv_autoencoder
from tlkeras.transfer import extract_encoder, unfreeze

images, batch_size = int(sys.argv[1]), int(sys.argv[2])
(x, y), _ = load_fashion_mnist()
x, y = x[:images], y[:images]
result = {}


def speed(model, inputs, targets):
    model.fit(inputs, targets, epochs=1, batch_size=batch_size, verbose=0)  # compiles
    start = time.perf_counter()
    model.fit(inputs, targets, epochs=1, batch_size=batch_size, verbose=0)
    return len(inputs) / (time.perf_counter() - start)


for upsampling in ("transpose", "upsampling"):
    keras.utils.set_random_seed(0)
    ae = build_conv_autoencoder(upsampling=upsampling)
    ae.compile(optimizer="adam", loss="mse")
    result[f"pretrain ({upsampling})"] = speed(ae, x, x)
clf = build_classifier(extract_encoder(ae), 10)
unfreeze(clf)
clf.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
result["fine-tune"] = speed(clf, x, y)
print(json.dumps(result))
"""


def installed(backend):
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return importlib.util.find_spec(module) is not None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    args = parser.parse_args()
    print(f"machine: {describe()}")
    rows = {}
    for backend in args.backends:
        if not installed(backend):
            print(f"{backend}: not installed, skipped")
            continue
        env = {**os.environ, "KERAS_BACKEND": backend}
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(args.images), str(args.batch_size)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{backend}: failed\n{out.stderr[-2000:]}")
            continue
        rows[backend] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{backend}: done in {time.perf_counter() - start:.0f} s", flush=True)
    columns = list(next(iter(rows.values()))) if rows else []
    print("| backend | " + " | ".join(f"{c}, images/s" for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for backend, values in rows.items():
        print(f"| {backend} | " + " | ".join(f"{values[c]:.0f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
