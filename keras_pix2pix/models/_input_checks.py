"""Checks of what `Pix2Pix` is given: its two networks, and arrays to train on.

Each raises with a message naming the argument at fault and what it must
be: `ValueError` for networks that do not fit together, `DataError` for
arrays of images or weights that cannot feed them. Datasets and generators,
which have no `shape`, are not checked.
"""

import keras

from keras_pix2pix.errors import DataError
from keras_pix2pix.layers._conventions import channel_axis
from keras_pix2pix.utils.sample_weights import check_sample_weight


def check_networks(generator, discriminator):
    """Raises `ValueError` unless the discriminator judges the generator's pairs."""
    if (
        not isinstance(discriminator.input, (list, tuple))
        or len(discriminator.input) != 2
    ):
        raise ValueError(
            "The discriminator must take two inputs, [source, target]. "
            f"Received a discriminator with inputs {discriminator.input}."
        )
    source_shape = tuple(discriminator.input[0].shape[1:])
    target_shape = tuple(discriminator.input[1].shape[1:])
    if source_shape != tuple(generator.input_shape[1:]) or target_shape != tuple(
        generator.output_shape[1:]
    ):
        raise ValueError(
            "The discriminator's inputs must match the generator's input and "
            f"output shapes: got discriminator inputs {source_shape} and "
            f"{target_shape}, generator {tuple(generator.input_shape[1:])} -> "
            f"{tuple(generator.output_shape[1:])}."
        )


def _check_image_array(images, name, network_shape):
    """Raises `DataError` if an array of images cannot feed `network_shape`."""
    shape = getattr(images, "shape", None)
    if shape is None or not hasattr(images, "dtype"):
        return
    shape, expected = tuple(shape), tuple(network_shape[1:])
    try:
        dtype = keras.backend.standardize_dtype(images.dtype)
    except ValueError:
        dtype = str(images.dtype)
    if not dtype.startswith(("float", "bfloat")):
        raise DataError(
            f"The {name} images are of dtype {dtype}; Pix2Pix needs "
            "floating-point images scaled to [-1, 1]. Convert them, e.g. "
            "`images.astype('float32') / 127.5 - 1` for 8-bit images."
        )
    if len(shape) != len(expected) + 1 or any(
        want is not None and want != got
        for want, got in zip(expected, shape[1:], strict=True)
    ):
        raise DataError(
            f"The {name} images have shape {shape}, but the model takes "
            f"batches of shape (N, {', '.join(map(str, expected))}) "
            f"({keras.config.image_data_format()}). Add the channel axis, "
            "resize or crop the images and match the number of channels, "
            "or build the model for these images."
        )


def check_image_arrays(generator, source, target=None, role=""):
    """Raises `DataError` if arrays of images cannot feed the networks.

    Arrays and tensors are checked (rank, per-image shape, floating dtype,
    as many targets as sources); datasets and generators are not.

    Args:
        generator: the model's generator.
        source: the source images given to `fit`, `evaluate`, ...
        target: the target images, or `None`.
        role: prefix of the names in the messages, e.g. `"validation "`.
    """
    _check_image_array(source, f"{role}source", generator.input_shape)
    _check_image_array(target, f"{role}target", generator.output_shape)
    count = [len(a) for a in (source, target) if hasattr(a, "shape")]
    if len(count) == 2 and count[0] != count[1]:
        raise DataError(
            f"The {role}source and target arrays hold {count[0]} and "
            f"{count[1]} images: they must be pairs, target i for source i."
        )


def check_weight_array(sample_weight, source, role=""):
    """Raises `DataError` if an array of weights cannot weight `source`.

    Tensors and arrays are checked (see `check_sample_weight`), `None` is
    not.
    """
    if sample_weight is None or not hasattr(sample_weight, "shape"):
        return
    images = getattr(source, "shape", None)
    check_sample_weight(
        sample_weight,
        None if images is None else tuple(images),
        name=f"{role}sample_weight",
        channels_last=channel_axis() == -1,
    )
