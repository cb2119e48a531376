"""The networks under `keras.config.set_image_data_format("channels_first")`.

Kernels have the same layout in both formats, so a network built in either
format with the same weights must give the same images, transposed.
"""

import keras
import numpy as np
import pytest

from keras_pix2pix import Pix2Pix
from keras_pix2pix.models import (
    PatchGANDiscriminator,
    PixelDiscriminator,
    ResNetGenerator,
    UNetGenerator,
)

NETWORKS = {
    "unet": lambda shape: UNetGenerator(
        input_shape=shape, filters=4, num_downsampling_blocks=4
    ),
    "resnet": lambda shape: ResNetGenerator(
        input_shape=shape, filters=4, num_residual_blocks=2
    ),
    "patchgan": lambda shape: PatchGANDiscriminator(
        input_shape=shape, filters=4, num_layers=2
    ),
    "pixel": lambda shape: PixelDiscriminator(input_shape=shape, filters=4),
}


def _channels_first_convolution_error():
    """Why this backend cannot convolve channels_first tensors here, or None.

    TensorFlow's CPU Conv2D takes NCHW only when its oneDNN kernels are on,
    which TensorFlow decides from the CPU's instruction set.
    """
    layer = keras.layers.Conv2D(1, 1, data_format="channels_first")
    try:
        layer(np.zeros((1, 1, 2, 2), "float32"))
    # The backend's own error type: tf.errors.UnimplementedError on TensorFlow.
    except Exception as error:
        return (
            f"{keras.backend.backend()} raised {type(error).__name__} on a "
            "channels_first Conv2D on this device"
        )
    return None


_UNSUPPORTED = _channels_first_convolution_error()
pytestmark = pytest.mark.skipif(_UNSUPPORTED is not None, reason=str(_UNSUPPORTED))


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format("channels_last")


def _to_first(images):
    return np.ascontiguousarray(np.moveaxis(images, -1, 1))


@pytest.mark.parametrize("name", list(NETWORKS))
def test_same_weights_same_outputs_in_both_formats(name):
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3))
    images = images.astype("float32")
    last = NETWORKS[name]((16, 16, 3))
    inputs = [images, images] if "gan" in name or name == "pixel" else images
    expected = keras.ops.convert_to_numpy(last(inputs, training=False))
    keras.config.set_image_data_format("channels_first")
    try:
        first = NETWORKS[name]((3, 16, 16))
        first.set_weights(last.get_weights())
        moved = _to_first(images)
        inputs = [moved, moved] if "gan" in name or name == "pixel" else moved
        outputs = keras.ops.convert_to_numpy(first(inputs, training=False))
    finally:
        keras.config.set_image_data_format("channels_last")
    # Generators keep the input's 3 channels by default; discriminators give 1.
    assert outputs.shape[1] == (3 if name in ("unet", "resnet") else 1)
    np.testing.assert_allclose(outputs, _to_first(expected), atol=1e-5)


def _tiny_pix2pix(shape):
    """A compiled 4-filter Pix2Pix for channels-first images of `shape`."""
    model = Pix2Pix(
        UNetGenerator(input_shape=shape, filters=4, num_downsampling_blocks=4),
        PatchGANDiscriminator(input_shape=shape, filters=4, num_layers=2),
    )
    model.compile()
    return model


def test_pix2pix_trains_channels_first(channels_first):
    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (4, 1, 16, 16)).astype("float32")
    target = -source
    model = _tiny_pix2pix((1, 16, 16))
    history = model.fit(source, target, batch_size=2, epochs=4, verbose=0)
    losses = history.history["reconstruction_loss"]
    assert losses[-1] < losses[0]
    assert model.predict(source, verbose=0).shape == source.shape


def test_pixel_weights_channels_first(channels_first):
    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (2, 2, 16, 16)).astype("float32")
    target = -source
    model = _tiny_pix2pix((2, 16, 16))
    fake = model.predict(source, verbose=0)
    # Weights per pixel, (N, 1, H, W): the top rows only.
    weight = np.zeros((2, 1, 16, 16), "float32")
    weight[:, :, :5] = 1.0
    logs = model.evaluate(
        source, target, sample_weight=weight, verbose=0, return_dict=True
    )
    expected = np.mean(np.abs(target - fake) * weight)
    assert logs["reconstruction_loss"] == pytest.approx(expected, rel=1e-4)
    with pytest.raises(
        ValueError, match=r"per pixel \(2, 16, 16\) or \(2, 1, 16, 16\)"
    ):
        model.evaluate(source, target, sample_weight=weight[:, :, :, :8], verbose=0)
