import keras

from keras_pix2pix.layers import (
    DownsampleBlock,
    ReflectionPadding2D,
    ResidualBlock,
    UpsampleBlock,
)
from keras_pix2pix.layers._conventions import (
    check_norm,
    conv_kernel_initializer,
)
from keras_pix2pix.layers._kernel_layout import Conv2D
from keras_pix2pix.models._shapes import (
    check_arguments,
    check_image_shape,
    check_rate,
    image_channels,
)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class ResNetGenerator(keras.Model):
    """The ResNet generator of pix2pix and CycleGAN (Johnson et al. 2016).

    A 7x7 convolution, two 3x3 stride-2 down-sampling convolutions, a stack
    of residual blocks at a quarter of the input size, two 3x3 stride-2
    transposed convolutions and a 7x7 convolution with tanh. Padding,
    biases and initialisation follow the reference `resnet_9blocks` /
    `resnet_6blocks` (reflection padding; no conv bias with BatchNorm).

    Args:
        input_shape: tuple. Shape of one source image; height and width must
            be divisible by 4.
        output_channels: int or None. Channels of the generated image;
            `None` uses the input's.
        filters: int. Filters of the first convolution (x2, x4 after the
            down-sampling convolutions).
        num_residual_blocks: int. 9 for `resnet_9blocks`, 6 for `resnet_6blocks`.
        norm: `"batch"`, `"instance"` or `None`.
        dropout: float. Dropout inside each residual block. The reference
            pix2pix uses 0.5 unless run with `--no_dropout` (CycleGAN's default).
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    generator = keras_pix2pix.models.ResNetGenerator(
        input_shape=(256, 256, 3), num_residual_blocks=6
    )
    ```

    Reference:
    - [Johnson et al., Perceptual Losses for Real-Time Style Transfer and
      Super-Resolution, ECCV 2016](https://arxiv.org/abs/1603.08155)
    """

    def __init__(
        self,
        *,
        input_shape=(256, 256, 3),
        output_channels=None,
        filters=64,
        num_residual_blocks=9,
        norm="batch",
        dropout=0.5,
        **kwargs,
    ):
        check_norm(norm)
        check_arguments(filters=filters, output_channels=output_channels)
        check_arguments(minimum=0, num_residual_blocks=num_residual_blocks)
        check_rate(dropout)
        input_shape = tuple(input_shape)
        check_image_shape(input_shape, 4)
        if output_channels is None:
            output_channels = image_channels(input_shape)

        # === Functional model ===
        inputs = keras.Input(shape=input_shape, name="source")
        x = DownsampleBlock(
            filters,
            kernel_size=7,
            strides=1,
            padding=3,
            padding_mode="reflect",
            norm=norm,
            activation="relu",
            name="stem",
        )(inputs)
        for index in (1, 2):
            x = DownsampleBlock(
                filters * 2**index,
                kernel_size=3,
                padding=1,
                norm=norm,
                activation="relu",
                name=f"down_{index}",
            )(x)
        for index in range(num_residual_blocks):
            x = ResidualBlock(norm=norm, dropout=dropout, name=f"residual_{index + 1}")(
                x
            )
        # The ReLU after each transposed convolution is the pre-activation of
        # the next block (and the explicit layer after the last one).
        for index, activation in ((1, None), (2, "relu")):
            x = UpsampleBlock(
                filters * 2 ** (2 - index),
                kernel_size=3,
                padding=1,
                norm=norm,
                activation=activation,
                name=f"up_{index}",
            )(x)
        x = keras.layers.ReLU(name="up_2_relu")(x)
        x = ReflectionPadding2D(3, name="head_padding")(x)
        x = Conv2D(
            output_channels,
            7,
            kernel_initializer=conv_kernel_initializer(),
            name="head_conv",
        )(x)
        outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.output_channels = output_channels
        self.filters = filters
        self.num_residual_blocks = num_residual_blocks
        self.norm = norm
        self.dropout = dropout

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": tuple(self.input_shape[1:]),
            "output_channels": self.output_channels,
            "filters": self.filters,
            "num_residual_blocks": self.num_residual_blocks,
            "norm": self.norm,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
