"""Train the same tiny autoencoder and classifier on one device and data-parallel on two.

Run as a script in a fresh process (the devices must be set up before the backend starts):
    python distributed_run.py mirrored   # TensorFlow, MirroredStrategy over 2 logical CPUs
    python distributed_run.py jax        # JAX, keras.distribution.DataParallel over 2 CPU devices
Prints one JSON line: the replica count, each run's reconstruction error and how often the two
classifiers agree. (Weights are not compared: Adam turns rounding differences in near-zero
gradients into steps of the learning rate's size, so they drift apart by ~1e-3 while learning
the same function.)
"""

import json
import os
import sys

MODE = sys.argv[1]
os.environ["KERAS_BACKEND"] = "jax" if MODE == "jax" else "tensorflow"

import contextlib  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tlkeras import build_classifier, build_conv_autoencoder, extract_encoder, fine_tune  # noqa: E402
from tlkeras.data import load_digits  # noqa: E402
from tlkeras.scaling.distribute import global_batch_size, replicas, split_cpu  # noqa: E402

split_cpu(2)  # before the backend computes anything
if MODE != "jax":
    import tensorflow as tf

(x, y), _ = load_digits(size=16)
x, y = x[:256], y[:256]


def train(scope):
    """`scope()` gives a fresh context to build in (a strategy's scope can't be entered twice)."""
    keras.utils.set_random_seed(0)
    with scope():
        ae = build_conv_autoencoder((16, 16, 1), filters=(4, 8), latent_dim=8)
        ae.compile(optimizer="adam", loss="mse")
        count = replicas()
    ae.fit(x, x, epochs=2, batch_size=32, shuffle=False, verbose=0)
    with scope():
        clf = build_classifier(extract_encoder(ae), 10)
    fine_tune(clf, x, y, head_epochs=1, fine_tune_epochs=1, batch_size=32, verbose=0)
    mse = float(np.mean((ae.predict(x, verbose=0) - x) ** 2))
    return count, mse, clf.predict(x, verbose=0).argmax(axis=1)


if MODE == "jax":
    _, mse_single, labels_single = train(contextlib.nullcontext)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu")))
    count, mse_parallel, labels_parallel = train(contextlib.nullcontext)
    per_replica = global_batch_size(16)
else:
    _, mse_single, labels_single = train(tf.distribute.OneDeviceStrategy("/cpu:0").scope)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    count, mse_parallel, labels_parallel = train(strategy.scope)
    per_replica = global_batch_size(16, strategy)
try:
    split_cpu(3)
    too_late = ""
except RuntimeError as error:
    too_late = str(error)
result = {
    "replicas": count,
    "split_cpu_too_late": too_late,
    "global_batch_for_16": per_replica,
    "mse_single": mse_single,
    "mse_parallel": mse_parallel,
    "agreement": float(np.mean(labels_single == labels_parallel)),
}
print(json.dumps(result))
