"""Callbacks: sample grids, atomic checkpoints and resuming, LR schedule,
and Keras's own callbacks working with Pix2Pix unchanged."""

import importlib.util
import json

import keras
import numpy as np
import pytest
from conftest import tiny_pix2pix, toy_pairs, weights_of
from PIL import Image

from keras_pix2pix.callbacks import (
    CheckpointCallback,
    SampleGridCallback,
    latest_checkpoint,
)
from keras_pix2pix.schedules import LinearDecay
from keras_pix2pix.utils import render_sample_grid


def test_sample_grid_callback_writes_every_n_epochs(tmp_path):
    source, target = toy_pairs(count=8)
    model = tiny_pix2pix()
    model.compile()
    callback = SampleGridCallback(source[:3], target[:3], tmp_path / "samples", every=2)
    model.fit(source, target, batch_size=4, epochs=4, callbacks=[callback], verbose=0)
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["samples_epoch_0002.png", "samples_epoch_0004.png"]
    image = np.asarray(Image.open(tmp_path / "samples" / names[-1]))
    expected = render_sample_grid(
        source[:3], target[:3], model.predict(source[:3], verbose=0)
    )
    assert image.shape == expected.shape and image.shape[0] > 3 * 128  # 32 px x 4
    # The four columns of tiles and titles; the row titles' PSNR may differ in
    # its last digit between `predict` and `predict_on_batch`.
    columns = np.s_[:, -4 * 128 :]
    assert np.abs(image[columns].astype(int) - expected[columns]).max() <= 1


def test_checkpoints_are_atomic_pruned_and_resume_exactly(tmp_path):
    source, target = toy_pairs(count=8)
    directory = tmp_path / "checkpoints"

    def fresh():
        keras.utils.set_random_seed(3)
        model = tiny_pix2pix()
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        return model

    uninterrupted = fresh()
    uninterrupted.fit(source, target, batch_size=4, epochs=4, shuffle=False, verbose=0)

    model = fresh()
    callback = CheckpointCallback(directory, keep=2)
    model.fit(
        source,
        target,
        batch_size=4,
        epochs=3,
        shuffle=False,
        callbacks=[callback],
        verbose=0,
    )
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["epoch_0002.keras", "epoch_0003.keras", "latest.json"]
    path, epoch = latest_checkpoint(directory)
    assert (path.name, epoch) == ("epoch_0003.keras", 3)

    resumed = keras.saving.load_model(path)
    assert int(resumed.optimizer.iterations) == 6
    resumed.fit(
        source,
        target,
        batch_size=4,
        epochs=4,
        initial_epoch=epoch,
        shuffle=False,
        verbose=0,
    )
    for a, b in zip(weights_of(resumed), weights_of(uninterrupted), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_latest_checkpoint_survives_a_lost_record(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    (tmp_path / "epoch_0001.keras").write_bytes(b"x")
    (tmp_path / "epoch_0005.keras").write_bytes(b"x")
    (tmp_path / ".epoch_0006.tmp-1234abcd.keras").write_bytes(b"partial")
    (tmp_path / "latest.json").write_text("{not json")
    assert latest_checkpoint(tmp_path) == (tmp_path / "epoch_0005.keras", 5)
    (tmp_path / "latest.json").write_text(
        json.dumps({"epoch": 1, "file": "epoch_0001.keras"})
    )
    assert latest_checkpoint(tmp_path) == (tmp_path / "epoch_0001.keras", 1)


def test_unwritable_checkpoint_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = tiny_pix2pix()
    model.compile()
    source, target = toy_pairs(count=4)
    with pytest.raises(OSError, match="Cannot write checkpoints"):
        model.fit(
            source,
            target,
            epochs=1,
            callbacks=[CheckpointCallback(blocker / "ckpt")],
            verbose=0,
        )
    assert int(model.optimizer.iterations) == 0


def test_linear_decay_matches_the_reference_rule():
    schedule = LinearDecay(1.0, constant_epochs=2, decay_epochs=3, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in range(0, 60, 10)]
    np.testing.assert_allclose(rates, [1.0, 1.0, 0.75, 0.5, 0.25, 0.0])
    assert float(schedule(19)) == 1.0
    clone = LinearDecay.from_config(schedule.get_config())
    assert float(clone(30)) == 0.5


def test_linear_decay_drives_both_optimizers_and_survives_saving(tmp_path):
    source, target = toy_pairs(count=8)
    model = tiny_pix2pix()
    model.compile(
        keras.optimizers.Adam(LinearDecay(1e-3, 1, 2, steps_per_epoch=2)),
        keras.optimizers.Adam(LinearDecay(1e-3, 1, 2, steps_per_epoch=2)),
    )
    model.fit(source, target, batch_size=4, epochs=2, verbose=0)
    for optimizer in (model.generator_optimizer, model.discriminator_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(1e-3 / 3)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert float(restored.generator_optimizer.learning_rate) == pytest.approx(1e-3 / 3)


def test_keras_callbacks_work_unchanged(tmp_path):
    source, target = toy_pairs(count=8)
    model = tiny_pix2pix()
    model.compile()
    callbacks = [
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.EarlyStopping(
            monitor="val_reconstruction_loss", mode="min", patience=0
        ),
        keras.callbacks.TerminateOnNaN(),
    ]
    if all(importlib.util.find_spec(m) for m in ("tensorflow", "tensorboard")):
        callbacks.append(keras.callbacks.TensorBoard(str(tmp_path / "tensorboard")))
    model.fit(
        source,
        target,
        batch_size=4,
        epochs=3,
        validation_data=(source, target),
        callbacks=callbacks,
        verbose=0,
    )
    header, *rows = (tmp_path / "log.csv").read_text().splitlines()
    assert "val_reconstruction_loss" in header and "discriminator_loss" in header
    assert 1 <= len(rows) <= 3
