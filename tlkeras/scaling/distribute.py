"""Data-parallel training: how many replicas share a batch, and the batch size to pass to `fit`.

tlkeras builds ordinary Keras models, so the Keras way of distributing them applies:

- TensorFlow backend, `tf.distribute.MirroredStrategy` (several GPUs, or CPUs): build *and*
  compile inside `with strategy.scope():`; `fine_tune` compiles in the model's own strategy
  by itself. (`tf.distribute` is TensorFlow-only, so `replicas` imports TensorFlow there.)
- JAX backend, `keras.distribution.DataParallel`: call
  `keras.distribution.set_distribution(DataParallel(devices=...))` before building.
- No GPUs at hand: `split_cpu(2)`, right after `import keras`, gives either backend two CPU
  devices to try it on.

`fit(batch_size=B)` takes the *global* batch, split evenly over the replicas. To keep each
replica's batch (and so the learning dynamics) as on one device, pass
`global_batch_size(per_replica)`; to reproduce a one-device run, keep the global batch.
BatchNormalization normalises with each replica's share of the batch, so a model with
`batch_norm=True` trains slightly differently on several replicas than on one.

Several processes (several machines, or several workers on one), JAX backend: every process
calls `initialize_workers` first, then trains on its own `worker_shard` of the data with the
ordinary tlkeras functions (`pretrain_autoencoder`, `fine_tune`). Under several processes
`fit(batch_size=B)` takes each *process's* batch: the global batch is `B * process_count()`,
and the gradients of the whole global batch are averaged across processes every step, so every
process holds the same weights. `model.predict` cannot gather a batch split across processes
(use `evaluate`). `tlkeras pretrain --workers N` (`tlkeras.scaling.workers`) launches such a run;
docs/distributed.md has the commands for N machines.
"""

import os
import re

import keras

from tlkeras._validation import check_array, check_number, check_positive_int


def replicas(tf_distribute_strategy=None):
    """The number of replicas a global batch is split across, on the active backend.

    Args:
        tf_distribute_strategy: a `tf.distribute.Strategy` (named so, not "strategy",
            because tlkeras calls its training recipes strategies); `None` takes the
            active one (TensorFlow) or the active `keras.distribution` (JAX). Defaults to `None`.

    Returns:
        An int, 1 when nothing is distributed.

    Example:
    >>> replicas()
    1
    """
    if tf_distribute_strategy is not None:
        return int(tf_distribute_strategy.num_replicas_in_sync)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # tf.distribute is TensorFlow-only

        return int(tf.distribute.get_strategy().num_replicas_in_sync)
    if backend == "jax":
        distribution = keras.distribution.distribution()
        if isinstance(distribution, keras.distribution.DataParallel):
            return int(distribution.device_mesh.shape[0])
    return 1


def global_batch_size(per_replica_batch_size, tf_distribute_strategy=None):
    """The batch size to pass to `fit` so each replica gets `per_replica_batch_size` images.

    Example:
    >>> global_batch_size(32)
    32
    """
    return check_positive_int(per_replica_batch_size, "per_replica_batch_size") * replicas(tf_distribute_strategy)


def split_cpu(devices=2):
    """Split the CPU into `devices` devices for data-parallel training: a stand-in for several GPUs.

    Call it right after `import keras`, before the backend computes anything: TensorFlow then
    has `devices` logical CPUs (`"/cpu:0"`, `"/cpu:1"`, ...) for `tf.distribute.MirroredStrategy`,
    JAX `devices` CPU devices for `keras.distribution.DataParallel`. Keras has no distribution
    API for PyTorch: there nothing changes. Calling it again with the same number does nothing.

    JAX: XLA:CPU runs the devices' shares of a step on a pool of max(cores, devices) threads,
    and the launch of a later step waits in that pool too once 32 steps are queued; on a
    2-core machine two launches can hold every thread while a share of the current step waits
    for one, a deadlock XLA ends by killing the process after 40 s (docs/benchmarks.md, issue
    #13). So the pool gets twice the devices' threads (`PJRT_NPROC`, unless it is set).

    Args:
        devices: positive int. Defaults to 2.

    Returns:
        The number of devices the backend will train on: `devices`, or 1 on PyTorch.

    Raises:
        RuntimeError: the backend had already started with another number of devices.
    """
    devices = check_positive_int(devices, "devices")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # logical devices are TensorFlow's own API

        cpu = tf.config.list_physical_devices("CPU")[0]
        if len(tf.config.get_logical_device_configuration(cpu) or [None]) == devices:
            return devices
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
        except RuntimeError as error:
            raise _started_error(devices, error) from None
        return devices
    if backend == "jax":
        import jax

        if jax.config.jax_num_cpu_devices == devices:
            return devices
        os.environ.setdefault("PJRT_NPROC", str(max(os.cpu_count() or 1, 2 * devices)))
        try:
            jax.config.update("jax_num_cpu_devices", devices)
        except RuntimeError as error:
            raise _started_error(devices, error) from None
        return devices
    return 1


