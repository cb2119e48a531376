import keras
import numpy as np
import pytest
from conftest import trained_layer
from keras import ops

from keras_pix2pix.layers._kernel_layout import Conv2D, Conv2DTranspose
from keras_pix2pix.layers._matmul_conv import (
    conv_by_matmul,
    kernel_first,
    transposed_conv_by_matmul,
    use_matmuls,
)


@pytest.mark.parametrize(
    "shape, kernel_size, strides, padding",
    [
        ((2, 9, 7, 3), (4, 4), (2, 2), "same"),  # odd sizes: uneven padding
        ((2, 8, 8, 3), (4, 4), (1, 1), "same"),
        ((1, 8, 8, 2), (3, 3), (1, 1), "same"),
        ((1, 9, 10, 2), (4, 3), (2, 1), "valid"),
        ((1, 6, 6, 2), (1, 1), (1, 1), "valid"),
        ((1, 10, 10, 2), (7, 7), (1, 1), "valid"),
    ],
)
def test_conv_by_matmul_equals_the_convolution(shape, kernel_size, strides, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(*kernel_size, shape[-1], 5)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(conv_by_matmul(x, kernel, strides, padding)),
        ops.convert_to_numpy(ops.conv(x, kernel, strides, padding=padding)),
        atol=2e-5,
    )


@pytest.mark.parametrize(
    "shape, out_channels, by_kernel_first",
    [
        ((2, 5, 7, 6), 3, False),  # images larger than the kernel
        ((1, 8, 8, 3), 3, False),
        ((1, 1, 1, 4), 3, True),
        ((1, 2, 3, 64), 16, True),  # a kernel larger than the images
        ((2, 1, 1, 32), 8, True),
    ],
)
def test_transposed_conv_by_matmul_equals_the_transposed_convolution(
    shape, out_channels, by_kernel_first
):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=(4, 4, out_channels, shape[-1])).astype("float32")
    assert kernel_first(shape, kernel.shape) == by_kernel_first
    expected = ops.convert_to_numpy(ops.conv_transpose(x, kernel, 2, padding="same"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(transposed_conv_by_matmul(x, kernel)),
        expected,
        # Float32 rounding grows with the sums: the wide cases' outputs reach 53.
        atol=max(2e-5, 1e-6 * np.abs(expected).max()),
    )


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv2D(4, 4, strides=2, padding="same"), (2, 8, 8, 3)),
        (lambda: Conv2D(4, 3, padding="valid", activation="relu"), (2, 7, 7, 3)),
        (lambda: Conv2DTranspose(4, 4, strides=2, padding="same"), (2, 4, 4, 3)),
    ],
)
def test_layers_by_matmul_match_the_keras_layers(make, shape):
    """Outputs, and weights after two SGD steps, as with the backend's own op."""
    # Keras's own op, then the matmuls (on torch, in place of the views).
    outputs, weights = trained_layer(make, shape, _by_matmul=False, _on_views=False)
    matmul_outputs, matmul_weights = trained_layer(
        make, shape, _by_matmul=True, _on_views=False
    )
    np.testing.assert_allclose(matmul_outputs, outputs, atol=1e-5)
    for got, expected in zip(matmul_weights, weights, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_matmuls_are_used_exactly_on_jax_on_a_cpu():
    expected = keras.backend.backend() == "jax"
    if expected:
        import jax

        expected = jax.default_backend() == "cpu"
    assert use_matmuls() == expected
    conv = Conv2D(2, 4, strides=2, padding="same")
    conv.build((1, 8, 8, 3))
    dilated = Conv2D(2, 3, dilation_rate=2)
    dilated.build((1, 8, 8, 3))
    assert conv._by_matmul == expected
    assert not dilated._by_matmul
