"""Channels-last convolutions on the torch backend, without layout copies.

Keras's torch backend runs a channels-last convolution in three copies: it
copies the (batch, height, width, channels) input into channels-first memory
(`permute(...).contiguous()`), then, for `conv`, back into channels-last
memory for oneDNN; a transposed convolution runs on the channels-first copy,
one pixel too large on each side, and is cropped, so its output is a strided
view that the next layers read slowly and whose gradient is copied into a
zero-padded tensor. Autograd makes the same copies again on the way back. At
256x256, batch 8, this made a pix2pix step about 25% slower than the same
network in plain PyTorch (benchmarks/RESULTS.md).

The functions here hand torch a permuted *view* of the channels-last tensor,
which torch reads as an NCHW tensor in its channels-last memory format, let
torch apply the padding itself where it is symmetric, and permute the result
back: a view that is again contiguous channels-last memory. No activation is
copied, forward or backward. The library's `Conv2D` and `Conv2DTranspose`
use them on the torch backend; the outputs are those of Keras's layers, to
float rounding.
"""

import keras
from keras import ops

from keras_pix2pix.layers._conventions import conv_padding


def use_torch_views():
    """Returns whether convolutions run on channels-last views: torch."""
    return keras.backend.backend() == "torch"


def conv_on_views(inputs, kernel, strides=(1, 1), padding="valid"):
    """Computes `ops.conv(inputs, kernel, strides, padding)` on the torch backend.

    Args:
        inputs: torch tensor (batch, height, width, in_channels).
        kernel: tensor or variable (kh, kw, in_channels, out_channels), the
            layout of `keras.layers.Conv2D`.
        strides: the two strides.
        padding: `"valid"` or `"same"`, with Keras's convention (the extra
            pixel of an odd total padding goes after), or an int: as many
            zeros on every side.

    Returns:
        Torch tensor (batch, out_height, out_width, out_channels).

    Example:

    ```python
    x = np.random.rand(2, 16, 16, 3).astype("float32")
    kernel = np.random.rand(4, 4, 3, 8).astype("float32")
    y = conv_on_views(ops.convert_to_tensor(x), kernel, (2, 2), "same")
    y.shape  # (2, 8, 8, 8), as ops.conv(x, kernel, 2, "same")
    ```
    """
    import torch.nn.functional as F  # Only ever called on the torch backend.

    x = inputs.permute(0, 3, 1, 2)
    weights = ops.convert_to_tensor(kernel).permute(3, 2, 0, 1)
    if isinstance(padding, int):
        rows = columns = (padding, padding)
    else:
        rows = conv_padding(x.shape[2], kernel.shape[0], strides[0], padding)
        columns = conv_padding(x.shape[3], kernel.shape[1], strides[1], padding)
    if rows[0] == rows[1] and columns[0] == columns[1]:
        symmetric = (rows[0], columns[0])
    else:
        x = F.pad(x, (columns[0], columns[1], rows[0], rows[1]))
        symmetric = 0
    outputs = F.conv2d(x, weights, stride=tuple(strides), padding=symmetric)
    return outputs.permute(0, 2, 3, 1)


def transposed_conv_crops(kernel_size, strides, padding):
    """Returns the symmetric crops of a transposed convolution, or None.

    Torch's transposed convolution crops as many pixels from both sides;
    Keras's `"same"` crops `kernel_size - strides` in all, the extra pixel
    from the end when that is odd, and `"valid"` crops none.

    Args:
        kernel_size: the two kernel lengths.
        strides: the two strides.
        padding: `"valid"` or `"same"`.

    Returns:
        The crops `(rows, columns)` where torch can apply them, else None.
    """
    totals = [k - s for k, s in zip(kernel_size, strides, strict=True)]
    if min(totals) < 0:
        return None
    if padding == "valid":
        return 0, 0
    if any(total % 2 for total in totals):
        return None
    return tuple(total // 2 for total in totals)


def transposed_conv_on_views(inputs, kernel, bias, strides, crops):
    """Computes a Keras transposed convolution on the torch backend.

    Args:
        inputs: torch tensor (batch, height, width, in_channels).
        kernel: tensor or variable (kh, kw, out_channels, in_channels), the
            layout of `keras.layers.Conv2DTranspose`.
        bias: tensor or variable (out_channels,), or None.
        strides: the two strides.
        crops: from `transposed_conv_crops`.

    Returns:
        Torch tensor (batch, out_height, out_width, out_channels), the bias
        added.

    Example:

    ```python
    x = ops.convert_to_tensor(np.random.rand(2, 8, 8, 16).astype("float32"))
    kernel = np.random.rand(4, 4, 3, 16).astype("float32")
    crops = transposed_conv_crops((4, 4), (2, 2), "same")
    transposed_conv_on_views(x, kernel, None, (2, 2), crops).shape  # (2, 16, 16, 3)
    ```
    """
    import torch.nn.functional as F  # Only ever called on the torch backend.

    x = inputs.permute(0, 3, 1, 2)
    weights = ops.convert_to_tensor(kernel).permute(3, 2, 0, 1)
    if bias is not None:
        bias = ops.convert_to_tensor(bias)
    outputs = F.conv_transpose2d(
        x, weights, bias, stride=tuple(strides), padding=tuple(crops)
    )
    return outputs.permute(0, 2, 3, 1)
