import keras
import numpy as np
import pytest
from conftest import toy_pairs

from keras_pix2pix import Pix2Pix
from keras_pix2pix.baselines import HistogramMapping
from keras_pix2pix.layers import IntensityLookup
from keras_pix2pix.models import (
    PatchGANDiscriminator,
    PriorResidualGenerator,
    UNetGenerator,
)


def _generator(channels=2, filters=4):
    return UNetGenerator(
        input_shape=(16, 16, channels),
        output_channels=1,
        filters=filters,
        num_downsampling_blocks=4,
    )


def _pairs():
    """Two-channel sources (the centre one second) and one-channel targets."""
    source, target = toy_pairs(count=8, size=16, channels=2)
    return source, target[..., 1:2]


def test_a_zero_correction_gives_the_prior_and_outputs_stay_in_range():
    source, target = _pairs()
    mapping = HistogramMapping(bins=32).fit(source[..., 1:2], target)
    generator = PriorResidualGenerator(_generator(3), mapping.as_layer(channel=1))
    assert tuple(generator.input_shape) == (None, 16, 16, 2)
    assert tuple(generator.output_shape) == (None, 16, 16, 1)
    output_conv = generator.network.get_layer("output_conv")
    for weight in output_conv.weights:
        weight.assign(keras.ops.zeros(weight.shape))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(generator(source)),
        mapping.predict(source[..., 1:2]),
        atol=1e-6,
    )
    saturated = PriorResidualGenerator(
        _generator(3), IntensityLookup(bins=2, channel=1, table=[1.0, 1.0])
    )
    fake = keras.ops.convert_to_numpy(saturated(source, training=True))
    assert fake.max() <= 1.0 and fake.min() >= 0.0


def test_trains_in_pix2pix_and_round_trips_through_a_keras_file(tmp_path):
    source, target = _pairs()
    mapping = HistogramMapping(bins=32).fit(source[..., 1:2], target)
    generator = PriorResidualGenerator(_generator(3), mapping.as_layer(channel=1))
    discriminator = PatchGANDiscriminator(
        input_shape=(16, 16, 2), target_channels=1, filters=4, num_layers=2
    )
    model = Pix2Pix(generator, discriminator)
    model.compile(
        generator_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        reconstruction_loss="l2",
    )
    table = keras.ops.convert_to_numpy(generator.prior.table).copy()
    history = model.fit(source, target, batch_size=2, epochs=6, verbose=0).history
    losses = history["reconstruction_loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(generator.prior.table), table
    )
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert isinstance(restored.generator, PriorResidualGenerator)
    np.testing.assert_allclose(
        restored.predict(source, verbose=0),
        model.predict(source, verbose=0),
        atol=1e-6,
    )


def test_a_network_without_the_extra_channel_is_rejected():
    with pytest.raises(ValueError, match="plus one"):
        PriorResidualGenerator(_generator(1), IntensityLookup())


def test_a_prior_with_other_channels_than_the_target_is_rejected():
    prior = keras.layers.Conv2D(2, 1)
    with pytest.raises(ValueError, match="2 channels"):
        PriorResidualGenerator(_generator(3), prior)
