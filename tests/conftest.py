"""Shared fixtures. One Keras backend per process: set KERAS_BACKEND."""

import importlib.util
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_pix2pix import Pix2Pix
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator

BACKEND = keras.backend.backend()
ROOT = pathlib.Path(__file__).resolve().parents[1]


def tiny_pix2pix(
    size=32, channels=1, output_channels=None, filters=8, depth=5, **kwargs
):
    """A small but complete Pix2Pix: a `depth`-block U-Net, 2-layer PatchGAN."""
    output_channels = output_channels or channels
    generator = UNetGenerator(
        input_shape=(size, size, channels),
        output_channels=output_channels,
        filters=filters,
        num_downsampling_blocks=depth,
        **kwargs,
    )
    discriminator = PatchGANDiscriminator(
        input_shape=(size, size, channels),
        target_channels=output_channels,
        filters=filters,
        num_layers=2,
    )
    return Pix2Pix(generator, discriminator)


def toy_pairs(count=16, size=32, channels=1, seed=0):
    """A learnable mapping: blurred blobs -> their negative, flipped."""
    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (count, size // 4, size // 4, channels))
    source = np.repeat(np.repeat(source, 4, axis=1), 4, axis=2).astype("float32")
    target = -source[:, :, ::-1]
    return source, np.ascontiguousarray(target)


def sigkill_when_ready(arguments, ready, env=None, timeout=240):
    """Runs `python *arguments` and SIGKILLs it once it creates `ready`.

    The child's stderr goes to `ready` with a `.log` suffix; the test fails,
    showing it, if the child exits or is not ready within `timeout` seconds.
    """
    log = ready.with_suffix(".log")
    with open(log, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, *map(str, arguments)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if child.poll() is not None:
            pytest.fail(f"the child exited with {child.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child never got ready:\n{log.read_text()}")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL


def weights_of(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.weights]


def trained_layer(make, shape, **attributes):
    """Outputs, then weights after two SGD steps, of the layer `make()` builds.

    `attributes` are set on the built layer first (such as which convolution
    path it takes), so that two calls compare two paths from the same start.
    """
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    keras.utils.set_random_seed(0)
    layer = make()
    layer.build(shape)
    for name, value in attributes.items():
        setattr(layer, name, value)
    model = keras.Sequential([keras.Input(shape[1:]), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    outputs = keras.ops.convert_to_numpy(model(x))
    model.fit(x, np.ones_like(outputs), epochs=2, batch_size=2, verbose=0)
    return outputs, [keras.ops.convert_to_numpy(w) for w in layer.weights]


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def quality():
    """`benchmarks/quality.py`, the quality benchmark, as a module."""
    spec = importlib.util.spec_from_file_location(
        "quality", ROOT / "benchmarks" / "quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
