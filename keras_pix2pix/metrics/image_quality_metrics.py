"""Keras metrics averaging PSNR, SSIM and MAE over every image seen."""

import keras

from keras_pix2pix.metrics.image_quality import mae, psnr, ssim


class _RangeMetric(keras.metrics.MeanMetricWrapper):
    """The mean of a per-image quality function that takes a data range.

    Subclasses set `function` (the per-image function) and `default_name`.
    """

    function = None
    default_name = None

    def __init__(self, data_range=2.0, name=None, dtype=None):
        super().__init__(
            fn=type(self).function,
            name=name or self.default_name,
            dtype=dtype,
            data_range=data_range,
        )
        self.data_range = data_range
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "data_range": self.data_range}


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class PSNR(_RangeMetric):
    """Peak signal-to-noise ratio, averaged over all images seen, in decibels.

    Computes `keras_pix2pix.metrics.psnr` for each image of a batch of
    channels_last images and keeps the mean over every image passed to
    `update_state` since the last `reset_state` (a sample weight weighs each
    image). A pair of identical images makes the mean `inf`.

    Args:
        data_range: float. Distance between the smallest and largest value
            the images can take. Defaults to 2.0, for images in [-1, 1] like
            the outputs of a `tanh` generator.
        name: string. Name of the metric instance.
        dtype: data type of the metric result.

    Example:
    ```python
    model.compile(
        optimizer="adam",
        loss="mae",
        metrics=[keras_pix2pix.metrics.PSNR(), keras_pix2pix.metrics.SSIM()],
    )
    ```
    """

    function = staticmethod(psnr)
    default_name = "psnr"


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class SSIM(_RangeMetric):
    """Structural similarity (SSIM), averaged over all images seen.

    Computes `keras_pix2pix.metrics.ssim` (11x11 Gaussian window, sigma 1.5,
    matching `skimage.metrics.structural_similarity` with
    `gaussian_weights=True, use_sample_covariance=False`) for each image of a
    batch of channels_last images, and keeps the mean over every image passed
    to `update_state` since the last `reset_state`.

    Args:
        data_range: float. Distance between the smallest and largest value
            the images can take. Defaults to 2.0, for images in [-1, 1] like
            the outputs of a `tanh` generator.
        name: string. Name of the metric instance.
        dtype: data type of the metric result.

    Example:
    ```python
    metric = keras_pix2pix.metrics.SSIM(data_range=1.0)
    metric.update_state(y_true, y_pred)
    metric.result()
    ```
    """

    function = staticmethod(ssim)
    default_name = "ssim"


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class MAE(keras.metrics.MeanMetricWrapper):
    """Mean absolute error, averaged over all images seen.

    Computes `keras_pix2pix.metrics.mae` for each image of a batch and keeps
    the mean over every image passed to `update_state` since the last
    `reset_state`. With equal-sized images this is the mean absolute error
    over all pixels, like `keras.metrics.MeanAbsoluteError`.

    Args:
        name: string. Name of the metric instance.
        dtype: data type of the metric result.

    Example:
    ```python
    metric = keras_pix2pix.metrics.MAE()
    metric.update_state(y_true, y_pred)
    metric.result()
    ```
    """

    def __init__(self, name="mae", dtype=None):
        super().__init__(fn=mae, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
