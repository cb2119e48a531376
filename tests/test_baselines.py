import numpy as np
import pytest

from keras_pix2pix.baselines import HistogramMapping
from keras_pix2pix.errors import DataError


def test_learns_a_non_monotonic_intensity_mapping():
    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (4, 32, 32, 1))
    target = np.cos(3 * source)  # tissues swap order, as in T1 -> T2
    mapping = HistogramMapping(bins=128).fit(source, target)
    held_out = rng.uniform(-1, 1, (2, 32, 32, 1))
    predicted = mapping.predict(held_out)
    assert predicted.shape == held_out.shape and predicted.dtype == np.float32
    # Within the change of cos(3x) across one bin of width 2/128.
    assert np.abs(predicted - np.cos(3 * held_out)).max() < 3 * 2 / 128


def test_predicts_the_mean_target_of_each_bin_and_fills_empty_bins():
    source = np.array([-1.0, -1.0, 1.0])
    target = np.array([0.0, 0.5, 1.0])
    mapping = HistogramMapping(bins=4).fit(source, target)
    np.testing.assert_allclose(mapping.table, [0.25, 0.5, 0.75, 1.0])
    # Out-of-range sources fall in the end bins.
    np.testing.assert_allclose(mapping.predict(np.array([-5.0, 5.0])), [0.25, 1.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bins": 0}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"value_range": (1, 0)}, "value"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(DataError, match=match):
        HistogramMapping(**kwargs)


def test_bad_data():
    with pytest.raises(DataError, match="shape"):
        HistogramMapping().fit(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(DataError, match="finite"):
        HistogramMapping().fit(np.array([np.nan]), np.array([0.0]))
    with pytest.raises(DataError, match="fit"):
        HistogramMapping().predict(np.zeros(3))
