import keras
import numpy as np
import pytest

from keras_pix2pix.baselines import HistogramMapping
from keras_pix2pix.errors import DataError
from keras_pix2pix.layers import IntensityLookup


def _fitted_mapping():
    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    centre = source[..., 1:2]
    mapping = HistogramMapping(bins=64).fit(centre, np.cos(3 * centre))
    return mapping, source


def test_maps_the_chosen_channel_as_the_histogram_mapping_predicts():
    mapping, source = _fitted_mapping()
    layer = mapping.as_layer(channel=1)
    mapped = keras.ops.convert_to_numpy(layer(source))
    assert mapped.shape == (4, 16, 16, 1)
    np.testing.assert_allclose(mapped, mapping.predict(source[..., 1:2]), atol=1e-6)
    # Out-of-range intensities fall in the end bins.
    ends = keras.ops.convert_to_numpy(layer(np.full((1, 1, 2, 3), [[-5.0], [5.0]])))
    np.testing.assert_allclose(ends.ravel(), mapping.table[[0, -1]])
    assert not layer.trainable_weights


def test_the_table_travels_in_the_model_file(tmp_path):
    mapping, source = _fitted_mapping()
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, mapping.as_layer(channel=1)(inputs))
    model.save(tmp_path / "lookup.keras")
    restored = keras.saving.load_model(tmp_path / "lookup.keras", safe_mode=True)
    np.testing.assert_allclose(
        restored.predict(source, verbose=0), keras.ops.convert_to_numpy(model(source))
    )
    layer = restored.layers[-1]
    assert isinstance(layer, IntensityLookup)
    assert layer.get_config()["channel"] == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.table), mapping.table)


def test_config_round_trip():
    layer = IntensityLookup(bins=8, value_range=(0, 2), channel=2, name="lookup")
    config = layer.get_config()
    assert IntensityLookup.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bins": 0}, "bins"),
        ({"bins": 2.0}, "bins"),
        ({"value_range": (1, -1)}, "value_range"),
        ({"channel": -1}, "channel"),
        ({"bins": 3, "table": [0.0, 1.0]}, "table"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IntensityLookup(**kwargs)


def test_a_channel_the_inputs_lack_is_rejected_when_built():
    with pytest.raises(ValueError, match=r"`channel` = 3 .*\(2 channels\)"):
        IntensityLookup(channel=3)(keras.Input((8, 8, 2)))


def test_an_unfitted_mapping_has_no_layer():
    with pytest.raises(DataError, match="fit"):
        HistogramMapping().as_layer()
