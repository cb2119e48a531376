"""Data-parallel training on two CPU devices matches one device.

Each test runs `_data_parallel_child.py` in a fresh process (the devices
must be configured before the backend starts) under the current backend,
which trains the same tiny Pix2Pix on the same global batches twice: on one
device, and data-parallel on two (JAX: `keras.distribution.DataParallel`;
TensorFlow: `tf.distribute.MirroredStrategy`).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKEND

CHILD = Path(__file__).with_name("_data_parallel_child.py")


def _run_child(norm, **env):
    result = subprocess.run(
        [sys.executable, str(CHILD), norm],
        env={**os.environ, "KERAS_BACKEND": BACKEND, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _assert_same_training(result):
    assert result["replicas"] == 2
    assert result["moved"] > 0.1  # The weights did change...
    # ...and the same on both, to float32 rounding: the two devices sum the
    # batch in another order, which moved weights by 1.3e-5 to 2.6e-5 (on an
    # AVX-512 CPU, with XLA's convolutions or the library's matmuls) out of
    # 2.4. A wrong reduction (a sum for a mean, one device's statistics)
    # changes the weights at the scale of their movement, not of rounding.
    assert result["weights"] < 1e-4, result
    assert result["logs"] < 1e-4, result  # The logged losses are global means.


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's keras.distribution")
def test_jax_data_parallel_matches_one_device():
    # BatchNorm included: JAX computes the statistics of the global batch,
    # sharded across the devices, as on one device.
    result = _run_child("batch", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    _assert_same_training(result)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_tensorflow_mirrored_strategy_matches_one_device():
    # Instance normalization: with BatchNorm each replica would normalize
    # with the statistics of its own half of the batch, unlike one device.
    _assert_same_training(_run_child("instance"))


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch's DistributedDataParallel")
@pytest.mark.skip(
    reason="not supported on PyTorch: Keras's torch backend has no distribution "
    "for fit, and torch's DistributedDataParallel all-reduces gradients only when "
    "backward() accumulates them into .grad, while the Pix2Pix step takes each "
    "network's gradients with torch.autograd.grad, which DDP does not support "
    "(docs/multi_device.md)"
)
def test_torch_distributed_data_parallel_matches_one_process():
    """Two gloo processes with half the batch each against one with all."""
