"""Small models and files the tests build."""

import gzip
import struct

import keras
import numpy as np

from tlkeras.models import build_classifier, build_conv_autoencoder

SHAPE = (16, 16, 1)


def tiny_autoencoder(**kwargs):
    kwargs = {"input_shape": SHAPE, "filters": (4, 8), "latent_dim": 6, **kwargs}
    return build_conv_autoencoder(**kwargs)


def tiny_classifier(batch_norm=False, num_classes=3):
    ae = tiny_autoencoder(batch_norm=batch_norm, bottleneck="conv")
    return build_classifier(ae.get_layer("encoder"), num_classes=num_classes)


def weights_by_path(model):
    """Every weight (trainable or not) as a numpy copy, keyed by its path."""
    return {w.path: np.array(keras.ops.convert_to_numpy(w)) for w in model.weights}


def write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
