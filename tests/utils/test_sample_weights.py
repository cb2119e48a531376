import numpy as np
import pytest

from keras_pix2pix.errors import DataError
from keras_pix2pix.utils.sample_weights import check_sample_weight


@pytest.mark.parametrize(
    ("channels_last", "images", "good", "bad"),
    [
        (True, (4, 8, 6, 2), [(4,), (4, 8, 6), (4, 8, 6, 1)], [(4, 1, 8, 6), (4, 8)]),
        (False, (4, 2, 8, 6), [(4,), (4, 8, 6), (4, 1, 8, 6)], [(4, 8, 6, 1), (3,)]),
    ],
)
def test_weight_shapes_follow_the_image_layout(channels_last, images, good, bad):
    for shape in good:
        check_sample_weight(np.ones(shape), images, channels_last=channels_last)
    for shape in bad:
        with pytest.raises(DataError, match=r"`w` has shape .* \(4,\) or one per"):
            check_sample_weight(
                np.ones(shape), images, name="w", channels_last=channels_last
            )


def test_only_the_rank_is_checked_without_the_images():
    check_sample_weight(np.ones((3, 5, 7)))
    with pytest.raises(DataError, match=r"\(N,\) or one per pixel \(N, H, W\)"):
        check_sample_weight(np.ones((3, 5)))


@pytest.mark.parametrize("bad", [-0.5, np.nan, np.inf])
def test_negative_or_non_finite_weights_are_refused(bad):
    weight = np.ones((2, 4, 4))
    weight[1, 2, 3] = bad
    with pytest.raises(DataError, match="`sample_weight` must be finite"):
        check_sample_weight(weight, (2, 4, 4, 1))
