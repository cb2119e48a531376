"""Pix2Pix sample weights: they weight the reconstruction loss, per image or pixel."""

import keras
import numpy as np
import pytest
from conftest import tiny_pix2pix, toy_pairs

from keras_pix2pix.datasets.slice_dataset import PairedSliceDataset
from keras_pix2pix.errors import DataError


def _compiled(seed=0):
    keras.utils.set_random_seed(seed)
    model = tiny_pix2pix()
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.SGD(0.0))
    return model


def _left_half(count, size=32):
    weight = np.zeros((count, size, size), np.float32)
    weight[:, :, : size // 2] = 1.0
    return weight


def test_weights_scale_the_reconstruction_loss_per_image_or_pixel():
    source, target = toy_pairs(count=4)
    model = _compiled()
    fake = keras.ops.convert_to_numpy(model(source, training=False))  # its mode
    logits = model.discriminator([source, fake], training=False)
    error = np.abs(target - fake)[..., 0]
    per_image = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    for weight, pixel in (
        (_left_half(4), _left_half(4)),
        (_left_half(4)[..., None], _left_half(4)),
        (per_image, np.broadcast_to(per_image[:, None, None], error.shape)),
        (None, np.ones_like(error)),
    ):
        if weight is not None:
            weight = keras.ops.convert_to_tensor(weight)
        losses = model.generator_losses(logits, target, fake, weight)
        expected = np.mean(error * pixel)
        got = float(keras.ops.convert_to_numpy(losses["reconstruction_loss"]))
        assert got == pytest.approx(expected, rel=1e-4)
    # `evaluate` passes the weights to the step.
    logs = model.evaluate(
        source,
        target,
        sample_weight=_left_half(4),
        batch_size=4,
        verbose=0,
        return_dict=True,
    )
    expected = np.mean(error * _left_half(4))
    assert logs["reconstruction_loss"] == pytest.approx(expected, rel=1e-4)


def test_pixels_of_weight_zero_do_not_train_the_generator():
    # The discriminator is frozen, so the target reaches the generator only
    # through the reconstruction loss: changing it where the weight is zero
    # must not change the generator's step; changing it elsewhere must.
    source, target = toy_pairs(count=4)
    weight = _left_half(4)
    changed_right, changed_left = target.copy(), target.copy()
    changed_right[:, :, 16:] = -changed_right[:, :, 16:]
    changed_left[:, :, :16] = -changed_left[:, :, :16]
    generators = []
    for images in (target, changed_right, changed_left):
        model = _compiled()
        model.fit(
            source, images, sample_weight=weight, batch_size=4, epochs=2, verbose=0
        )
        generators.append(
            [keras.ops.convert_to_numpy(v) for v in model.generator.weights]
        )
    for a, b in zip(generators[0], generators[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(
        not np.allclose(a, c, atol=1e-4)
        for a, c in zip(generators[0], generators[2], strict=True)
    )


def test_the_weighted_loss_falls_on_a_dataset_of_weighted_slices():
    source, target = toy_pairs(count=8)
    dataset = PairedSliceDataset(
        source, target, sample_weight=_left_half(8), batch_size=4, seed=0
    )
    model = _compiled()
    model.compile(keras.optimizers.Adam(5e-3), keras.optimizers.Adam(2e-4))
    history = model.fit(dataset, epochs=20, verbose=0).history["reconstruction_loss"]
    assert history[-1] < 0.4 * history[0]
    fake = model.predict(source, verbose=0)
    error = np.abs(fake - target)[..., 0]
    # It learnt where it was taught, not where the weights were zero.
    assert error[:, :, :16].mean() < 0.5 * error[:, :, 16:].mean()


def test_bad_weights_are_refused_with_their_name():
    source, target = toy_pairs(count=4)
    model = _compiled()
    with pytest.raises(DataError, match=r"`sample_weight` has shape \(4, 31, 32\)"):
        model.fit(source, target, sample_weight=np.ones((4, 31, 32)), verbose=0)
    with pytest.raises(DataError, match=r"`sample_weight` has shape \(3,\)"):
        model.evaluate(source, target, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(DataError, match="non-negative"):
        model.train_on_batch(source, target, sample_weight=-np.ones(4))
    with pytest.raises(DataError, match="`validation sample_weight` must be finite"):
        model.fit(
            source,
            target,
            validation_data=(source, target, np.full(4, np.nan)),
            verbose=0,
        )
