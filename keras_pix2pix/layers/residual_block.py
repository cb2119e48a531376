import keras

from keras_pix2pix.layers._conventions import channel_axis
from keras_pix2pix.layers.downsample_block import DownsampleBlock


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class ResidualBlock(keras.layers.Layer):
    """The residual block of the ResNet generator (Johnson et al. 2016).

    Two 3x3 convolutions with reflection padding, each followed by
    normalization, a ReLU between them and optional dropout after it; the
    input is added to the result. Input and output have the same shape.

    Args:
        norm: `"batch"`, `"instance"` or `None`.
        dropout: float in [0, 1). Dropout rate after the first convolution.
        use_bias: bool or None. `None` adds a bias unless BatchNorm follows.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    ```python
    block = keras_pix2pix.layers.ResidualBlock()
    block(np.zeros((1, 16, 16, 256))).shape  # (1, 16, 16, 256)
    ```
    """

    def __init__(self, norm="batch", dropout=0.0, use_bias=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        self.norm = norm
        self.dropout = dropout
        self.use_bias = use_bias
        self.dropout_layer = None
        if dropout > 0:
            self.dropout_layer = keras.layers.Dropout(
                dropout, dtype=self.dtype_policy, name="dropout"
            )

    def build(self, input_shape):
        filters = input_shape[channel_axis()]
        common = dict(
            kernel_size=3,
            strides=1,
            padding=1,
            padding_mode="reflect",
            norm=self.norm,
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
        )
        self.first = DownsampleBlock(filters, activation="relu", name="first", **common)
        self.second = DownsampleBlock(filters, activation=None, name="second", **common)
        self.first.build(input_shape)
        self.second.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.first(inputs, training=training)
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return inputs + self.second(x, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"norm": self.norm, "dropout": self.dropout, "use_bias": self.use_bias}
        )
        return config
