import keras

from keras_pix2pix.layers import DownsampleBlock
from keras_pix2pix.layers._conventions import channel_axis, check_norm, default_use_bias
from keras_pix2pix.models._shapes import (
    check_image_shape,
    image_channels,
    with_channels,
)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class PixelDiscriminator(keras.Model):
    """The 1x1 "pixel" discriminator of the reference pix2pix (`pixel`).

    A PatchGAN whose patches are single pixels: three 1x1 convolutions judge
    each pixel of the source and target pair on its own colour, so it
    pushes colour fidelity but not structure. Output logits have the input's
    height and width.

    Args:
        input_shape: tuple. Shape of one source image.
        target_channels: int or None. Channels of the target; `None` uses the
            source's.
        filters: int. Filters of the first layer (the second has twice as many).
        norm: `"batch"`, `"instance"` or `None`.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    discriminator = keras_pix2pix.models.PixelDiscriminator(input_shape=(64, 64, 1))
    logits = discriminator([source, target])  # (batch, 64, 64, 1)
    ```
    """

    def __init__(
        self,
        *,
        input_shape=(256, 256, 3),
        target_channels=None,
        filters=64,
        norm="batch",
        **kwargs,
    ):
        check_norm(norm)
        input_shape = tuple(input_shape)
        check_image_shape(input_shape)
        if target_channels is None:
            target_channels = image_channels(input_shape)
        pointwise = dict(kernel_size=1, strides=1, padding="valid")

        # === Functional model ===
        source = keras.Input(shape=input_shape, name="source")
        target = keras.Input(
            shape=with_channels(input_shape, target_channels), name="target"
        )
        x = keras.layers.Concatenate(axis=channel_axis(), name="pair")([source, target])
        x = DownsampleBlock(
            filters, norm=None, use_bias=True, name="layer_1", **pointwise
        )(x)
        x = DownsampleBlock(2 * filters, norm=norm, name="layer_2", **pointwise)(x)
        logits = DownsampleBlock(
            1,
            norm=None,
            activation=None,
            # The reference's last 1x1 conv follows the norm's bias rule.
            use_bias=default_use_bias(norm, None),
            # Logits in float32 under mixed precision, as Keras advises for
            # a model's output layer (PyTorch 2.13's float16 CPU convolution
            # also fails to differentiate a kernel with one output channel).
            dtype="float32",
            name="logits",
            **pointwise,
        )(x)
        super().__init__(inputs=[source, target], outputs=logits, **kwargs)

        # === Config ===
        self.target_channels = target_channels
        self.filters = filters
        self.norm = norm

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": tuple(self.input_shape[0][1:]),
            "target_channels": self.target_channels,
            "filters": self.filters,
            "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
