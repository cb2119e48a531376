import keras
from keras import ops

from keras_pix2pix.layers._conventions import (
    conv_kernel_initializer,
    default_use_bias,
    normalization_layer,
)
from keras_pix2pix.layers._image_statistics import normalize
from keras_pix2pix.layers._kernel_layout import Conv2D
from keras_pix2pix.layers.reflection_padding_2d import ReflectionPadding2D

ACTIVATIONS = ("leaky_relu", "relu", None)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class DownsampleBlock(keras.layers.Layer):
    """Convolution, then optional normalization, then optional activation.

    The encoder block of the pix2pix U-Net and the layer of the PatchGAN
    discriminator: with the defaults, a 4x4 convolution of stride 2 halves the
    spatial size, BatchNorm follows, then LeakyReLU(0.2). With `padding` an
    integer the block pads explicitly, the way PyTorch's `Conv2d(padding=p)`
    does, so shapes match the reference for any kernel and stride.

    Args:
        filters: int. Number of output channels.
        kernel_size: int. Size of the square convolution kernel.
        strides: int. Stride of the convolution.
        padding: `"same"`, `"valid"`, or an int number of pixels to pad on
            every side before a `"valid"` convolution.
        padding_mode: `"zeros"` or `"reflect"`, for an integer `padding`.
        norm: `"batch"`, `"instance"` or `None`.
        activation: `"leaky_relu"`, `"relu"` or `None`, applied last.
        negative_slope: float. Slope of the leaky ReLU for negative inputs.
        use_bias: bool or None. `None` adds a bias unless BatchNorm follows.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    ```python
    block = keras_pix2pix.layers.DownsampleBlock(128)
    block(np.zeros((1, 64, 64, 3))).shape  # (1, 32, 32, 128)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size=4,
        strides=2,
        padding="same",
        padding_mode="zeros",
        norm="batch",
        activation="leaky_relu",
        negative_slope=0.2,
        use_bias=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(
                "`activation` must be 'leaky_relu', 'relu' or None. "
                f"Received: activation={activation!r}"
            )
        if padding_mode not in ("zeros", "reflect"):
            raise ValueError(
                "`padding_mode` must be 'zeros' or 'reflect'. "
                f"Received: padding_mode={padding_mode!r}"
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.padding_mode = padding_mode
        self.norm = norm
        self.activation = activation
        self.negative_slope = negative_slope
        self.use_bias = use_bias

        # Zeros are padded by the convolution itself (no padded copy on torch).
        self.padding_layer = None
        conv_padding = padding
        if isinstance(padding, int) and padding_mode == "reflect":
            conv_padding = "valid"
            if padding > 0:
                self.padding_layer = ReflectionPadding2D(
                    padding, dtype=self.dtype_policy, name="padding"
                )
        self.conv = Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=conv_padding,
            use_bias=default_use_bias(norm, use_bias),
            kernel_initializer=conv_kernel_initializer(),
            dtype=self.dtype_policy,
            name="conv",
        )
        self.normalization = normalization_layer(
            norm, dtype=self.dtype_policy, name="norm"
        )

    def build(self, input_shape):
        shape = input_shape
        if self.padding_layer is not None:
            self.padding_layer.build(shape)
            shape = self.padding_layer.compute_output_shape(shape)
        self.conv.build(shape)
        shape = self.conv.compute_output_shape(shape)
        if self.normalization is not None:
            self.normalization.build(shape)
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        if self.padding_layer is not None:
            x = self.padding_layer(x)
        x = self.conv(x)
        if self.normalization is not None:
            x = normalize(self.normalization, x, training)
        if self.activation == "leaky_relu":
            x = ops.leaky_relu(x, negative_slope=self.negative_slope)
        elif self.activation == "relu":
            x = ops.relu(x)
        return x

    def compute_output_shape(self, input_shape):
        if self.padding_layer is not None:
            input_shape = self.padding_layer.compute_output_shape(input_shape)
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "padding_mode": self.padding_mode,
                "norm": self.norm,
                "activation": self.activation,
                "negative_slope": self.negative_slope,
                "use_bias": self.use_bias,
            }
        )
        return config
