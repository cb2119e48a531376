"""Convolutions computed as one matrix product each, for JAX on a CPU.

XLA's CPU convolutions are slow where pix2pix spends its time: the gradient
of a 2x2 convolution with respect to its kernel runs at 24-43 GFLOP/s on a
2-core CPU, against about 200 for a matrix product, and at batch 8 the forward
pass falls to about 90, and to 3 for an up-sampling layer with 3 output
channels (benchmarks/RESULTS.md). Gathering each output pixel's input window into one
row ("im2col") turns a convolution into a single matrix product, whose
forward and backward passes all run at matrix-product speed; it costs
`kh * kw / (sh * sw)` times the input's memory for the gathered windows.

A 4x4, stride-2 transposed convolution with one pixel of padding (Keras's
`"same"`) is computed the same way through its four phases: each output pixel
depends on a 2x2 window of the input, with one of four 2x2 sub-kernels chosen
by the parity of its row and column. One 2x2 convolution with the four
sub-kernels side by side computes all phases at once, and interleaving them
(depth-to-space) gives exactly the transposed convolution, from the same
kernel. This also avoids the input-dilated convolution whose gradient XLA
computes slowly (jax-ml/jax issues 23783, 31662).

The library's `Conv2D` and `Conv2DTranspose` use these where `use_matmuls()`
is true: on the JAX backend running on a CPU. Elsewhere the backends' own
convolutions are faster. The outputs are the same either way, to float
rounding, and the kernels are the same variables, so saved models do not
depend on it.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_pix2pix.layers._conventions import conv_padding

# Output row 2m uses input rows m-1, m with kernel rows 3, 1; output row 2m+1
# uses input rows m, m+1 with kernel rows 2, 0. So tap a of the 2x2 window
# (input row m-1+a+r for phase r) reads kernel row _TAPS[a][r]; the same holds
# for columns.
_TAPS = np.array([[3, 2], [1, 0]])


@functools.cache
def use_matmuls():
    """Returns whether convolutions run as matrix products: JAX on a CPU."""
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def conv_by_matmul(inputs, kernel, strides=(1, 1), padding="valid"):
    """Computes `ops.conv(inputs, kernel, strides, padding)` as one matmul.

    Args:
        inputs: tensor (batch, height, width, in_channels), channels last.
        kernel: tensor (kh, kw, in_channels, out_channels), the layout of
            `keras.layers.Conv2D`.
        strides: the two strides.
        padding: `"valid"` or `"same"`, with Keras's convention (the extra
            pixel of an odd total padding goes after).

    Returns:
        Tensor (batch, out_height, out_width, out_channels).

    Example:

    ```python
    x = np.random.rand(2, 16, 16, 3).astype("float32")
    kernel = np.random.rand(4, 4, 3, 8).astype("float32")
    y = conv_by_matmul(x, kernel, (2, 2), "same")  # ops.conv(x, kernel, 2, "same")
    y.shape  # (2, 8, 8, 8)
    ```
    """
    columns = _windows(inputs, kernel.shape[0], kernel.shape[1], strides, padding)
    return ops.matmul(columns, ops.reshape(kernel, (-1, kernel.shape[-1])))


def _windows(inputs, kernel_height, kernel_width, strides, padding):
    """Returns (batch, out_height, out_width, kh * kw * in): each output
    pixel's input window, in the order (row, column, channel)."""
    stride_rows, stride_columns = strides
    top, bottom, height = conv_padding(
        inputs.shape[1], kernel_height, stride_rows, padding
    )
    left, right, width = conv_padding(
        inputs.shape[2], kernel_width, stride_columns, padding
    )
    if top or bottom or left or right:
        inputs = ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])
    windows = [
        inputs[
            :,
            row : row + (height - 1) * stride_rows + 1 : stride_rows,
            column : column + (width - 1) * stride_columns + 1 : stride_columns,
            :,
        ]
        for row in range(kernel_height)
        for column in range(kernel_width)
    ]
    return windows[0] if len(windows) == 1 else ops.concatenate(windows, axis=-1)


