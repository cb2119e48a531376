"""Pix2Pix inference modes: eval, per_image and train."""

import pathlib

import keras
import numpy as np
import pytest
from conftest import tiny_pix2pix, toy_pairs

from keras_pix2pix import Pix2Pix

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _moving(model):
    return [
        keras.ops.convert_to_numpy(v).copy()
        for v in model.generator.non_trainable_variables
        if v.name in ("moving_mean", "moving_variance")
    ]


def _channels_first(images):
    if keras.config.image_data_format() == "channels_first":
        return np.ascontiguousarray(np.moveaxis(images, -1, 1))
    return images


def test_per_image_is_training_batchnorm_on_each_image_alone():
    source, target = (_channels_first(a) for a in toy_pairs(count=6))
    model = tiny_pix2pix(dropout=0.0)  # train mode's dropout aside, same function
    model.fit(source, target, batch_size=2, epochs=1, verbose=0)
    per_image = Pix2Pix.from_config(
        {**model.get_config(), "inference_mode": "per_image"}
    )
    per_image.set_weights(model.get_weights())
    moving = _moving(per_image)
    batched = per_image.predict(source, batch_size=6, verbose=0)
    alone = np.concatenate(
        [per_image.predict(source[i : i + 1], verbose=0) for i in range(6)]
    )
    np.testing.assert_allclose(batched, alone, atol=2e-5)  # batch-size independent
    np.testing.assert_allclose(
        per_image.predict(source, batch_size=3, verbose=0), batched, atol=2e-5
    )  # deterministic
    for i in range(3):  # = BatchNorm in training mode on a batch of one image
        one = model.generator(source[i : i + 1], training=True)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(one), batched[i : i + 1], atol=2e-5
        )
    for before, after in zip(moving, _moving(per_image), strict=True):
        np.testing.assert_array_equal(before, after)
    evaluated = Pix2Pix.from_config({**model.get_config(), "inference_mode": "eval"})
    evaluated.set_weights(model.get_weights())
    moving_averages = evaluated.predict(source, verbose=0)  # another function
    assert np.abs(moving_averages - batched).max() > 1e-3


def test_inference_mode_is_saved_and_checked(tmp_path):
    model = tiny_pix2pix()
    model = Pix2Pix(model.generator, model.discriminator, inference_mode="per_image")
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.inference_mode == "per_image"
    with pytest.raises(ValueError, match="inference_mode"):
        Pix2Pix(model.generator, model.discriminator, inference_mode="batch")


def test_per_image_evaluate_matches_its_predict():
    source, target = (_channels_first(a) for a in toy_pairs(count=4))
    model = tiny_pix2pix(dropout=0.0)
    model = Pix2Pix(model.generator, model.discriminator, inference_mode="per_image")
    model.compile(metrics=["mae"])
    fake = model.predict(source, verbose=0)
    scores = model.evaluate(source, target, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(scores["mae"], np.mean(np.abs(fake - target)), rtol=1e-4)


def test_the_default_is_per_image_as_documented_and_old_files_keep_eval():
    model = tiny_pix2pix()
    assert model.inference_mode == "per_image"
    training_page = (ROOT / "docs" / "training.md").read_text()
    assert '| `"per_image"` (default) |' in training_page
    # A config saved before `inference_mode` existed predicted with the
    # moving averages, and still does.
    config = model.get_config()
    del config["inference_mode"]
    assert Pix2Pix.from_config(config).inference_mode == "eval"
