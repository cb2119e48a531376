"""Soak: many short fit / checkpoint / load / resume cycles in one process
do not grow its memory. Opt-in (`pytest -m soak -s`): a few minutes each.

The resident set size (VmRSS) is read after each cycle; after `WARMUP`
cycles (caches, allocator pools and traced functions settle) it must grow by
less than `BOUND_MIB` over the remaining cycles.

Measured on CPU (40 cycles, growth after 10 warm-up cycles): torch 0.0 MiB
in both tests; TensorFlow 9.5 MiB (0.34 MiB/cycle) training one model, but
about 14 MiB per *loaded and trained* model, which TensorFlow keeps (its traced
train functions; a plain Keras model loses 3 MiB per cycle the same way, and
`keras.backend.clear_session()` does not return it). So on TensorFlow the
resume test bounds the growth per cycle instead: resume in a fresh process
(as `keras-pix2pix train --resume` does) rather than in a loop.
"""

import gc
import pathlib

import keras
import numpy as np
import pytest
from conftest import tiny_pix2pix, toy_pairs

from keras_pix2pix.callbacks import CheckpointCallback, latest_checkpoint

pytestmark = pytest.mark.soak

CYCLES = 40
WARMUP = 10
BOUND_MIB = 48
TENSORFLOW_MIB_PER_LOADED_MODEL = 20


def _rss_mib():
    status = pathlib.Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc/self/status (Linux)")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no VmRSS in /proc/self/status")


def _cycles(directory, resume):
    """RSS after each cycle; `resume`: go on training the loaded model."""
    source, target = toy_pairs(count=8)
    model = tiny_pix2pix(filters=4)
    model.compile()
    rss = []
    for cycle in range(CYCLES):
        model.fit(
            source,
            target,
            batch_size=4,
            epochs=cycle + 1,
            initial_epoch=cycle,
            callbacks=[CheckpointCallback(directory, keep=2)],
            verbose=0,
        )
        path, epoch = latest_checkpoint(directory)
        assert epoch == cycle + 1
        loaded = keras.saving.load_model(path, safe_mode=True)
        if resume:
            model = loaded
        del loaded
        gc.collect()
        rss.append(_rss_mib())
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2 * CYCLES
    growth = rss[-1] - rss[WARMUP - 1]
    slope = np.polyfit(np.arange(WARMUP, CYCLES), rss[WARMUP:], 1)[0]
    print(
        f"\n{keras.backend.backend()} ({'resume' if resume else 'one model'}): "
        f"RSS {rss[0]:.0f} MiB after cycle 1, {rss[WARMUP - 1]:.0f} after "
        f"warm-up ({WARMUP}), {rss[-1]:.0f} after {CYCLES}; growth after "
        f"warm-up {growth:.1f} MiB, {slope:.2f} MiB/cycle"
    )
    return growth, slope, rss


def test_training_and_checkpointing_do_not_grow_memory(tmp_path):
    growth, _, rss = _cycles(tmp_path / "checkpoints", resume=False)
    assert growth < BOUND_MIB, rss


def test_resume_cycles_do_not_grow_memory(tmp_path):
    growth, slope, rss = _cycles(tmp_path / "checkpoints", resume=True)
    if keras.backend.backend() == "tensorflow":
        assert slope < TENSORFLOW_MIB_PER_LOADED_MODEL, rss
    else:
        assert growth < BOUND_MIB, rss