def transposed_conv_by_matmul(inputs, kernel):
    """Computes `ops.conv_transpose(inputs, kernel, 2, padding="same")`.

    The four phases come from one matrix product of the input windows and the
    phases' sub-kernels. Its operands are arranged so that the larger of the
    two, windows or kernel, is not transposed: XLA transposes whatever is not
    in the layout its matrix product wants, and at batch 1 the U-Net's inner
    kernels (4 x 4 x 512 x 1024) are far larger than their images.

    Args:
        inputs: tensor (batch, height, width, in_channels), channels last.
        kernel: tensor (4, 4, out_channels, in_channels), the layout of
            `keras.layers.Conv2DTranspose`.

    Returns:
        Tensor (batch, 2 * height, 2 * width, out_channels).

    Example:

    ```python
    x = np.random.rand(2, 8, 8, 16).astype("float32")
    kernel = np.random.rand(4, 4, 3, 16).astype("float32")
    transposed_conv_by_matmul(x, kernel).shape  # (2, 16, 16, 3)
    ```
    """
    height, width = inputs.shape[1], inputs.shape[2]
    channels = kernel.shape[2]
    padded = ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
    # (batch, height + 1, width + 1, 2 * 2 * in): the 2x2 windows, tap (a, b).
    windows = _windows(padded, 2, 2, (1, 1), "valid")
    if kernel_first(inputs.shape, kernel.shape):
        phases = _phases_kernel_first(windows, kernel)
    else:
        phases = _phases_windows_first(windows, kernel)
    # Phase (r, c) at (m, n) is the 2x2 window at padded (m + r, n + c).
    rows = [
        ops.stack(
            [phases[:, r : r + height, c : c + width, 2 * r + c] for c in range(2)],
            axis=3,
        )
        for r in range(2)
    ]
    outputs = ops.stack(rows, axis=2)  # (batch, height, 2, width, 2, out)
    return ops.reshape(outputs, (-1, 2 * height, 2 * width, channels))


def kernel_first(input_shape, kernel_shape):
    """Returns whether the kernel has more elements than windows and phases.

    Args:
        input_shape: (batch, height, width, in_channels); batch may be None.
        kernel_shape: (4, 4, out_channels, in_channels).

    Returns:
        True where `transposed_conv_by_matmul` keeps the kernel in place.
    """
    batch, height, width, _ = input_shape
    out_channels, in_channels = kernel_shape[2], kernel_shape[3]
    pixels = (batch or 1) * (height + 1) * (width + 1)
    return pixels * 4 * (in_channels + out_channels) < 16 * in_channels * out_channels


def _phases_windows_first(windows, kernel):
    """(batch, height + 1, width + 1, 4, out): windows x (a, b, i; p, o)."""
    channels, in_channels = kernel.shape[2], kernel.shape[3]
    # (a, b, 4, out, in): for each tap (a, b) of the 2x2 window, the four
    # phases' kernel taps, phase (r, c) at position 2r + c. Only whole
    # (out, in) matrices move: swapping `in` and `out` would transpose every
    # element of the kernel, the slowest part of a batch-1 step.
    taps = ops.take(ops.take(kernel, _TAPS, axis=0), _TAPS, axis=2)
    taps = ops.transpose(taps, (0, 2, 1, 3, 4, 5))  # (a, b, r, c, out, in)
    taps = ops.reshape(taps, (2, 2, 4, channels, in_channels))
    windows = ops.reshape(windows, (-1, *windows.shape[1:3], 2, 2, in_channels))
    return ops.einsum("nhwabi,abpoi->nhwpo", windows, taps)


def _phases_kernel_first(windows, kernel):
    """(batch, height + 1, width + 1, 4, out): (p, o; a, b, i) x windows."""
    channels, in_channels = kernel.shape[2], kernel.shape[3]
    # (r, c, out, a, b, in): tap (a, b) of phase (r, c) reads kernel row
    # _TAPS[a][r] and column _TAPS[b][c]; `in` stays the last, contiguous axis.
    order = _TAPS.T.reshape(-1)  # (r, a)
    taps = ops.take(kernel, order, axis=0)
    taps = ops.reshape(taps, (2, 2, 4, channels, in_channels))  # (r, a, kw, ...)
    taps = ops.take(taps, order, axis=2)  # (r, a, 2c + b, out, in)
    taps = ops.reshape(taps, (2, 2, 2, 2, channels, in_channels))
    taps = ops.transpose(taps, (0, 2, 4, 1, 3, 5))  # (r, c, out, a, b, in)
    taps = ops.reshape(taps, (4 * channels, 4 * in_channels))
    columns = ops.transpose(ops.reshape(windows, (-1, 4 * in_channels)))
    phases = ops.matmul(taps, columns)  # (4 * out, pixels)
    phases = ops.reshape(phases, (4, channels, -1, *windows.shape[1:3]))
    return ops.transpose(phases, (2, 3, 4, 0, 1))
