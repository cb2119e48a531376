"""NaN / inf losses: training stops at the step, naming it and the loss, and
no checkpoint is ever written from a non-finite state."""

import json

import keras
import numpy as np
import pytest
from conftest import tiny_pix2pix, toy_pairs, weights_of

from keras_pix2pix.callbacks import (
    CheckpointCallback,
    TerminateOnNonFinite,
    latest_checkpoint,
    non_finite_losses,
)


def _batches(bad_step, steps):
    """`steps` batches of 4 toy pairs; the source of batch `bad_step` has a NaN."""
    source, target = toy_pairs(count=8)
    for step in range(1, steps + 1):
        start = 4 * ((step - 1) % 2)
        batch = source[start : start + 4].copy()
        if step == bad_step:
            batch[1, 5, 7, 0] = np.nan
        yield batch, target[start : start + 4]


@pytest.fixture(scope="module")
def _shared():
    """One compiled model and its initial state: compiling (XLA on JAX) once."""
    model = tiny_pix2pix(filters=4)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    variables = [*model.variables, *model.optimizer.variables]
    return model, variables, [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.fixture
def model(_shared):
    """The shared model, back in its initial state (NaN weights undone)."""
    model, variables, values = _shared
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return model


def test_non_finite_losses_checks_only_losses():
    logs = {
        "generator_loss": np.float32("nan"),
        "discriminator_loss": 0.5,
        "psnr": float("inf"),  # a perfect reconstruction: not an error
        "reconstruction_loss": keras.ops.convert_to_tensor(-np.inf),
    }
    found = non_finite_losses(logs)
    assert list(found) == ["generator_loss", "reconstruction_loss"]
    assert np.isnan(found["generator_loss"]) and found["reconstruction_loss"] < 0
    assert non_finite_losses(None) == {}


def test_nan_stops_at_its_step_and_keeps_the_last_good_checkpoint(model, tmp_path):
    stop = TerminateOnNonFinite()
    directory = tmp_path / "checkpoints"
    with pytest.warns(RuntimeWarning, match=r"step 5 \(epoch 3, batch 1\)"):
        history = model.fit(
            _batches(bad_step=5, steps=10),
            epochs=5,
            steps_per_epoch=2,
            callbacks=[stop, CheckpointCallback(directory)],
            verbose=0,
        )
    assert stop.stopped_step == 5 and len(history.epoch) == 3
    assert "generator_loss" in stop.non_finite
    assert "generator_loss=nan" in stop.message and "step 5" in stop.message
    assert latest_checkpoint(directory) == (directory / "epoch_0002.keras", 2)
    assert sorted(p.name for p in directory.iterdir()) == [
        "epoch_0001.keras",
        "epoch_0002.keras",
        "latest.json",
    ]
    good = keras.saving.load_model(directory / "epoch_0002.keras", safe_mode=True)
    assert int(keras.ops.convert_to_numpy(good.optimizer.iterations)) == 4
    assert all(np.isfinite(w).all() for w in weights_of(good))


def test_checkpoints_skip_non_finite_epochs_without_the_stop(model, tmp_path):
    directory = tmp_path / "checkpoints"
    with pytest.warns(RuntimeWarning, match=r"Not saving epoch_0002\.keras.*loss"):
        model.fit(
            _batches(bad_step=3, steps=6),
            epochs=3,
            steps_per_epoch=2,
            callbacks=[CheckpointCallback(directory)],
            verbose=0,
        )
    assert latest_checkpoint(directory) == (directory / "epoch_0001.keras", 1)
    record = json.loads((directory / "latest.json").read_text())
    assert record == {"epoch": 1, "file": "epoch_0001.keras"}


def test_checkpoints_skip_non_finite_weights(model, tmp_path):
    class Poison(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                variable = self.model.generator.trainable_variables[0]
                variable.assign(keras.ops.full(variable.shape, np.inf))

    source, target = toy_pairs(count=4)
    directory = tmp_path / "checkpoints"
    with pytest.warns(RuntimeWarning, match=r"epoch_0002.*weight .*kernel"):
        model.fit(
            source,
            target,
            batch_size=4,
            epochs=2,
            callbacks=[Poison(), CheckpointCallback(directory)],
            verbose=0,
        )
    assert latest_checkpoint(directory) == (directory / "epoch_0001.keras", 1)


def test_cli_train_stops_on_nan_and_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    from keras_pix2pix import cli
    from keras_pix2pix.datasets import PairedSliceDataset

    batch = PairedSliceDataset.__getitem__

    def nan_from_epoch_2(self, index):
        """The CLI's batches, with a NaN source pixel in each from epoch 2."""
        source, target = batch(self, index)
        # Keras's fit reads one batch to build the model, then resets the
        # dataset (`on_epoch_end`): fit's second epoch is the dataset's third.
        if self.epoch >= 2:
            source = np.array(source)
            source.flat[0] = np.nan
        return source, target

    monkeypatch.setattr(PairedSliceDataset, "__getitem__", nan_from_epoch_2)
    output = tmp_path / "run"
    tiny = [
        "--dataset", "phantom", "--image-size", "32", "--subjects", "1",
        "--slices-per-subject", "8", "--filters", "4",
        "--discriminator-layers", "2", "--batch-size", "4", "--steps", "2",
        "--verbose", "0", "--epochs", "3", "--output", str(output),
    ]  # fmt: skip
    with pytest.warns(RuntimeWarning, match=r"step 3 \(epoch 2, batch 1\)"):
        assert cli.main(["train", *tiny]) == 1
    error = capsys.readouterr().err
    assert "Training stopped at step 3" in error and "epoch_0001.keras" in error
    assert latest_checkpoint(output / "checkpoints")[1] == 1
    assert not (output / "model.keras").exists()
