import keras

from keras_pix2pix.layers import DownsampleBlock
from keras_pix2pix.layers._conventions import channel_axis, check_norm
from keras_pix2pix.models._shapes import (
    check_image_shape,
    image_channels,
    with_channels,
)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class PatchGANDiscriminator(keras.Model):
    """The PatchGAN discriminator of pix2pix (Isola et al. 2017).

    It takes a source image and a (real or generated) target image, joins
    them on the channel axis and returns a grid of logits, one per
    overlapping patch: real (high) or fake (low). With the defaults this is
    the reference `basic` discriminator, `n_layers=3`: 4x4 convolutions of
    stride 2 with 64, 128, 256 filters, then stride 1 with 512 and 1, padding
    1, LeakyReLU 0.2 and BatchNorm except on the first and last layer. A
    256x256 pair gives 30x30 logits, each seeing a 70x70 patch.

    Args:
        input_shape: tuple. Shape of one source image, e.g. `(256, 256, 3)`.
        target_channels: int or None. Channels of the target image; `None`
            uses the source's.
        filters: int. Filters of the first layer; doubled per layer up to
            `8 * filters`.
        num_layers: int. Number of stride-2 layers (the reference `n_layers`).
            The receptive field is 16, 34, 70, 142, 286 pixels for 1 to 5.
        norm: `"batch"`, `"instance"` or `None`.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    discriminator = keras_pix2pix.models.PatchGANDiscriminator()
    logits = discriminator([source, target])  # (batch, 30, 30, 1)
    discriminator.receptive_field  # 70
    ```

    Reference:
    - [Isola et al., Image-to-Image Translation with Conditional Adversarial
      Networks, CVPR 2017](https://arxiv.org/abs/1611.07004)
    """

    def __init__(
        self,
        *,
        input_shape=(256, 256, 3),
        target_channels=None,
        filters=64,
        num_layers=3,
        norm="batch",
        **kwargs,
    ):
        check_norm(norm)
        if num_layers < 1:
            raise ValueError(f"`num_layers` must be at least 1. Received: {num_layers}")
        input_shape = tuple(input_shape)
        check_image_shape(input_shape)
        if target_channels is None:
            target_channels = image_channels(input_shape)

        # === Functional model ===
        source = keras.Input(shape=input_shape, name="source")
        target = keras.Input(
            shape=with_channels(input_shape, target_channels), name="target"
        )
        x = keras.layers.Concatenate(axis=channel_axis(), name="pair")([source, target])
        x = DownsampleBlock(
            filters, padding=1, norm=None, use_bias=True, name="layer_1"
        )(x)
        for index in range(1, num_layers):
            x = DownsampleBlock(
                filters * min(2**index, 8),
                padding=1,
                norm=norm,
                name=f"layer_{index + 1}",
            )(x)
        x = DownsampleBlock(
            filters * min(2**num_layers, 8),
            strides=1,
            padding=1,
            norm=norm,
            name=f"layer_{num_layers + 1}",
        )(x)
        logits = DownsampleBlock(
            1,
            strides=1,
            padding=1,
            norm=None,
            activation=None,
            use_bias=True,
            # Logits in float32 under mixed precision, as Keras advises for
            # a model's output layer (PyTorch 2.13's float16 CPU convolution
            # also fails to differentiate a kernel with one output channel).
            dtype="float32",
            name="logits",
        )(x)
        super().__init__(inputs=[source, target], outputs=logits, **kwargs)

        # === Config ===
        self.target_channels = target_channels
        self.filters = filters
        self.num_layers = num_layers
        self.norm = norm

    @property
    def receptive_field(self):
        """Side of the square input patch that one output logit sees."""
        field = 1
        for strides in [1, 1] + [2] * self.num_layers:
            field = (field - 1) * strides + 4
        return field

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": tuple(self.input_shape[0][1:]),
            "target_channels": self.target_channels,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
