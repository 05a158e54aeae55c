"""Multi-process data-parallel pretraining and fine-tuning (JAX backend): one worker, and a local launcher.

`tlkeras pretrain` runs one worker: it joins the run (`tlkeras.scaling.distribute.initialize_workers`,
from `--coordinator/--num-processes/--process-id` or the `KERAS_DISTRIBUTION_*` variables),
pretrains the autoencoder on its `worker_shard` of the unlabeled images with
`pretrain_autoencoder`, optionally fine-tunes a classifier on its shard of the labeled images
with `fine_tune`, and prints one JSON line (test MSE, accuracy, a digest of the weights, images/s).
Process 0 writes the autoencoder (atomically) to `--output`.

`tlkeras pretrain --workers N` starts N such workers on 127.0.0.1 (`launch_local_workers`: a free
port, each worker its own environment, a time limit, every worker stopped whatever happens) and
prints their JSON lines. docs/distributed.md has the commands for N machines.
"""

import dataclasses
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from tlkeras.pretraining import PretrainConfig


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    """What every worker of one run trains: the same on every process (pretraining defaults: `PretrainConfig`'s)."""

    dataset: str = PretrainConfig.dataset
    data: str | None = None
    max_images: int | None = None
    epochs: int = PretrainConfig.epochs
    batch_size: int = PretrainConfig.batch_size
    filters: tuple = PretrainConfig.filters
    latent_dim: int = PretrainConfig.latent_dim
    labels_per_class: int = 0
    fine_tune_epochs: int = 5
    seed: int = 0
    output: str | None = None


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights_digest(model):
    """A short SHA-256 of all of `model`'s weights: equal on two processes only if every weight is."""
    from tlkeras.pretraining import fingerprint

    return fingerprint(np.concatenate([np.ravel(w) for w in model.get_weights()]))["sha256"][:16]


def check_worker_options(options, num_processes):
    """Refuse what a run of `options` over `num_processes` could not honour; return its `(train, test)` data.

    Called before any worker starts or trains: the global batch must split over the processes, the
    label budget must fit every class, the output must be a `.keras` file in an existing folder.
    """
    from tlkeras import data
    from tlkeras.saving import check_model_path

    if options.batch_size % num_processes:
        raise ValueError(
            f"`batch_size` (the global batch) must be a multiple of the {num_processes} processes. "
            f"Received: batch_size={options.batch_size}"
        )
    if options.output is not None:
        check_model_path(options.output, "output")
    (x_train, y_train), test = data.load_npz(options.data) if options.data else data.load_dataset(options.dataset)
    if options.labels_per_class:
        counts = np.bincount(y_train)
        short = {c: int(k) for c, k in enumerate(counts) if 0 < k < options.labels_per_class}
        if short:
            raise ValueError(
                f"`labels_per_class` is larger than the images available: {options.labels_per_class} per class was "
                f"asked for, but class(es) {sorted(short)} have only {short} images."
            )
    return (x_train, y_train), test


