"""Convolution kernels kept in the memory order that torch's convolutions read.

Keras stores a 2D convolution kernel as (kh, kw, in, out), a transposed one as
(kh, kw, out, in). On the torch backend each call permutes the kernel to
torch's (out, in, kh, kw) or (in, out, kh, kw); for `Conv2D` on channels-last
images Keras then copies it into channels-last memory, and in the backward
pass the kernel's gradient is copied back. For `unet_256` these copies were
40% of a training step on a CPU (benchmarks/RESULTS.md).

`Conv2D` and `Conv2DTranspose` here are Keras's layers that, once built, keep
their kernels so (`store_kernel_in_backend_order`); the library makes every
convolution from them. The kernel keeps its shape and values; only the order
of its elements in memory changes, so that the backend's permutes are
views and no copy is made. Everything that reads or writes the variable
(`assign`, `get_weights`, checkpoints, `.keras` files, the optimizers) sees the
same (kh, kw, ...) tensor as before, so results do not depend on it: when
Keras changes how it calls torch, only the speed can change. It does nothing
on the other backends, whose convolutions read Keras's layout directly.

The layers also choose how their convolutions are computed, where Keras's
own ops are slow; again only the speed changes, the outputs are the same to
float rounding:
- on torch, on permuted views of the channels-last activations, which torch
  reads in its channels-last memory format (`_torch_conv`), instead of the
  layout copies that Keras's torch `conv` / `conv_transpose` make;
- on JAX on a CPU, as matrix products (`_matmul_conv`; the U-Net's
  transposed convolutions through their four phases), which XLA runs several
  times faster there.
"""

import keras
from keras import ops

from keras_pix2pix.layers._matmul_conv import (
    conv_by_matmul,
    transposed_conv_by_matmul,
    use_matmuls,
)
from keras_pix2pix.layers._torch_conv import (
    conv_on_views,
    transposed_conv_crops,
    transposed_conv_on_views,
    use_torch_views,
)

# Memory order, slowest axis first, in Keras's axes of each kernel: torch's
# (out, in, kh, kw) for `Conv2D`, (in, out, kh, kw) for `Conv2DTranspose`,
# - on channels-last images (given to torch as views, `_torch_conv`) in
#   torch's channels-last memory: (out, kh, kw, in), resp. (in, kh, kw, out);
# - on channels-first images, contiguous.
_CHANNELS_LAST_ORDER = (3, 0, 1, 2)
_TORCH_ORDER = (3, 2, 0, 1)


def store_kernel_in_backend_order(conv):
    """Lays out a built convolution's kernel as its backend's convolution reads it.

    Args:
        conv: a built `keras.layers.Conv2D` or `keras.layers.Conv2DTranspose`.

    Example:

    ```python
    conv = keras.layers.Conv2D(8, 4)
    conv.build((None, 16, 16, 3))
    store_kernel_in_backend_order(conv)
    assert conv.kernel.shape == (4, 4, 3, 8)
    ```
    """
    if keras.backend.backend() != "torch":
        return
    if conv.data_format == "channels_last":
        order = _CHANNELS_LAST_ORDER
    else:
        order = _TORCH_ORDER
    inverse = tuple(order.index(axis) for axis in range(len(order)))
    parameter = conv.kernel.value
    # Assigning `.data` keeps the same `torch.nn.Parameter` object, so the
    # layer's `torch_params` and anything else holding it stay valid.
    parameter.data = parameter.data.permute(order).contiguous().permute(inverse)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`, its kernel in the memory order its backend reads.

    `padding` may also be an int `p`: `p` pixels of zeros on every side, then
    a `"valid"` convolution, as PyTorch's `Conv2d(padding=p)` (the PatchGAN's
    convolutions). On the torch backend the convolution pads by itself
    instead of copying its input into a padded tensor.

    On JAX on a CPU, channels-last convolutions without groups or dilation
    run as one matrix product (`conv_by_matmul`); on torch they run on views
    of their channels-last inputs (`conv_on_views`).

    Args:
        filters: int. Number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints.
        padding: `"valid"`, `"same"` or an int (see above).
        **kwargs: the other arguments of `keras.layers.Conv2D`.

    Example:
    ```python
    conv = Conv2D(8, 4, strides=2, padding="same")
    conv(np.zeros((1, 16, 16, 3), "float32")).shape  # (1, 8, 8, 8)
    Conv2D(8, 4, padding=1)(np.zeros((1, 16, 16, 3), "float32")).shape
    # (1, 15, 15, 8)
    ```
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        zeros = isinstance(padding, int) and not isinstance(padding, bool)
        if zeros and padding < 0:
            raise ValueError(
                f"An integer `padding` must be >= 0. Received: padding={padding}"
            )
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding="valid" if zeros else padding,
            **kwargs,
        )
        self.zero_padding = padding if zeros else 0

    def build(self, input_shape):
        super().build(input_shape)
        store_kernel_in_backend_order(self)
        plain = (
            self.data_format == "channels_last"
            and self.groups == 1
            and tuple(self.dilation_rate) == (1, 1)
        )
        self._by_matmul = plain and use_matmuls()
        self._on_views = plain and use_torch_views()

    def convolution_op(self, inputs, kernel):
        if self._on_views:
            padding = self.zero_padding or self.padding
            return conv_on_views(inputs, kernel, self.strides, padding)
        if self.zero_padding:
            pad = [self.zero_padding] * 2
            if self.data_format == "channels_last":
                inputs = ops.pad(inputs, [[0, 0], pad, pad, [0, 0]])
            else:
                inputs = ops.pad(inputs, [[0, 0], [0, 0], pad, pad])
        if self._by_matmul:
            return conv_by_matmul(inputs, kernel, self.strides, self.padding)
        return super().convolution_op(inputs, kernel)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis in spatial:
            if shape[axis] is not None:
                shape[axis] += 2 * self.zero_padding
        return super().compute_output_shape(tuple(shape))

    def get_config(self):
        config = super().get_config()
        if self.zero_padding:
            config["padding"] = self.zero_padding
        return config


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose`, its kernel in the order its backend reads.

    On JAX on a CPU, channels-last 4x4 stride-2 `"same"` transposed
    convolutions run through their four phases as one matrix product
    (`transposed_conv_by_matmul`).

    Example:
    ```python
    conv = Conv2DTranspose(8, 4, strides=2, padding="same")
    conv(np.zeros((1, 8, 8, 3), "float32")).shape  # (1, 16, 16, 8)
    ```
    """

    def build(self, input_shape):
        super().build(input_shape)
        store_kernel_in_backend_order(self)
        plain = (
            self.data_format == "channels_last"
            and self.output_padding is None
            and tuple(self.dilation_rate) == (1, 1)
        )
        self._by_matmul = (
            plain
            and use_matmuls()
            and tuple(self.kernel_size) == (4, 4)
            and tuple(self.strides) == (2, 2)
            and self.padding == "same"
        )
        self._crops = transposed_conv_crops(
            self.kernel_size, self.strides, self.padding
        )
        self._on_views = plain and use_torch_views() and self._crops is not None

    def call(self, inputs):
        bias = self.bias if self.use_bias else None
        if self._on_views:
            outputs = transposed_conv_on_views(
                inputs, self.kernel, bias, self.strides, self._crops
            )
        elif self._by_matmul:
            outputs = transposed_conv_by_matmul(inputs, self.kernel)
            if bias is not None:
                outputs = outputs + bias
        else:
            return super().call(inputs)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
