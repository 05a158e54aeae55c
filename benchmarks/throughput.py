"""Training throughput of a tlkeras-built autoencoder against the same network in plain Keras.

Both are trained on the same images, alternately, several times in one run;
the report is the ratio of their median images per second, so the machine's
noise cancels. Target: tlkeras costs less than 2 %.

Usage: python benchmarks/throughput.py [--images 20000] [--repeats 5]
"""

import argparse
import statistics
import time

import keras
from _machine import describe
from keras import layers

from tlkeras.data import load_fashion_mnist
from tlkeras.models import build_conv_autoencoder


def plain_keras_autoencoder():
    """The network `build_conv_autoencoder()` builds, written out in plain Keras."""
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dense(64)(layers.Flatten()(x))
    x = layers.Dense(7 * 7 * 64, activation="relu")(x)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def images_per_second(model, x, batch_size):
    model.fit(x[: batch_size * 4], x[: batch_size * 4], epochs=1, batch_size=batch_size, verbose=0)  # compile, warm up
    start = time.perf_counter()
    model.fit(x, x, epochs=1, batch_size=batch_size, verbose=0)
    return len(x) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    (x, _), _ = load_fashion_mnist()
    x = x[: args.images]
    keras.utils.set_random_seed(0)
    models = {"tlkeras": build_conv_autoencoder(), "plain keras": plain_keras_autoencoder()}
    assert models["tlkeras"].count_params() == models["plain keras"].count_params()
    speeds = {name: [] for name in models}
    for model in models.values():
        model.compile(optimizer="adam", loss="mse")
    for _ in range(args.repeats):
        for name, model in models.items():
            speeds[name].append(images_per_second(model, x, args.batch_size))
    print(f"machine: {describe()}")
    for name, values in speeds.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:>12}: median {statistics.median(values):7.0f} images/s  ({runs})")
    ratio = statistics.median(speeds["tlkeras"]) / statistics.median(speeds["plain keras"])
    print(f"tlkeras / plain keras throughput: {ratio:.3f} ({100 * (1 - ratio):+.1f} % cost)")
    print("median of", args.repeats, "alternating one-epoch runs on", len(x), "images, batch", args.batch_size)


if __name__ == "__main__":
    main()
