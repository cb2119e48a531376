import keras

from keras_pix2pix.layers._conventions import channel_axis
from keras_pix2pix.models._shapes import image_channels


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class PriorResidualGenerator(keras.Model):
    """A generator that learns a correction to a prior guess of the target.

    A `prior` layer turns the source image into a first guess of the target,
    for example an intensity mapping fitted on the training pairs
    (`keras_pix2pix.baselines.HistogramMapping.as_layer`). The wrapped
    `network` sees the source with the guess as one more channel and
    outputs a correction; the result is the guess plus the correction,
    clipped to [-1, 1]:

        target = clip(prior(source) + network([source, prior(source)]))

    The network then only has to learn what the guess gets wrong (context
    an intensity mapping cannot see: partial volumes, tissues of one source
    intensity and different target intensities), which matters when the
    training images show little of the anatomy the model is used on, as
    with one subject. The result is a regular generator: pass it to
    `Pix2Pix`, save and load it like any Keras model.

    Args:
        network: a `keras.Model` from images with one channel more than
            the source (the guess last) to target images, e.g. a
            `UNetGenerator` built for `source_channels + 1` input channels.
        prior: a layer from source images to a guess with the target's
            channels, e.g. an `IntensityLookup`.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    from keras_pix2pix.baselines import HistogramMapping
    from keras_pix2pix.models import PriorResidualGenerator, UNetGenerator

    mapping = HistogramMapping().fit(train_t1, train_t2)
    generator = PriorResidualGenerator(
        UNetGenerator(input_shape=(256, 256, 2), output_channels=1),
        mapping.as_layer(),
    )
    model = keras_pix2pix.Pix2Pix(generator)
    ```
    """

    def __init__(self, network, prior, **kwargs):
        axis = channel_axis()
        shape = list(network.input_shape[1:])
        if image_channels(shape) is None or image_channels(shape) < 2:
            raise ValueError(
                "The network of a `PriorResidualGenerator` must take the source "
                "channels plus one for the prior's guess (at least 2). Received a "
                f"network with input shape {tuple(shape)}."
            )
        shape[axis] -= 1
        target_channels = network.output_shape[axis]

        # === Functional model ===
        inputs = keras.Input(shape=tuple(shape), name="source")
        guess = prior(inputs)
        if guess.shape[axis] != target_channels:
            raise ValueError(
                f"The prior's guess has {guess.shape[axis]} channels; the "
                f"network outputs {target_channels}. They must be equal."
            )
        x = keras.layers.Concatenate(axis=axis, name="source_and_guess")(
            [inputs, guess]
        )
        correction = network(x)
        x = keras.layers.Add(dtype="float32", name="guess_plus_correction")(
            [guess, correction]
        )
        outputs = keras.layers.Activation(
            _clip_to_unit_range, dtype="float32", name="clip"
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.network = network
        self.prior = prior

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "network": keras.layers.serialize(self.network),
            "prior": keras.layers.serialize(self.prior),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("network", "prior"):
            config[key] = keras.layers.deserialize(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
def _clip_to_unit_range(x):
    return keras.ops.clip(x, -1.0, 1.0)
