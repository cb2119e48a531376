"""Per-image quality measures: PSNR, SSIM and mean absolute error.

Every function takes a batch of channels_last images `(batch, height, width,
channels)`, computes in float32 whatever the input dtype, and returns one
value per image, shape `(batch,)`. They use `keras.ops` only, so they run
inside a compiled train or test step on every backend.

The values match scikit-image (see each function for the exact settings), so
numbers reported during training can be checked offline with `skimage`.
"""

import numpy as np
from keras import ops

# Wang et al. 2004: an 11x11 Gaussian window with sigma 1.5, K1 and K2.
SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _as_float32_images(y_true, y_pred):
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    for argument, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if len(tensor.shape) != 4:
            raise ValueError(
                f"`{argument}` must be a batch of channels_last images of rank 4 "
                f"(batch, height, width, channels). Received shape: {tensor.shape}"
            )
    return y_true, y_pred


def _as_float32_mask(mask):
    """Returns `mask` as float32 of rank 4, ready to broadcast over a batch.

    Rank 2 is `(height, width)`, rank 3 `(batch, height, width)` and rank 4
    `(batch or 1, height, width, 1 or channels)`.
    """
    mask = ops.cast(ops.convert_to_tensor(mask), "float32")
    rank = len(mask.shape)
    if rank == 2:
        return mask[None, :, :, None]
    if rank == 3:
        return mask[:, :, :, None]
    if rank == 4:
        return mask
    raise ValueError(
        "`mask` must have shape (height, width), (batch, height, width) or "
        f"(batch, height, width, 1 or channels). Received shape: {mask.shape}"
    )


def _mean_per_image(values, mask=None):
    """Mean of `values` over height, width and channels, within `mask`."""
    axes = (1, 2, 3)
    if mask is None:
        return ops.mean(values, axis=axes)
    weights = mask + ops.zeros_like(values)  # broadcast over batch and channels
    return ops.sum(values * weights, axis=axes) / ops.sum(weights, axis=axes)


def psnr(y_true, y_pred, data_range, mask=None):
    """Peak signal-to-noise ratio of each image, in decibels.

    `10 * log10(data_range**2 / MSE)`, the mean squared error taken over
    height, width and channels of each image (only over the pixels of `mask`
    when one is given). It equals
    `skimage.metrics.peak_signal_noise_ratio(y_true[i], y_pred[i],
    data_range=data_range)` for each image `i`.

    Identical images (MSE of 0) give `inf`, as in scikit-image; an empty mask
    gives `nan`.

    Args:
        y_true: tensor of shape `(batch, height, width, channels)`. Reference
            images.
        y_pred: tensor of the same shape. Images to assess.
        data_range: float. Distance between the smallest and largest value
            the images can take: 2.0 for images in [-1, 1], 1.0 for [0, 1],
            255.0 for 8-bit images.
        mask: optional tensor, boolean or 0/1, of shape `(height, width)`,
            `(batch, height, width)` or `(batch, height, width, 1)`: the
            pixels to assess (other values act as weights). Applies to every
            channel.

    Returns:
        A float32 tensor of shape `(batch,)`.

    Example:
    ```python
    y_true = np.random.uniform(-1, 1, (4, 64, 64, 1))
    y_pred = y_true + np.random.normal(0, 0.05, y_true.shape)
    keras_pix2pix.metrics.psnr(y_true, y_pred, data_range=2.0)  # about 32 dB
    ```
    """
    y_true, y_pred = _as_float32_images(y_true, y_pred)
    if mask is not None:
        mask = _as_float32_mask(mask)
    mse = _mean_per_image(ops.square(y_true - y_pred), mask)
    data_range = ops.cast(data_range, "float32")
    return 10.0 * ops.log10(ops.square(data_range) / mse)


def mae(y_true, y_pred, mask=None):
    """Mean absolute error of each image.

    The mean of `|y_true - y_pred|` over height, width and channels (only
    over the pixels of `mask` when one is given).

    Args:
        y_true: tensor of shape `(batch, height, width, channels)`. Reference
            images.
        y_pred: tensor of the same shape. Images to assess.
        mask: optional tensor, boolean or 0/1, of shape `(height, width)`,
            `(batch, height, width)` or `(batch, height, width, 1)`: the
            pixels to assess (other values act as weights). Applies to every
            channel.

    Returns:
        A float32 tensor of shape `(batch,)`.

    Example:
    ```python
    y_true = np.zeros((2, 8, 8, 1))
    keras_pix2pix.metrics.mae(y_true, y_true + 0.5)  # [0.5, 0.5]
    ```
    """
    y_true, y_pred = _as_float32_images(y_true, y_pred)
    if mask is not None:
        mask = _as_float32_mask(mask)
    return _mean_per_image(ops.abs(y_true - y_pred), mask)


