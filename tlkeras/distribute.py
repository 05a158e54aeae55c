"""Data-parallel training: how many replicas share a batch, and the batch size to pass to `fit`.

tlkeras builds ordinary Keras models, so the Keras way of distributing them applies:

- TensorFlow backend, `tf.distribute.MirroredStrategy` (several GPUs, or CPUs): build *and*
  compile inside `with strategy.scope():`; `fine_tune` compiles in the model's own strategy
  by itself. (`tf.distribute` is TensorFlow-only, so `replicas` imports TensorFlow there.)
- JAX backend, `keras.distribution.DataParallel`: call
  `keras.distribution.set_distribution(DataParallel(devices=...))` before building.

`fit(batch_size=B)` takes the *global* batch, split evenly over the replicas. To keep each
replica's batch (and so the learning dynamics) as on one device, pass
`global_batch_size(per_replica)`; to reproduce a one-device run, keep the global batch.
BatchNormalization normalises with each replica's share of the batch, so a model with
`batch_norm=True` trains slightly differently on several replicas than on one.
"""

import keras

from tlkeras._validation import check_positive_int


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
