"""A 4x4 stride-2 transposed convolution computed as four 2x2 convolutions.

Each output pixel of a 4x4, stride-2 transposed convolution with one pixel of
padding (Keras's `"same"`, PyTorch's `padding=1`) depends on a 2x2 window of
the input, with one of four 2x2 sub-kernels chosen by the pixel's row and
column parity (its "phase"). Computing the four phases with ordinary
convolutions and interleaving them (depth-to-space) gives exactly the same
output from the same kernel, with the same number of multiplications, while
avoiding the input-dilated convolution that XLA on CPU differentiates slowly
(jax-ml/jax issues 23783, 31662): the gradient of a U-Net up-sampling layer
is about 10x faster on JAX/CPU this way.

Only the JAX backend gains from it: TensorFlow runs both forms at the same
speed, and PyTorch's CPU convolution fails on the strided sub-kernels at
batch size 1 ("grad_weight must be contiguous"). `UpsampleBlock` uses it where
`USE_PHASES` is true; the outputs are the same either way, so saved models do
not depend on it.
"""

import keras
from keras import ops

USE_PHASES = keras.backend.backend() == "jax"

# Output row 2m uses input rows m-1, m with kernel rows 3, 1; output row 2m+1
# uses input rows m, m+1 with kernel rows 2, 0. The same holds for columns.
_TAPS = ((3, 1), (2, 0))


def transposed_conv_by_phases(inputs, kernel):
    """Computes `ops.conv_transpose(inputs, kernel, 2, padding="same")`.

    Args:
        inputs: tensor (batch, height, width, in_channels), channels last.
        kernel: tensor (4, 4, out_channels, in_channels), the layout of
            `keras.layers.Conv2DTranspose`.

    Returns:
        Tensor (batch, 2 * height, 2 * width, out_channels).
    """
    height, width = inputs.shape[1], inputs.shape[2]
    padded = ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = []
    for row_phase, row_taps in enumerate(_TAPS):
        columns = []
        for column_phase, column_taps in enumerate(_TAPS):
            sub_kernel = ops.take(
                ops.take(kernel, row_taps, axis=0), column_taps, axis=1
            )
            window = padded[
                :,
                row_phase : row_phase + height + 1,
                column_phase : column_phase + width + 1,
                :,
            ]
            columns.append(
                ops.conv(
                    window, ops.transpose(sub_kernel, (0, 1, 3, 2)), padding="valid"
                )
            )
        rows.append(ops.stack(columns, axis=3))
    outputs = ops.stack(rows, axis=2)  # (batch, height, 2, width, 2, channels)
    return ops.reshape(outputs, (-1, 2 * height, 2 * width, kernel.shape[2]))
