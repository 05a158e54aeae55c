import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tlkeras.scaling import workers
from tlkeras.scaling.distribute import global_batch_size, initialize_workers, replicas, split_cpu, worker_shard
from tlkeras.scaling.workers import WorkerOptions, launch_local_workers

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
    assert "split_cpu(devices=3) must run before" in result["split_cpu_too_late"]
    assert abs(result["mse_parallel"] - result["mse_single"]) < 0.02 * result["mse_single"]
    assert result["agreement"] >= 0.95


def test_split_cpu_checks_its_argument_and_leaves_pytorch_alone():
    with pytest.raises(ValueError, match="devices"):
        split_cpu(0)
    if keras.backend.backend() == "torch":  # no keras.distribution there: one device, nothing set up
        assert split_cpu(2) == 1


def test_worker_shard_gives_every_process_an_equal_share():
    x, y = np.arange(11), np.arange(11) * 10
    shards = [worker_shard(x, y, process_id=i, num_processes=3) for i in range(3)]
    assert [len(s[0]) for s in shards] == [3, 3, 3]  # 11 // 3: the extra items are dropped
    np.testing.assert_array_equal(shards[1][0], [1, 4, 7])
    np.testing.assert_array_equal(shards[1][1], [10, 40, 70])  # labels stay with their images
    assert not set(shards[0][0]) & set(shards[1][0])
    np.testing.assert_array_equal(worker_shard(x), x[:11])  # one process: everything
    with pytest.raises(ValueError, match="same length"):
        worker_shard(x, y[:5], process_id=0, num_processes=2)
    with pytest.raises(ValueError, match="process_id"):
        worker_shard(x, process_id=2, num_processes=2)
    with pytest.raises(ValueError, match="Too few items"):
        worker_shard(x[:1], process_id=0, num_processes=2)


def test_initialize_workers_checks_its_arguments(monkeypatch):
    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="JAX backend"):
            initialize_workers("127.0.0.1:1234", 2, 0)
        return
    for name in ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="coordinator_address"):
        initialize_workers("127.0.0.1", 2, 0)
    with pytest.raises(ValueError, match="KERAS_DISTRIBUTION_NUM_PROCESSES"):
        initialize_workers("127.0.0.1:1234")
    with pytest.raises(ValueError, match="process_id"):
        initialize_workers("127.0.0.1:1234", 2, 2)


TINY = WorkerOptions(
    dataset="digits", max_images=256, epochs=2, batch_size=32, filters=(4, 8), latent_dim=8, labels_per_class=5
)


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the multi-process path is JAX's (its workers set KERAS_BACKEND=jax); it runs in make test's JAX pass",
)
def test_two_worker_processes_train_like_one_process(tmp_path):
    """Two workers on 127.0.0.1, each on its half of every global batch, against one process."""
    two = launch_local_workers(dataclasses.replace(TINY, output=str(tmp_path / "ae.keras")), 2, timeout=300)
    one = launch_local_workers(TINY, 1, timeout=300)[0]
    assert [r["process_id"] for r in two] == [0, 1] and two[0]["num_processes"] == 2
    # The gradients of the whole global batch are averaged every step: both end with the same weights.
    assert two[0]["autoencoder_digest"] == two[1]["autoencoder_digest"]
    assert two[0]["classifier_digest"] == two[1]["classifier_digest"]
    # Worker i holds items i, i + 2, ...: the global batches are the one-process batches (noise aside).
    assert abs(two[0]["test_mse"] - one["test_mse"]) < 0.01 * one["test_mse"]
    assert abs(two[0]["test_accuracy"] - one["test_accuracy"]) <= 0.05
    assert keras.models.load_model(tmp_path / "ae.keras").count_params() > 0  # process 0 saved it


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="as above: runs in make test's JAX pass")
def test_launcher_stops_every_worker_when_one_fails(monkeypatch):
    monkeypatch.setattr(workers, "check_worker_options", lambda options, count: None)  # let a worker find it
    with pytest.raises(RuntimeError, match="batch_size"):  # 33 cannot be split over 2 processes
        launch_local_workers(dataclasses.replace(TINY, batch_size=33), 2, timeout=300)
    with pytest.raises(RuntimeError, match="ran past 1 s"):
        launch_local_workers(TINY, 2, timeout=1)
