"""What synthesis needs of a model: its input image shape, and batched prediction.

A model is a `Pix2Pix` (its `generator` gives the input shape) or any Keras
model taking `(batch, height, width, channels)` images; images go in and come
out channels last whatever `keras.config.image_data_format()` is.

Example:
```python
from keras_pix2pix.synthesis import model_input_channels

model_input_channels(model)  # 1 for a model trained on single slices
```
"""

import numpy as np

from keras_pix2pix.errors import DataError


def _model_image_shape(model):
    """(height, width, channels) of the model's input images, channels last."""
    import keras

    network = getattr(model, "generator", model)
    try:
        shape = tuple(network.input_shape)
    except (AttributeError, ValueError) as error:
        raise DataError(
            "The model must be a Pix2Pix model or a built Keras generator with a "
            f"known input shape: {error}"
        ) from error
    if isinstance(shape[0], (tuple, list)) or len(shape) != 4:
        raise DataError(
            "The model must take one batch of 2-D images (batch, height, width, "
            f"channels). Received input shape {shape}."
        )
    if keras.config.image_data_format() == "channels_first":
        return shape[2], shape[3], shape[1]
    return shape[1], shape[2], shape[3]


def model_input_channels(model) -> int:
    """The channels of the images `model` (a Pix2Pix or a generator) takes."""
    return int(_model_image_shape(model)[2])


def _predict(model, images, batch_size):
    """Runs the model on (N, H, W, C) images; returns (N, H, W, C') float32."""
    import keras

    channels_first = keras.config.image_data_format() == "channels_first"
    if channels_first:
        images = np.transpose(images, (0, 3, 1, 2))
    outputs = model.predict(images, batch_size=batch_size, verbose=0)
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs), np.float32)
    if channels_first:
        outputs = np.transpose(outputs, (0, 2, 3, 1))
    return outputs


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise DataError(
            f"`batch_size` must be a positive int. Received: {batch_size!r}"
        )
    if batch_size < 1:
        raise DataError(f"`batch_size` must be a positive int. Received: {batch_size}")
