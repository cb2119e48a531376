"""Convolutions on channels-last views (torch backend) equal Keras's."""

import numpy as np
import pytest
from conftest import BACKEND, trained_layer
from keras import ops

from keras_pix2pix.layers._kernel_layout import Conv2D, Conv2DTranspose
from keras_pix2pix.layers._torch_conv import (
    conv_on_views,
    transposed_conv_crops,
    transposed_conv_on_views,
    use_torch_views,
)

on_torch = pytest.mark.skipif(
    BACKEND != "torch", reason="convolutions run on views only on the torch backend"
)


@on_torch
@pytest.mark.parametrize(
    "shape, kernel_size, strides, padding",
    [
        ((2, 8, 8, 3), (4, 4), (2, 2), "same"),  # symmetric: torch pads
        ((2, 9, 7, 3), (4, 4), (2, 2), "same"),  # uneven: padded first
        ((1, 8, 8, 2), (4, 4), (1, 1), "same"),  # (1, 2): uneven at stride 1
        ((1, 8, 8, 2), (3, 3), (1, 1), "same"),
        ((1, 9, 10, 2), (4, 3), (2, 1), "valid"),
        ((1, 6, 6, 2), (1, 1), (1, 1), "valid"),
    ],
)
def test_conv_on_views_equals_the_convolution(shape, kernel_size, strides, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(*kernel_size, shape[-1], 5)).astype("float32")
    outputs = conv_on_views(ops.convert_to_tensor(x), kernel, strides, padding)
    assert outputs.is_contiguous()  # channels-last memory, no copy needed
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs),
        ops.convert_to_numpy(ops.conv(x, kernel, strides, padding=padding)),
        atol=2e-5,
    )


@on_torch
@pytest.mark.parametrize(
    "shape, kernel_size, strides, padding",
    [
        ((2, 5, 7, 6), (4, 4), (2, 2), "same"),
        ((1, 1, 1, 4), (4, 4), (2, 2), "same"),
        ((1, 6, 5, 4), (3, 3), (1, 1), "same"),
        ((1, 6, 5, 4), (2, 2), (2, 2), "same"),
        ((1, 4, 5, 4), (4, 3), (2, 1), "valid"),
    ],
)
def test_transposed_conv_on_views_equals_the_transposed_convolution(
    shape, kernel_size, strides, padding
):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(*kernel_size, 3, shape[-1])).astype("float32")
    bias = rng.normal(size=(3,)).astype("float32")
    crops = transposed_conv_crops(kernel_size, strides, padding)
    outputs = transposed_conv_on_views(
        ops.convert_to_tensor(x), kernel, bias, strides, crops
    )
    expected = ops.conv_transpose(x, kernel, strides, padding=padding) + bias
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), ops.convert_to_numpy(expected), atol=2e-5
    )


def test_uneven_transposed_crops_are_left_to_keras():
    assert transposed_conv_crops((4, 4), (2, 2), "same") == (1, 1)
    assert transposed_conv_crops((3, 3), (2, 2), "same") is None  # 1 crop: uneven
    assert transposed_conv_crops((1, 1), (2, 2), "valid") is None  # kernel < stride


@on_torch
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv2D(4, 4, strides=2, padding="same"), (2, 8, 8, 3)),
        (lambda: Conv2D(4, 4, padding=1, use_bias=True), (2, 7, 7, 3)),
        (lambda: Conv2D(4, 3, padding="valid", activation="relu"), (2, 7, 7, 3)),
        (lambda: Conv2DTranspose(4, 4, strides=2, padding="same"), (2, 4, 4, 3)),
        (lambda: Conv2DTranspose(4, 3, padding="valid"), (2, 4, 4, 3)),
    ],
)
def test_layers_on_views_match_the_keras_layers(make, shape):
    """Outputs, and weights after two SGD steps, as with Keras's own op."""
    outputs, weights = trained_layer(make, shape, _on_views=False)
    view_outputs, view_weights = trained_layer(make, shape, _on_views=True)
    np.testing.assert_allclose(view_outputs, outputs, atol=1e-5)
    for got, expected in zip(view_weights, weights, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_views_are_used_exactly_on_torch():
    expected = BACKEND == "torch"
    assert use_torch_views() == expected
    conv = Conv2D(2, 4, strides=2, padding="same")
    conv.build((1, 8, 8, 3))
    uneven = Conv2DTranspose(2, 3, strides=2, padding="same")
    uneven.build((1, 8, 8, 3))
    assert conv._on_views == expected
    assert not uneven._on_views
