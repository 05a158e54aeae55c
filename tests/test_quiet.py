"""TensorFlow's start-up lines are kept out of the way; every other line written to standard error still shows."""

import os
import subprocess
import sys

from tlkeras._quiet import STARTUP_NOISE, filtered_stderr

TENSORFLOW_START = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1.1 4003 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
    b"I0000 00:00:1.2 4003 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU "
    b"instructions in performance-critical operations.\n"
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    b"compiler flags.\n"
    b"E0000 00:00:1.3 4003 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
)


def test_filtered_stderr_drops_the_startup_lines_and_keeps_the_others(capfd):
    with filtered_stderr():
        os.write(2, TENSORFLOW_START)
        os.write(2, b"E0000 00:00:1.4 4003 some_op.cc:1] a real error\n")
        os.write(2, b"a warning\n")
    assert capfd.readouterr().err == "E0000 00:00:1.4 4003 some_op.cc:1] a real error\na warning\n"


def test_filtered_stderr_writes_back_what_it_caught_when_the_block_fails(capfd):
    try:
        with filtered_stderr():
            os.write(2, b"the reason the import failed\n")
            raise ImportError("no backend")
    except ImportError:
        pass
    assert capfd.readouterr().err == "the reason the import failed\n"
    os.write(2, b"after\n")  # file descriptor 2 is back where it was
    assert capfd.readouterr().err == "after\n"


def test_importing_tlkeras_prints_no_startup_noise_on_this_backend():
    env = {k: v for k, v in os.environ.items() if k != "TLKERAS_STARTUP_LOGS"}
    done = subprocess.run(
        [sys.executable, "-c", "import tlkeras, keras; keras.ops.ones(2)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert not STARTUP_NOISE.search(done.stderr), done.stderr
