"""Conventions shared by every network in the package.

The reference pix2pix initialises convolution kernels from N(0, 0.02) and
BatchNorm scales from N(1, 0.02), and uses PyTorch's BatchNorm momentum (0.1,
which is 0.9 in Keras's convention) and epsilon (1e-5). Instance normalization
in the reference has no learned affine parameters.
"""

import keras

NORMS = ("batch", "instance", None)


def channel_axis():
    """Returns the channel axis of image tensors for the configured format."""
    return -1 if keras.config.image_data_format() == "channels_last" else 1


def conv_kernel_initializer():
    """Returns a fresh N(0, 0.02) initializer, as in the reference."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def conv_padding(size, kernel_size, stride, padding):
    """Returns Keras's padding of a convolution along one spatial axis.

    Args:
        size: the input's length along the axis.
        kernel_size: the kernel's length along the axis.
        stride: the stride along the axis.
        padding: `"valid"` or `"same"`; with `"same"` the extra pixel of an
            odd total padding goes after, as in Keras (and TensorFlow).

    Returns:
        `(before, after, output_size)`.
    """
    if padding == "valid":
        return 0, 0, (size - kernel_size) // stride + 1
    output_size = -(-size // stride)
    total = max((output_size - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2, output_size


def check_norm(norm):
    """Raises a `ValueError` unless `norm` is one of `NORMS`."""
    if norm not in NORMS:
        raise ValueError(
            "`norm` must be one of 'batch', 'instance' or None. "
            f"Received: norm={norm!r}"
        )


def default_use_bias(norm, use_bias):
    """Resolves `use_bias=None`: a bias only where no batch norm follows.

    The reference turns the bias off wherever BatchNorm is the norm layer (it
    has its own shift) and keeps it with instance norm (no affine parameters)
    or with no normalization.
    """
    return norm != "batch" if use_bias is None else use_bias


def normalization_layer(norm, dtype=None, name=None):
    """Builds the normalization layer named by `norm`, or returns None.

    Args:
        norm: `"batch"`, `"instance"` or `None`.
        dtype: dtype policy of the new layer.
        name: name of the new layer.

    Returns:
        A `keras.layers.Layer`, or `None` when `norm` is `None`.
    """
    check_norm(norm)
    if norm == "batch":
        return keras.layers.BatchNormalization(
            axis=channel_axis(),
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
            dtype=dtype,
            name=name,
        )
    if norm == "instance":
        return keras.layers.GroupNormalization(
            groups=-1,
            axis=channel_axis(),
            epsilon=1e-5,
            center=False,
            scale=False,
            dtype=dtype,
            name=name,
        )
    return None
