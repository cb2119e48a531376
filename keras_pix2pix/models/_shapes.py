"""Validation of the image shapes and arguments the networks are built for."""

import numbers

from keras_pix2pix.layers._conventions import channel_axis


def check_image_shape(shape, divisor=1, argument="input_shape"):
    """Checks that `shape` describes one image the networks can take.

    Args:
        shape: tuple. Image shape without the batch axis, in the configured
            data format: `(height, width, channels)` for channels_last.
        divisor: int. Height and width must be multiples of it.
        argument: str. Argument name used in the error message.

    Raises:
        ValueError: naming `argument`, if the shape is not three positive
            ints or its height or width is not a multiple of `divisor`.
    """
    if len(shape) != 3 or any(not isinstance(d, int) or d < 1 for d in shape):
        order = (
            "height, width, channels"
            if channel_axis() == -1
            else "channels, height, width"
        )
        raise ValueError(
            f"`{argument}` must be three positive ints ({order}). "
            f"Received: {argument}={shape!r}"
        )
    if any(size % divisor for size in image_spatial_size(shape)):
        raise ValueError(
            f"The height and width in `{argument}` must be divisible by {divisor}. "
            f"Received: {argument}={tuple(shape)}. Pad or crop the images to a "
            "multiple of it, or use fewer down-sampling blocks."
        )


def _channel_index():
    """Index of the channels in an image shape without the batch axis."""
    return -1 if channel_axis() == -1 else 0


def image_channels(shape):
    """The channels of an image shape without the batch axis.

    Args:
        shape: tuple. `(height, width, channels)` for channels_last,
            `(channels, height, width)` for channels_first.

    Returns:
        The number of channels.
    """
    return shape[_channel_index()]


def image_spatial_size(shape):
    """The `(height, width)` of an image shape without the batch axis.

    Args:
        shape: tuple, as for `image_channels`.

    Returns:
        The height and width, as a tuple.
    """
    return tuple(shape[:2] if _channel_index() == -1 else shape[1:])


def check_arguments(minimum=1, **values):
    """Checks that integer arguments are ints of at least `minimum`.

    Args:
        minimum: int. The smallest value allowed.
        **values: argument name -> value; `None` values are skipped.

    Raises:
        ValueError: naming the first argument that is not such an int.
    """
    for argument, value in values.items():
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or value < minimum
        ):
            raise ValueError(
                f"`{argument}` must be an int >= {minimum}. "
                f"Received: {argument}={value!r}"
            )


def check_rate(rate, argument="dropout"):
    """Checks that a dropout rate is a number in [0, 1).

    Raises:
        ValueError: naming `argument`, otherwise.
    """
    if (
        isinstance(rate, bool)
        or not isinstance(rate, (int, float))
        or not (0 <= rate < 1)
    ):
        raise ValueError(
            f"`{argument}` must be a rate in [0, 1). Received: {argument}={rate!r}"
        )


def with_channels(shape, channels):
    """Returns an image `shape` (no batch axis) with `channels` channels."""
    shape = list(shape)
    shape[_channel_index()] = channels
    return tuple(shape)
