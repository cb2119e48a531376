import math

import keras

from keras_pix2pix.errors import DataError


def check_sample_weight(
    sample_weight, images=None, *, name="sample_weight", channels_last=True
):
    """Raises `DataError` unless `sample_weight` can weight a batch of images.

    Weights of the reconstruction loss are one per image `(N,)` or one per
    pixel, `(N, H, W)` or with a channel axis of size 1, and finite and
    non-negative. `Pix2Pix` and `PairedSliceDataset` check their weights here.

    Args:
        sample_weight: an array or tensor of weights.
        images: the shape of the 4-D images the weights go with, or `None`
            where it is unknown (then only the rank of the weights is checked).
        name: the argument's name, for the message.
        channels_last: whether `images` is `(N, H, W, C)` (else
            `(N, C, H, W)`), and so where a pixel weight's channel axis goes.

    Raises:
        DataError: if the weights have another shape, or a negative or
            non-finite value.

    Example:
    ```python
    check_sample_weight(np.ones((8, 64, 64)), (8, 64, 64, 1))  # passes
    check_sample_weight(np.ones((8, 32)), (8, 64, 64, 1))  # raises DataError
    ```
    """
    shape = tuple(sample_weight.shape)
    if images is not None and len(images) == 4:
        count = images[0]
        spatial = tuple(images[1:3] if channels_last else images[2:4])
        channel = (count, *spatial, 1) if channels_last else (count, 1, *spatial)
        allowed = ((count,), (count, *spatial), channel)
        if shape not in allowed:
            raise DataError(
                f"`{name}` has shape {shape}, but the images have shape "
                f"{tuple(images)}: give one weight per image {allowed[0]} or one "
                f"per pixel {allowed[1]} or {allowed[2]}."
            )
    elif len(shape) not in (1, 3, 4):
        pixel = "(N, H, W, 1)" if channels_last else "(N, 1, H, W)"
        raise DataError(
            f"`{name}` has shape {shape}; give one weight per image (N,) or one "
            f"per pixel (N, H, W) or {pixel}."
        )
    values = keras.ops.convert_to_numpy(sample_weight)
    if not (values >= 0).all() or not math.isfinite(float(values.sum())):
        raise DataError(
            f"`{name}` must be finite and non-negative; its smallest value is "
            f"{values.min()}."
        )
