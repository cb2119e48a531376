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

On JAX on a CPU the same layers compute their convolutions as matrix products
instead (`_matmul_conv`; the U-Net's transposed convolutions through their
four phases), which XLA runs several times faster there. Again only the speed
changes: the outputs are the same to float rounding.
"""

import keras

from keras_pix2pix.layers._matmul_conv import (
    conv_by_matmul,
    transposed_conv_by_matmul,
    use_matmuls,
)

# Memory order, slowest axis first, in Keras's axes of each kernel:
# - `Conv2D`, channels-last images: torch reads (out, in, kh, kw) in
#   channels-last memory, i.e. (out, kh, kw, in) from slowest to fastest.
# - `Conv2D` on channels-first images and `Conv2DTranspose` (Keras gives
#   torch's transposed convolution channels-first inputs in either format):
#   a contiguous (out, in, kh, kw), resp. (in, out, kh, kw).
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
    if isinstance(conv, keras.layers.Conv2DTranspose):
        order = _TORCH_ORDER
    elif conv.data_format == "channels_last":
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

    On JAX on a CPU, channels-last convolutions without groups or dilation
    run as one matrix product (`conv_by_matmul`).

    Example:
    ```python
    conv = Conv2D(8, 4, strides=2, padding="same")
    conv(np.zeros((1, 16, 16, 3), "float32")).shape  # (1, 8, 8, 8)
    ```
    """

    def build(self, input_shape):
        super().build(input_shape)
        store_kernel_in_backend_order(self)
        self._by_matmul = (
            use_matmuls()
            and self.data_format == "channels_last"
            and self.groups == 1
            and tuple(self.dilation_rate) == (1, 1)
        )

    def convolution_op(self, inputs, kernel):
        if self._by_matmul:
            return conv_by_matmul(inputs, kernel, self.strides, self.padding)
        return super().convolution_op(inputs, kernel)


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
        self._by_matmul = (
            use_matmuls()
            and self.data_format == "channels_last"
            and tuple(self.kernel_size) == (4, 4)
            and tuple(self.strides) == (2, 2)
            and self.padding == "same"
            and self.output_padding is None
            and tuple(self.dilation_rate) == (1, 1)
        )

    def call(self, inputs):
        if not self._by_matmul:
            return super().call(inputs)
        outputs = transposed_conv_by_matmul(inputs, self.kernel)
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
