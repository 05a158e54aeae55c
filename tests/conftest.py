import keras
import numpy as np
import pytest
from helpers import SHAPE

from tlkeras.data import load_digits


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def digits():
    """64 real handwritten digits of classes 0, 1, 2, resized to SHAPE (offline)."""
    (x, y), _ = load_digits(size=SHAPE[0])
    keep = np.flatnonzero(y < 3)[:64]
    return x[keep], y[keep]


@pytest.fixture
def images(digits):
    return digits[0].copy()


@pytest.fixture
def labels(digits):
    return digits[1].copy()


@pytest.fixture(scope="session")
def tiny_pretrained(digits):
    """A tiny conv autoencoder pretrained one epoch on the test digits (trained once per test process)."""
    from tlkeras.pretraining import PretrainConfig, pretrain_autoencoder

    keras.utils.set_random_seed(0)
    config = PretrainConfig(dataset="digits", filters=(4, 8), latent_dim=8, epochs=1, batch_size=32)
    return pretrain_autoencoder(config, cache_dir=False, images=digits[0], verbose=0).autoencoder
