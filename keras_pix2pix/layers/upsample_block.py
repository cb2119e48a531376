import keras
from keras import ops

from keras_pix2pix.layers._conventions import (
    conv_kernel_initializer,
    default_use_bias,
    normalization_layer,
)
from keras_pix2pix.layers._image_statistics import normalize
from keras_pix2pix.layers._kernel_layout import Conv2DTranspose


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class UpsampleBlock(keras.layers.Layer):
    """Optional ReLU, transposed convolution, normalization, dropout.

    The decoder block of the pix2pix U-Net, in the reference's order: the
    ReLU comes first (it acts on the concatenation of the skip connection and
    the previous block's output), then a 4x4 transposed convolution of stride
    2 doubles the spatial size, then BatchNorm and dropout.

    With `padding` an integer `p` the block follows PyTorch's
    `ConvTranspose2d(padding=p, output_padding=strides - kernel_size + 2p)`,
    which always gives `strides` times the input size: the full transposed
    convolution is computed and `p` pixels are cropped from the top and left
    (fewer from the bottom and right). `"same"` is Keras's convention, which
    equals PyTorch's `padding=1` for the default 4x4 kernel of stride 2.

    Args:
        filters: int. Number of output channels.
        kernel_size: int. Size of the square kernel.
        strides: int. Up-sampling factor.
        padding: `"same"` or an int (PyTorch's convention, see above).
        norm: `"batch"`, `"instance"` or `None`.
        dropout: float in [0, 1). Dropout rate after normalization.
        activation: `"relu"` or `None`, applied first.
        use_bias: bool or None. `None` adds a bias unless BatchNorm follows.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    ```python
    block = keras_pix2pix.layers.UpsampleBlock(64, dropout=0.5)
    block(np.zeros((1, 16, 16, 128))).shape  # (1, 32, 32, 64)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size=4,
        strides=2,
        padding="same",
        norm="batch",
        dropout=0.0,
        activation="relu",
        use_bias=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in ("relu", None):
            raise ValueError(
                "`activation` must be 'relu' or None. "
                f"Received: activation={activation!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.norm = norm
        self.dropout = dropout
        self.activation = activation
        self.use_bias = use_bias

        self.cropping = None
        if isinstance(padding, int):
            trailing = kernel_size - strides - padding
            if padding < 0 or trailing < 0:
                raise ValueError(
                    "An integer `padding` must lie in [0, kernel_size - strides]. "
                    f"Received: padding={padding}, kernel_size={kernel_size}, "
                    f"strides={strides}"
                )
            if padding or trailing:
                crop = (padding, trailing)
                self.cropping = keras.layers.Cropping2D(
                    (crop, crop), dtype=self.dtype_policy, name="cropping"
                )
        self.conv = Conv2DTranspose(
            filters,
            kernel_size,
            strides=strides,
            padding="valid" if isinstance(padding, int) else padding,
            use_bias=default_use_bias(norm, use_bias),
            kernel_initializer=conv_kernel_initializer(),
            dtype=self.dtype_policy,
            name="conv_transpose",
        )
        self.normalization = normalization_layer(
            norm, dtype=self.dtype_policy, name="norm"
        )
        self.dropout_layer = None
        if dropout > 0:
            self.dropout_layer = keras.layers.Dropout(
                dropout, dtype=self.dtype_policy, name="dropout"
            )

    def build(self, input_shape):
        self.conv.build(input_shape)
        shape = self.conv.compute_output_shape(input_shape)
        if self.cropping is not None:
            shape = self.cropping.compute_output_shape(shape)
        if self.normalization is not None:
            self.normalization.build(shape)
        self.built = True

    def call(self, inputs, training=None):
        x = ops.relu(inputs) if self.activation == "relu" else inputs
        x = self.conv(x)
        if self.cropping is not None:
            x = self.cropping(x)
        if self.normalization is not None:
            x = normalize(self.normalization, x, training)
        if self.dropout_layer is not None:  # never inside image_statistics()
            x = self.dropout_layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = self.conv.compute_output_shape(input_shape)
        if self.cropping is not None:
            shape = self.cropping.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "norm": self.norm,
                "dropout": self.dropout,
                "activation": self.activation,
                "use_bias": self.use_bias,
            }
        )
        return config
