import keras
from keras import ops

from keras_pix2pix.layers._conventions import channel_axis


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads the two spatial axes of an image by reflection.

    The ResNet generator of pix2pix and CycleGAN pads with reflection before
    its 7x7 and 3x3 convolutions, which avoids the dark borders zero padding
    leaves. Keras has no such layer, so this one wraps `keras.ops.pad`.

    Args:
        padding: int. Pixels added on each side of both spatial axes.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    ```python
    layer = keras_pix2pix.layers.ReflectionPadding2D(3)
    layer(np.zeros((1, 32, 32, 3))).shape  # (1, 38, 38, 3)
    ```
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(
                f"`padding` must be a non-negative int. Received: padding={padding!r}"
            )
        self.padding = padding

    def call(self, inputs):
        pad = (self.padding, self.padding)
        widths = [(0, 0), pad, pad, (0, 0)]
        if channel_axis() == 1:
            widths = [(0, 0), (0, 0), pad, pad]
        return ops.pad(inputs, widths, mode="reflect")

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = (1, 2) if channel_axis() == -1 else (2, 3)
        for axis in spatial:
            if shape[axis] is not None:
                shape[axis] += 2 * self.padding
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding})
        return config
