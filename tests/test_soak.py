"""Soak: many short fit / checkpoint / load / resume cycles in one process
do not grow its memory. Opt-in (`pytest -m soak -s`): a few minutes.

Each cycle trains one epoch of a tiny Pix2Pix, checkpoints it with
`CheckpointCallback`, loads the checkpoint back (`keras.saving.load_model`)
and goes on training the loaded model, as a resumed run does. The resident
set size (VmRSS) is read after each cycle; after `WARMUP` cycles (caches,
allocator pools and traced functions settle) it must grow by less than
`BOUND_MIB` over the remaining cycles.
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


def _rss_mib():
    status = pathlib.Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc/self/status (Linux)")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no VmRSS in /proc/self/status")


def test_fit_save_load_resume_cycles_do_not_grow_memory(tmp_path):
    source, target = toy_pairs(count=8)
    directory = tmp_path / "checkpoints"
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
        model = keras.saving.load_model(path, safe_mode=True)
        gc.collect()
        rss.append(_rss_mib())
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    assert steps == 2 * CYCLES
    growth = rss[-1] - rss[WARMUP - 1]
    slope = np.polyfit(np.arange(WARMUP, CYCLES), rss[WARMUP:], 1)[0]
    print(
        f"\n{keras.backend.backend()}: RSS {rss[0]:.0f} MiB after cycle 1, "
        f"{rss[WARMUP - 1]:.0f} after warm-up ({WARMUP}), {rss[-1]:.0f} after "
        f"{CYCLES}; growth after warm-up {growth:.1f} MiB, "
        f"{slope:.2f} MiB/cycle"
    )
    assert growth < BOUND_MIB, rss