def _gaussian_window(size, sigma):
    """The normalized 1-D Gaussian that `scipy.ndimage.gaussian_filter` uses."""
    radius = (size - 1) // 2
    offsets = np.arange(-radius, radius + 1, dtype="float64")
    window = np.exp(-0.5 * (offsets / sigma) ** 2)
    return window / window.sum()


def _gaussian_filter_valid(images, size=SSIM_FILTER_SIZE, sigma=SSIM_FILTER_SIGMA):
    """Separable Gaussian filter of each channel, keeping only full windows."""
    channels = images.shape[-1]
    window = _gaussian_window(size, sigma).astype("float32")
    # Depthwise kernels: (rows, columns, channels, multiplier 1).
    vertical = np.tile(window.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    horizontal = np.tile(window.reshape(1, size, 1, 1), (1, 1, channels, 1))
    for kernel in (vertical, horizontal):
        images = ops.depthwise_conv(
            images,
            ops.convert_to_tensor(kernel),
            strides=1,
            padding="valid",
            data_format="channels_last",
        )
    return images


def ssim(y_true, y_pred, data_range, mask=None):
    """Structural similarity (SSIM) of each image.

    The SSIM of Wang et al. (2004): local means, variances and covariance
    weighted by an 11x11 Gaussian window (sigma 1.5), population
    (not sample) covariance, `K1 = 0.01`, `K2 = 0.03`. The SSIM map is
    computed only where the window fits inside the image ("valid"
    filtering, which drops a 5-pixel border), then averaged over its pixels
    and over channels. For each image `i` this equals

    ```python
    skimage.metrics.structural_similarity(
        y_true[i], y_pred[i], data_range=data_range, channel_axis=-1,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )
    ```

    (scikit-image filters the whole image, then crops the same 5-pixel
    border before averaging, so its border padding mode never matters.)
    Identical images give 1.

    With a mask, the SSIM map (cropped like the images) is averaged over the
    pixels of the mask that lie inside the cropped region only.

    Args:
        y_true: tensor of shape `(batch, height, width, channels)`, height
            and width at least 11. Reference images.
        y_pred: tensor of the same shape. Images to assess.
        data_range: float. Distance between the smallest and largest value
            the images can take: 2.0 for images in [-1, 1], 1.0 for [0, 1],
            255.0 for 8-bit images.
        mask: optional tensor, boolean or 0/1, of shape `(height, width)`,
            `(batch, height, width)` or `(batch, height, width, 1)`: the
            pixels to assess (other values act as weights). Applies to every
            channel.

    Returns:
        A float32 tensor of shape `(batch,)`, values in [-1, 1].

    Example:
    ```python
    y_true = np.random.uniform(-1, 1, (4, 64, 64, 3))
    keras_pix2pix.metrics.ssim(y_true, y_true, data_range=2.0)  # [1, 1, 1, 1]
    ```

    Reference:
        - [Wang et al., 2004](https://doi.org/10.1109/TIP.2003.819861)
    """
    y_true, y_pred = _as_float32_images(y_true, y_pred)
    _, height, width, channels = y_true.shape
    for extent in (height, width):
        if extent is not None and extent < SSIM_FILTER_SIZE:
            raise ValueError(
                f"`ssim` needs images of at least {SSIM_FILTER_SIZE}x"
                f"{SSIM_FILTER_SIZE} pixels. Received shape: {y_true.shape}"
            )
    if channels is None:
        raise ValueError("`ssim` needs a known number of channels.")

    # Variances and covariance do not change when both images move by the
    # same constant; centering first keeps float32 accurate at large ranges.
    offset = ops.mean(y_true, axis=(1, 2), keepdims=True)
    x = y_true - offset
    y = y_pred - offset
    moments = _gaussian_filter_valid(
        ops.concatenate([x, y, x * x, y * y, x * y], axis=-1)
    )
    mean_x, mean_y, mean_xx, mean_yy, mean_xy = ops.split(moments, 5, axis=-1)
    variance_x = mean_xx - ops.square(mean_x)
    variance_y = mean_yy - ops.square(mean_y)
    covariance = mean_xy - mean_x * mean_y
    mean_x = mean_x + offset
    mean_y = mean_y + offset

    data_range = ops.cast(data_range, "float32")
    c1 = ops.square(SSIM_K1 * data_range)
    c2 = ops.square(SSIM_K2 * data_range)
    ssim_map = ((2.0 * mean_x * mean_y + c1) * (2.0 * covariance + c2)) / (
        (ops.square(mean_x) + ops.square(mean_y) + c1) * (variance_x + variance_y + c2)
    )

    if mask is not None:
        border = (SSIM_FILTER_SIZE - 1) // 2
        mask = _as_float32_mask(mask)
        mask = mask[:, border:-border, border:-border]
    return _mean_per_image(ssim_map, mask)
