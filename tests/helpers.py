"""Small models and files the tests build."""

import gzip
import importlib.util
import os
import struct

import keras
import numpy as np

from tlkeras.models import build_classifier, build_conv_autoencoder

SHAPE = (16, 16, 1)
ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def load_script(name):
    """A script of scripts/ as a module (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "scripts", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_pngs(folder, images):
    """Write uint8 arrays `(H, W)` or `(H, W, 3)` as `folder/<i>.png`, making the folder."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, pixels in enumerate(images):
        Image.fromarray(np.asarray(pixels, "uint8").squeeze()).save(folder / f"{i:03d}.png")


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
