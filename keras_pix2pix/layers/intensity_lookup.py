import keras
from keras import ops

from keras_pix2pix.layers._conventions import channel_axis


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class IntensityLookup(keras.layers.Layer):
    """Maps one channel of an image through a table of intensity bins.

    The value range is split into `bins` equal bins; each pixel of channel
    `channel` becomes the table's value for its bin, one output channel.
    This is `keras_pix2pix.baselines.HistogramMapping` as a Keras layer
    (`HistogramMapping.as_layer` builds one from a fitted mapping), so a
    model can carry the mapping in its weights: it is saved with the model
    and applied to every image the model sees. The table is not trained.

    Args:
        bins: int. Number of equal intensity bins.
        value_range: `(low, high)` of the input intensities; values outside
            fall into the first or last bin.
        channel: int. The input channel to map, e.g. the centre slice of a
            2.5-D input with `context` neighbours on each side: `context`.
        table: optional array of `bins` values, the initial table; zeros if
            `None` (the saved weights then set it).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    ```python
    import numpy as np
    from keras_pix2pix.layers import IntensityLookup

    inversion = IntensityLookup(bins=4, table=[0.75, 0.25, -0.25, -0.75])
    inversion(np.array([[[[-0.9], [0.9]]]]))  # [[[[0.75], [-0.75]]]]
    ```
    """

    def __init__(
        self, bins=256, value_range=(-1.0, 1.0), channel=0, table=None, **kwargs
    ):
        super().__init__(**kwargs)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"`bins` must be a positive int. Received: bins={bins!r}")
        low, high = value_range
        if not high > low:
            raise ValueError(
                "`value_range` must be (low, high) with high > low. "
                f"Received: value_range={value_range!r}"
            )
        if isinstance(channel, bool) or not isinstance(channel, int) or channel < 0:
            raise ValueError(
                f"`channel` must be a non-negative int. Received: channel={channel!r}"
            )
        if table is not None and len(table) != bins:
            raise ValueError(
                f"`table` must hold `bins` = {bins} values. Received {len(table)}."
            )
        self.bins = bins
        self.value_range = (float(low), float(high))
        self.channel = channel
        self._initial_table = table

    def build(self, input_shape):
        channels = input_shape[channel_axis()]
        if channels is not None and self.channel >= channels:
            raise ValueError(
                f"`channel` = {self.channel} does not exist in inputs of shape "
                f"{tuple(input_shape)} ({channels} channels)."
            )
        initializer = "zeros"
        if self._initial_table is not None:
            initializer = keras.initializers.Constant(
                ops.convert_to_numpy(self._initial_table).astype("float32")
            )
        self.table = self.add_weight(
            shape=(self.bins,),
            initializer=initializer,
            trainable=False,
            dtype="float32",
            name="table",
        )

    def call(self, inputs):
        axis = channel_axis() % len(inputs.shape)
        index = [slice(None)] * len(inputs.shape)
        index[axis] = slice(self.channel, self.channel + 1)
        source = ops.cast(inputs[tuple(index)], "float32")
        low, high = self.value_range
        bins = ops.floor((source - low) * (self.bins / (high - low)))
        bins = ops.cast(ops.clip(bins, 0, self.bins - 1), "int32")
        return ops.cast(ops.take(self.table, bins), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[channel_axis()] = 1
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bins": self.bins,
                "value_range": self.value_range,
                "channel": self.channel,
            }
        )
        return config
