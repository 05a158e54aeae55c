"""Mixed precision: compute in 16-bit floats where the hardware is faster at it, keep weights in float32.

`with mixed_precision("mixed_bfloat16"):` sets Keras' global dtype policy for the models built
inside the block and restores the previous policy after it (`use_mixed_precision` sets it for good
and returns the previous one). Models built with it compute in bfloat16. The builders keep their
output layers (`reconstruction`, `predictions`) in float32, so the sigmoid, the softmax and the
losses stay accurate. It is off by default: turn it on where `benchmarks/precision.py` shows it is
faster on your machine (`docs/benchmarks.md` has the numbers for ours).
"""

import contextlib

import keras

from tlkeras._validation import check_choice

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def use_mixed_precision(policy="mixed_bfloat16"):
    """Set the global dtype policy for models built from now on.

    Args:
        policy: `"mixed_bfloat16"` (CPUs with AVX512-BF16/AMX, TPUs, recent GPUs),
            `"mixed_float16"` (GPUs), or `"float32"` to switch it off. Defaults to `"mixed_bfloat16"`.

    Returns:
        The policy that was active before, to restore it later.

    Example:
    >>> previous = use_mixed_precision("mixed_bfloat16")
    >>> from tlkeras.models import build_encoder
    >>> build_encoder((16, 16, 1), filters=(8,), latent_dim=4).get_layer("encoder_block1_conv").compute_dtype
    'bfloat16'
    >>> _ = use_mixed_precision(previous)
    """
    check_choice(policy, "policy", POLICIES)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    return previous


@contextlib.contextmanager
def mixed_precision(policy="mixed_bfloat16"):
    """Use `policy` for the models built inside the `with` block, then restore the previous policy.

    Example:
    >>> from tlkeras.models import build_encoder
    >>> with mixed_precision("mixed_bfloat16"):
    ...     encoder = build_encoder((16, 16, 1), filters=(8,), latent_dim=4)
    >>> encoder.get_layer("encoder_block1_conv").compute_dtype, keras.config.dtype_policy().name
    ('bfloat16', 'float32')
    """
    previous = use_mixed_precision(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
