"""On JAX, a classifier with random shifts trained compiled whole (tlkeras) and op by op (Keras' own mark).

Keras marks `RandomTranslation` as not XLA-compilable, which on JAX keeps any model holding it from
being jit-compiled; `tlkeras.models.random_translation` lifts the mark there. This trains the
library's augmented classifier (shifts and flips, the study's default) both ways from the same
weights on the same Fashion-MNIST batches, after one warm-up epoch each, and prints images/s.

Usage: KERAS_BACKEND=jax python benchmarks/jit_augmentation.py [--images 3200] [--epochs 2]
"""

import argparse
import time

import keras
from _machine import describe

from tlkeras import data
from tlkeras.models import build_classifier, build_encoder


def train(images, labels, epochs, compiled_whole):
    keras.utils.set_random_seed(0)
    classifier = build_classifier(build_encoder(), 10, augment=("translate", "flip"), dropout=0.3)
    classifier.get_layer("augment_translate").supports_jit = compiled_whole
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    classifier.fit(images, labels, batch_size=32, epochs=1, verbose=0)  # compiles (or not)
    start = time.perf_counter()
    history = classifier.fit(images, labels, batch_size=32, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    return classifier.jit_compile, len(images) * epochs / seconds, history.history["loss"][-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if keras.backend.backend() != "jax":
        raise SystemExit(f"Run it on JAX (KERAS_BACKEND=jax); this is {keras.backend.backend()}.")
    (x, y), _ = data.load_fashion_mnist()
    x, y = x[: args.images], y[: args.images]
    print(f"machine: {describe()}")
    speeds = []
    for name, whole in (("op by op (Keras' mark)", False), ("compiled whole (tlkeras)", True)):
        jit, speed, loss = train(x, y, args.epochs, whole)
        speeds.append(speed)
        print(f"{name:<26} jit_compile={jit!s:<5} {speed:7.0f} images/s, last loss {loss:.4f}")
    print(f"compiled whole / op by op: {speeds[1] / speeds[0]:.1f}x")


if __name__ == "__main__":
    main()
