import keras

from keras_pix2pix.layers import DownsampleBlock, UpsampleBlock
from keras_pix2pix.layers._conventions import channel_axis, check_norm
from keras_pix2pix.models._shapes import (
    check_arguments,
    check_image_shape,
    check_rate,
    image_channels,
    image_spatial_size,
)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class UNetGenerator(keras.Model):
    """The U-Net generator of pix2pix (Isola et al. 2017).

    With the defaults this is the reference `unet_256`: eight 4x4 stride-2
    down-sampling blocks with 64, 128, 256, 512, 512, 512, 512, 512 filters
    (LeakyReLU 0.2; BatchNorm except on the outermost and innermost blocks),
    a mirror of up-sampling blocks (ReLU, transposed convolution, BatchNorm)
    joined to the encoder by skip connections, dropout 0.5 in the
    `num_downsampling_blocks - 5` up-sampling blocks next to the innermost
    one, and a tanh output. Its shapes, biases, initialisation and trainable
    parameter count (54,413,955 for 3 -> 3 channels) equal the reference's.

    Args:
        input_shape: tuple. Shape of one source image, e.g. `(256, 256, 3)`.
            Height and width must be divisible by `2**num_downsampling_blocks`.
        output_channels: int or None. Channels of the generated image;
            `None` uses the input's.
        filters: int. Filters of the outermost block; each deeper block
            doubles them up to `max_filters`.
        num_downsampling_blocks: int. Depth of the U-Net (8 for `unet_256`,
            7 for `unet_128`).
        max_filters: int or None. Cap on the filters; `None` means
            `8 * filters`, as in the reference.
        norm: `"batch"`, `"instance"` or `None`.
        dropout: float. Dropout rate of the blocks next to the innermost.
        num_dropout_blocks: int or None. How many up-sampling blocks after the
            innermost one use dropout; `None` follows the reference,
            `max(num_downsampling_blocks - 5, 0)`.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    generator = keras_pix2pix.models.UNetGenerator(
        input_shape=(256, 256, 1), output_channels=1
    )
    fake = generator(np.zeros((1, 256, 256, 1)))  # values in [-1, 1]
    ```

    Reference:
    - [Isola et al., Image-to-Image Translation with Conditional Adversarial
      Networks, CVPR 2017](https://arxiv.org/abs/1611.07004)
    """

    def __init__(
        self,
        *,
        input_shape=(256, 256, 3),
        output_channels=None,
        filters=64,
        num_downsampling_blocks=8,
        max_filters=None,
        norm="batch",
        dropout=0.5,
        num_dropout_blocks=None,
        **kwargs,
    ):
        check_norm(norm)
        check_arguments(
            filters=filters, output_channels=output_channels, max_filters=max_filters
        )
        check_arguments(minimum=2, num_downsampling_blocks=num_downsampling_blocks)
        check_arguments(minimum=0, num_dropout_blocks=num_dropout_blocks)
        check_rate(dropout)
        input_shape = tuple(input_shape)
        check_image_shape(input_shape)
        spatial = image_spatial_size(input_shape)
        if 2**num_downsampling_blocks > min(spatial):
            raise ValueError(
                f"`num_downsampling_blocks={num_downsampling_blocks}` halves the "
                f"{spatial[0]}x{spatial[1]} images of `input_shape` more often "
                f"than they allow: use at most {min(spatial).bit_length() - 1}, "
                "or larger images."
            )
        check_image_shape(input_shape, 2**num_downsampling_blocks)
        axis = channel_axis()
        if output_channels is None:
            output_channels = image_channels(input_shape)
        cap = 8 * filters if max_filters is None else max_filters
        if num_dropout_blocks is None:
            num_dropout_blocks = max(num_downsampling_blocks - 5, 0)

        # === Functional model ===
        inputs = keras.Input(shape=input_shape, name="source")
        x = inputs
        skips = []
        for index in range(num_downsampling_blocks):
            outermost = index == 0
            innermost = index == num_downsampling_blocks - 1
            x = DownsampleBlock(
                min(filters * 2**index, cap),
                norm=None if outermost or innermost else norm,
                activation=None if innermost else "leaky_relu",
                # The reference has no conv bias anywhere with BatchNorm, even
                # where no norm follows (outermost and innermost blocks).
                use_bias=norm != "batch",
                name=f"down_{index + 1}",
            )(x)
            skips.append(x)
        skips.pop()  # The innermost block has no skip connection.
        for step, skip in enumerate(reversed(skips)):
            level = num_downsampling_blocks - 2 - step
            x = UpsampleBlock(
                min(filters * 2**level, cap),
                norm=norm,
                dropout=dropout if 1 <= step <= num_dropout_blocks else 0.0,
                use_bias=norm != "batch",
                name=f"up_{step + 1}",
            )(x)
            x = keras.layers.Concatenate(axis=axis, name=f"skip_{step + 1}")([skip, x])
        x = UpsampleBlock(
            output_channels, norm=None, use_bias=True, name="output_conv"
        )(x)
        outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.output_channels = output_channels
        self.filters = filters
        self.num_downsampling_blocks = num_downsampling_blocks
        self.max_filters = max_filters
        self.norm = norm
        self.dropout = dropout
        self.num_dropout_blocks = num_dropout_blocks

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": tuple(self.input_shape[1:]),
            "output_channels": self.output_channels,
            "filters": self.filters,
            "num_downsampling_blocks": self.num_downsampling_blocks,
            "max_filters": self.max_filters,
            "norm": self.norm,
            "dropout": self.dropout,
            "num_dropout_blocks": self.num_dropout_blocks,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
