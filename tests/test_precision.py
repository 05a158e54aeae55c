import keras
import numpy as np
import pytest
from helpers import tiny_autoencoder, tiny_classifier

from tlkeras.scaling.precision import use_mixed_precision


@pytest.fixture
def mixed():
    previous = use_mixed_precision("mixed_bfloat16")
    yield
    use_mixed_precision(previous)


def test_mixed_precision_computes_in_bfloat16_with_float32_outputs(mixed, images):
    ae = tiny_autoencoder()
    assert ae.get_layer("encoder").get_layer("encoder_block1_conv").compute_dtype == "bfloat16"
    assert ae.get_layer("encoder").get_layer("encoder_block1_conv").variable_dtype == "float32"
    assert ae.get_layer("decoder").get_layer("reconstruction").compute_dtype == "float32"
    ae.compile(optimizer="adam", loss="mse")
    history = ae.fit(images, images, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert ae.predict(images[:2], verbose=0).dtype == np.float32
    assert tiny_classifier().get_layer("predictions").compute_dtype == "float32"


def test_switching_back_restores_float32():
    previous = use_mixed_precision("mixed_bfloat16")
    assert use_mixed_precision(previous) == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    assert tiny_autoencoder().get_layer("encoder").get_layer("bottleneck").compute_dtype == "float32"
    with pytest.raises(ValueError, match="policy"):
        use_mixed_precision("float8")
