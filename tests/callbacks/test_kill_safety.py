"""Checkpoints survive SIGKILL and a full disk: the last complete checkpoint
loads, no partial file is trusted, and resuming reaches the weights of an
uninterrupted run (bit-for-bit up to float rounding: every backend is
deterministic on CPU, in another process too). The kill during the write of
`latest.json` is in the opt-in `soak` set (`pytest -m soak`)."""

import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from _train_child import BATCH_SIZE, EPOCHS, reference_data, reference_model
from conftest import sigkill_when_ready, weights_of

from keras_pix2pix.callbacks import CheckpointCallback, latest_checkpoint
from keras_pix2pix.errors import CheckpointError, Pix2PixError

CHILD = pathlib.Path(__file__).with_name("_train_child.py")


def _iterations(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def _fit(model, epochs, initial_epoch=0, callbacks=()):
    source, target = reference_data()
    model.fit(
        source,
        target,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        callbacks=list(callbacks),
        verbose=0,
    )


@pytest.fixture(scope="module")
def uninterrupted():
    """Weights after each epoch of the run the child makes, uninterrupted."""
    model = reference_model()
    after = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            after[epoch + 1] = weights_of(self.model)

    _fit(model, EPOCHS, callbacks=[Record()])
    return after


def _assert_same_weights(actual, expected):
    for a, b in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def child_environment(tmp_path_factory):
    """The children's environment: this backend, and a JAX compilation cache
    they share (building and training compile ~30 s on JAX; 4 s with it):
    the run's own cache if it has one (nox sets one), else a new one."""
    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or tmp_path_factory.mktemp(
        "jax-cache"
    )
    return {
        **os.environ,
        "KERAS_BACKEND": keras.backend.backend(),
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


@pytest.mark.parametrize(
    ("mode", "leftover"),
    [
        ("mid-epoch", None),
        ("mid-write", ".epoch_0003.tmp-"),
        pytest.param("mid-record", ".latest.tmp-", marks=pytest.mark.soak),
    ],
)
def test_sigkill_leaves_a_resumable_checkpoint(
    tmp_path, uninterrupted, child_environment, mode, leftover
):
    checkpoints = tmp_path / "checkpoints"
    sigkill_when_ready(
        [CHILD, checkpoints, tmp_path / "ready", mode],
        tmp_path / "ready",
        env=child_environment,
    )

    names = sorted(p.name for p in checkpoints.iterdir())
    temporary = [name for name in names if ".tmp-" in name]
    assert [name[: len(leftover)] for name in temporary] == (
        [leftover] if leftover else []
    )
    complete = ["epoch_0001.keras", "epoch_0002.keras"]
    if mode == "mid-record":  # renamed whole before the kill, not yet recorded
        complete.append("epoch_0003.keras")
    assert sorted(set(names) - set(temporary)) == [*complete, "latest.json"]
    assert json.loads((checkpoints / "latest.json").read_text())["epoch"] == 2

    path, epoch = latest_checkpoint(checkpoints)
    assert (path.name, epoch) == ("epoch_0002.keras", 2)
    model = keras.saving.load_model(path, safe_mode=True)
    assert _iterations(model) == 2 * epoch
    _assert_same_weights(weights_of(model), uninterrupted[epoch])

    _fit(
        model, EPOCHS, initial_epoch=epoch, callbacks=[CheckpointCallback(checkpoints)]
    )
    assert _iterations(model) == 2 * EPOCHS
    _assert_same_weights(weights_of(model), uninterrupted[EPOCHS])
    assert latest_checkpoint(checkpoints) == (checkpoints / "epoch_0004.keras", 4)
    assert not [p for p in checkpoints.iterdir() if ".tmp-" in p.name]


@pytest.fixture
def one_checkpoint(tmp_path):
    """A model trained one epoch, and its checkpoint folder's bytes."""
    model = reference_model()
    directory = tmp_path / "checkpoints"
    _fit(model, 1, callbacks=[CheckpointCallback(directory)])
    files = {p.name: p.read_bytes() for p in directory.iterdir()}
    return model, directory, files


def test_disk_full_while_saving_keeps_the_previous_checkpoint(one_checkpoint):
    model, directory, before = one_checkpoint

    def disk_full(filepath, *args, **kwargs):
        pathlib.Path(filepath).write_bytes(b"PK\x03\x04 cut short")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))

    model.save = disk_full
    with pytest.raises(CheckpointError) as info:
        _fit(model, 2, initial_epoch=1, callbacks=[CheckpointCallback(directory)])
    error = info.value
    assert isinstance(error, OSError) and isinstance(error, Pix2PixError)
    assert error.errno == errno.ENOSPC
    message = str(error)
    assert str(directory / "epoch_0002.keras") in message
    assert "No space left on device" in message and "intact" in message
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    path, epoch = latest_checkpoint(directory)
    assert epoch == 1
    assert _iterations(keras.saving.load_model(path, safe_mode=True)) == 2


def test_disk_full_while_recording_keeps_the_record(one_checkpoint, monkeypatch):
    model, directory, before = one_checkpoint
    write_text = pathlib.Path.write_text

    def disk_full(self, text, *args, **kwargs):
        if self.name.startswith(".latest.tmp-"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", disk_full)
    with pytest.raises(CheckpointError, match=r"epoch_0002\.keras: No space left"):
        _fit(model, 2, initial_epoch=1, callbacks=[CheckpointCallback(directory)])
    assert (directory / "latest.json").read_bytes() == before["latest.json"]
    assert latest_checkpoint(directory) == (directory / "epoch_0001.keras", 1)
    assert not [p for p in directory.iterdir() if ".tmp-" in p.name]


def test_too_little_free_space_fails_before_training(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: usage._replace(free=100 * 1024)
    )
    model = reference_model()
    with pytest.raises(CheckpointError, match=r"0\.1 MiB free.*needs at least") as info:
        _fit(model, 1, callbacks=[CheckpointCallback(tmp_path / "ckpt")])
    assert info.value.errno == errno.ENOSPC and str(tmp_path / "ckpt") in str(
        info.value
    )
    assert _iterations(model) == 0


def test_unwritable_folder_is_a_checkpoint_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = reference_model()
    with pytest.raises(CheckpointError, match=r"Cannot write checkpoints to .*file"):
        _fit(model, 1, callbacks=[CheckpointCallback(blocker / "ckpt")])
    assert _iterations(model) == 0


@pytest.mark.soak
def test_sigkill_at_random_moments(tmp_path, uninterrupted, child_environment):
    """Kills at random moments of whole runs: whatever survives is consistent."""
    rng = np.random.default_rng(0)
    for attempt in range(8):
        checkpoints = tmp_path / f"run-{attempt}"
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(checkpoints), str(tmp_path / "r"), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_environment,
        )
        while not (checkpoints / "latest.json").exists() and child.poll() is None:
            time.sleep(0.01)  # the first checkpoint: then kill within ~2 epochs
        time.sleep(rng.uniform(0, 3))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        found = latest_checkpoint(checkpoints)
        assert found is not None
        path, epoch = found
        model = keras.saving.load_model(path, safe_mode=True)
        assert _iterations(model) == 2 * epoch
        _assert_same_weights(weights_of(model), uninterrupted[epoch])