def _started_error(devices, error):
    return RuntimeError(
        f"split_cpu(devices={devices}) must run before the {keras.backend.backend()} backend starts computing: "
        f"call it right after `import keras` (in a notebook, restart the kernel). The backend said: {error}"
    )


def initialize_workers(coordinator_address=None, num_processes=None, process_id=None):
    """Join a multi-process data-parallel run (JAX backend): call it first, in every process.

    Starts JAX's multi-process runtime through `keras.distribution.initialize`
    (on CPUs with the gloo collectives) and sets `keras.distribution.DataParallel`
    over the devices of all processes. Each process then feeds its own
    `worker_shard` of the data (automatic sharding is off: it needs a `tf.data`
    input).

    Args:
        coordinator_address: `"host:port"` of process 0, reachable from every
            process; `None` reads `KERAS_DISTRIBUTION_JOB_ADDRESSES`.
        num_processes: processes in the run; `None` reads
            `KERAS_DISTRIBUTION_NUM_PROCESSES`.
        process_id: this process, `0 <= process_id < num_processes`; `None`
            reads `KERAS_DISTRIBUTION_PROCESS_ID`.

    Returns:
        `(process_id, num_processes)`.
    """
    if keras.backend.backend() != "jax":
        raise ValueError(
            "Multi-process data parallelism in tlkeras runs on the JAX backend (set KERAS_BACKEND=jax before "
            f"importing keras). Received: backend={keras.backend.backend()!r}"
        )
    env = os.environ.get
    coordinator_address = coordinator_address or env("KERAS_DISTRIBUTION_JOB_ADDRESSES", "").split(",")[0] or None
    if not isinstance(coordinator_address, str) or not re.fullmatch(r"[^\s:,]+:\d{1,5}", coordinator_address):
        raise ValueError(
            "`coordinator_address` must be 'host:port' of process 0 (or set KERAS_DISTRIBUTION_JOB_ADDRESSES). "
            f"Received: coordinator_address={coordinator_address!r}"
        )
    num_processes = check_positive_int(
        _from_env("KERAS_DISTRIBUTION_NUM_PROCESSES") if num_processes is None else num_processes, "num_processes"
    )
    process_id = _from_env("KERAS_DISTRIBUTION_PROCESS_ID") if process_id is None else process_id
    process_id = check_number(process_id, "process_id", 0, num_processes - 1, integer=True)
    import jax

    # The CPU devices' collectives (GPUs and TPUs bring their own); asking which platform runs would
    # start the XLA backend, which must wait for the multi-process runtime.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(coordinator_address, num_processes, process_id)
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    distribution.auto_shard_dataset = False  # each process passes its own worker_shard
    keras.distribution.set_distribution(distribution)
    return int(process_id), int(num_processes)


def _from_env(name):
    text = os.environ.get(name)
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ValueError(f"Pass it as an argument or set {name} to an integer. Received: {name}={text!r}") from None


def process_count():
    """The number of processes of the run (1 unless `initialize_workers` joined several).

    Example:
    >>> process_count()
    1
    """
    if keras.backend.backend() == "jax":
        import jax

        return int(jax.process_count())
    return 1


def worker_shard(*arrays, process_id=None, num_processes=None):
    """This process's share of each array: items `process_id, process_id + num_processes, ...`.

    Every share has the same length (the remainder is dropped), because every
    process must run the same number of steps: one process with an extra batch
    would wait for the others forever.

    Args:
        *arrays: arrays of the same length (images, labels).
        process_id, num_processes: `None` takes this process's, from the JAX
            runtime (0 and 1 without `initialize_workers`).

    Returns:
        One array, or a tuple of them.

    Example:
    >>> import numpy as np
    >>> worker_shard(np.arange(7), process_id=1, num_processes=2)
    array([1, 3, 5])
    """
    if not arrays:
        raise ValueError("`worker_shard` needs at least one array.")
    arrays = [check_array(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"The arrays must have the same length. Received lengths: {[len(a) for a in arrays]}")
    if num_processes is None:
        num_processes = process_count()
    num_processes = check_positive_int(num_processes, "num_processes")
    if process_id is None:
        process_id = 0
        if keras.backend.backend() == "jax":  # JAX is not installed with the other backends
            import jax

            process_id = jax.process_index()
    process_id = check_number(process_id, "process_id", 0, num_processes - 1, integer=True)
    share = lengths.pop() // num_processes
    if share == 0:
        raise ValueError(f"Too few items for {num_processes} processes: each needs at least one.")
    shards = [a[process_id::num_processes][:share] for a in arrays]
    return shards[0] if len(shards) == 1 else tuple(shards)
