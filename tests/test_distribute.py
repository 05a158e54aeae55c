import json
import os
import subprocess
import sys

import keras
import pytest

from tlkeras.distribute import global_batch_size, replicas

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_run.py")
MODES = {"tensorflow": "mirrored", "jax": "jax"}


def test_one_device_has_one_replica():
    assert replicas() == 1 and global_batch_size(32) == 32
    with pytest.raises(ValueError, match="per_replica_batch_size"):
        global_batch_size(0)


@pytest.mark.skipif(
    keras.backend.backend() not in MODES,
    reason="data-parallel recipes exist for TensorFlow (tf.distribute) and JAX (keras.distribution); "
    "Keras' PyTorch backend has no keras.distribution support",
)
def test_data_parallel_training_matches_one_device():
    """MirroredStrategy (TensorFlow) or DataParallel (JAX) over two CPU devices, in a fresh process."""
    out = subprocess.run(
        [sys.executable, SCRIPT, MODES[keras.backend.backend()]], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["global_batch_for_16"] == 32
    assert abs(result["mse_parallel"] - result["mse_single"]) < 0.02 * result["mse_single"]
    assert result["agreement"] >= 0.95