def run_worker(options, coordinator_address=None, num_processes=None, process_id=None):
    """Run one worker of a data-parallel run; return its result record (see the module's docstring)."""
    from tlkeras import data
    from tlkeras.scaling.distribute import initialize_workers, worker_shard

    process_id, num_processes = initialize_workers(coordinator_address, num_processes, process_id)
    (x_train, y_train), (x_test, y_test) = check_worker_options(options, num_processes)
    import keras

    from tlkeras.models import build_classifier
    from tlkeras.pretraining import pretrain_autoencoder
    from tlkeras.saving import save_model
    from tlkeras.transfer import extract_encoder, fine_tune

    images = x_train[: options.max_images]
    per_process = options.batch_size // num_processes
    config = PretrainConfig(
        filters=tuple(options.filters),
        latent_dim=options.latent_dim,
        epochs=options.epochs,
        batch_size=per_process,
        seed=options.seed,
    )
    start = time.perf_counter()
    pretrained = pretrain_autoencoder(
        config, cache_dir=False, images=worker_shard(images), verbose=2 if process_id == 0 else 0
    )
    seconds = time.perf_counter() - start
    autoencoder = pretrained.autoencoder
    test_shard = worker_shard(x_test)
    result = {
        "process_id": process_id,
        "num_processes": num_processes,
        "global_batch_size": options.batch_size,
        "pretrain_seconds": seconds,
        # images trained on per second over all processes, compilation included (10 % of each shard validates)
        "images_per_second": options.epochs * num_processes * math.ceil(0.9 * (len(images) // num_processes)) / seconds,
        "test_mse": float(autoencoder.evaluate(test_shard, test_shard, batch_size=per_process, verbose=0)),
        "autoencoder_digest": _weights_digest(autoencoder),
    }
    if options.labels_per_class:
        x_few, y_few = data.sample_per_class(x_train, y_train, options.labels_per_class, seed=options.seed)
        x_few, y_few = worker_shard(x_few, y_few)
        keras.utils.set_random_seed(options.seed)
        classifier = build_classifier(extract_encoder(autoencoder), int(y_train.max()) + 1, normalize="layer")
        fine_tune(
            classifier,
            x_few,
            y_few,
            head_epochs=options.fine_tune_epochs,
            fine_tune_epochs=options.fine_tune_epochs,
            batch_size=max(1, 32 // num_processes),
            verbose=0,
        )
        x_t, y_t = worker_shard(x_test, y_test)
        result["test_accuracy"] = float(classifier.evaluate(x_t, y_t, batch_size=per_process, verbose=0)[1])
        result["classifier_digest"] = _weights_digest(classifier)
    if options.output:
        # Saving reads the weights with collectives: every process saves, only process 0's file is kept.
        with tempfile.TemporaryDirectory() as scratch:
            save_model(autoencoder, options.output if process_id == 0 else os.path.join(scratch, "ae.keras"))
    return result


def worker_argv(options):
    """The `tlkeras pretrain` options that make a worker train `options` (a `WorkerOptions`)."""
    argv = []
    for field in dataclasses.fields(WorkerOptions):
        value = getattr(options, field.name)
        if value is None:
            continue
        flag = "--" + field.name.replace("_", "-")
        argv += [flag, *map(str, value)] if isinstance(value, (tuple, list)) else [flag, str(value)]
    return argv


def launch_local_workers(options, num_workers, timeout=3600, cores_per_worker=None):
    """Start `num_workers` `tlkeras pretrain` workers of `options` on 127.0.0.1; return their result records.

    Each worker gets its own environment (`KERAS_BACKEND=jax` and the
    `KERAS_DISTRIBUTION_*` variables of one free port); with
    `cores_per_worker`, worker `i` is pinned to its own cores (Linux). If any
    worker fails or `timeout` seconds pass, every worker is stopped and the
    error names the worker and the end of its output.
    """
    from tlkeras._validation import check_positive_int

    num_workers = check_positive_int(num_workers, "num_workers")
    check_worker_options(options, num_workers)
    port = free_port()
    workers = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for i in range(num_workers):
                env = dict(
                    os.environ,
                    KERAS_BACKEND="jax",
                    KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                    KERAS_DISTRIBUTION_NUM_PROCESSES=str(num_workers),
                    KERAS_DISTRIBUTION_PROCESS_ID=str(i),
                )
                command = [sys.executable, "-m", "tlkeras", "pretrain", *worker_argv(options)]
                if cores_per_worker:
                    cores = range(i * cores_per_worker, (i + 1) * cores_per_worker)
                    command = ["taskset", "-c", ",".join(map(str, cores)), *command]
                out = open(os.path.join(logs, f"worker{i}.out"), "w+")  # noqa: SIM115 (closed below)
                err = open(os.path.join(logs, f"worker{i}.err"), "w+")  # noqa: SIM115
                worker = subprocess.Popen(command, env=env, stdout=out, stderr=err, start_new_session=True)
                workers.append((worker, out, err))
            deadline = time.monotonic() + timeout
            while any(p.poll() is None for p, _, _ in workers):
                failed = [i for i, (p, _, _) in enumerate(workers) if p.poll() not in (None, 0)]
                if failed or time.monotonic() > deadline:
                    i = failed[0] if failed else next(i for i, (p, _, _) in enumerate(workers) if p.poll() is None)
                    workers[i][2].seek(0)
                    tail = workers[i][2].read()[-2000:]
                    why = f"exited with status {workers[i][0].returncode}" if failed else f"ran past {timeout} s"
                    raise RuntimeError(f"Worker {i} of {num_workers} {why}; its last output:\n{tail}")
                time.sleep(0.2)
            results = []
            for i, (p, out, err) in enumerate(workers):
                out.seek(0)
                lines = [line for line in out.read().splitlines() if line.startswith("{")]
                if p.returncode != 0 or not lines:
                    err.seek(0)
                    tail = err.read()[-2000:]
                    raise RuntimeError(f"Worker {i} of {num_workers} gave no result; its last output:\n{tail}")
                results.append(json.loads(lines[-1]))
            return results
        finally:
            for p, out, err in workers:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                out.close()
                err.close()
