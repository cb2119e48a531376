"""Baselines any learned image-to-image model must beat.

`HistogramMapping` predicts each target pixel from the source pixel's
intensity alone: the mean target intensity of that source intensity, learned
from training pairs. For T1 -> T2 MRI it captures the contrast inversion
between tissues (white matter bright in T1, dark in T2) but nothing that needs
context (CSF and grey matter of similar T1 intensity, partial volumes, edges).
A synthesis model that does not beat it clearly has learned no more than a
look-up table. Only numpy is needed.
"""

import numpy as np

from keras_pix2pix.errors import DataError


class HistogramMapping:
    """A per-pixel intensity mapping from source to target images.

    `fit` splits the source range into `bins` equal bins and stores the mean
    target intensity of the pixels in each (bins no training pixel falls in
    take values interpolated from their neighbours); `predict` looks each
    source pixel's bin up. With images scaled to [-1, 1] (as every dataset of
    this library gives them) the default range fits.

    Args:
        bins: number of equal intensity bins.
        value_range: `(low, high)` of the source intensities; values outside
            are clipped into the first or last bin.

    Example:
    ```python
    import numpy as np
    from keras_pix2pix.baselines import HistogramMapping

    source = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1))
    target = -source  # a contrast inversion
    mapping = HistogramMapping().fit(source, target)
    np.abs(mapping.predict(source) - target).max() < 0.01  # True
    ```
    """

    def __init__(self, bins: int = 256, value_range: tuple[float, float] = (-1, 1)):
        if isinstance(bins, bool) or int(bins) != bins or bins < 1:
            raise DataError(f"`bins` must be a positive int. Received: {bins!r}")
        low, high = value_range
        if not high > low:
            raise DataError(
                f"`value_range` must be (low, high) with high > low. Received: "
                f"{value_range!r}"
            )
        self.bins = int(bins)
        self.value_range = (float(low), float(high))
        self.table = None

    def _bin(self, images):
        low, high = self.value_range
        scaled = (np.asarray(images, np.float64) - low) / (high - low) * self.bins
        return np.clip(scaled, 0, self.bins - 1).astype(np.int64)

    def fit(self, source: np.ndarray, target: np.ndarray) -> "HistogramMapping":
        """Learns the mean target intensity of each source intensity bin.

        Args:
            source: source images, any shape.
            target: target images of the same shape.

        Returns:
            This mapping, fitted.

        Raises:
            DataError: if the shapes differ, the arrays are empty or hold a
                non-finite value.
        """
        source, target = np.asarray(source), np.asarray(target)
        if source.shape != target.shape or source.size == 0:
            raise DataError(
                "`source` and `target` must be non-empty arrays of one shape. "
                f"Received {source.shape} and {target.shape}."
            )
        if not (np.isfinite(source).all() and np.isfinite(target).all()):
            raise DataError("`source` and `target` must be finite (no NaN or inf).")
        index = self._bin(source).ravel()
        sums = np.bincount(index, target.ravel(), minlength=self.bins)
        counts = np.bincount(index, minlength=self.bins)
        seen = np.flatnonzero(counts)
        means = sums[seen] / counts[seen]
        self.table = np.interp(np.arange(self.bins), seen, means).astype(np.float32)
        return self

    def predict(self, source: np.ndarray) -> np.ndarray:
        """Maps each source pixel to the mean target of its intensity bin.

        Args:
            source: source images, any shape.

        Returns:
            A `float32` array of `source`'s shape.

        Raises:
            DataError: if the mapping was not fitted.
        """
        if self.table is None:
            raise DataError("Call `fit(source, target)` before `predict`.")
        return self.table[self._bin(source)]

    def as_layer(self, channel: int = 0, **kwargs):
        """The fitted mapping as a Keras layer, to carry inside a model.

        Args:
            channel: the input channel the layer maps (the centre slice of a
                2.5-D input with `context` neighbours on each side:
                `context`).
            **kwargs: passed to `keras_pix2pix.layers.IntensityLookup`
                (`name`, `dtype`).

        Returns:
            An `IntensityLookup` layer holding this mapping's table; it maps
            images as `predict` does, on any Keras backend.

        Raises:
            DataError: if the mapping was not fitted.
        """
        if self.table is None:
            raise DataError("Call `fit(source, target)` before `as_layer`.")
        from keras_pix2pix.layers import IntensityLookup

        return IntensityLookup(
            bins=self.bins,
            value_range=self.value_range,
            channel=channel,
            table=self.table,
            **kwargs,
        )


def histogram_prior(source: np.ndarray, target: np.ndarray, name="histogram_prior"):
    """A `HistogramMapping` from the source's middle channel, as a layer.

    The guess a `PriorResidualGenerator` corrects (`NetworkSpec.build(...,
    prior=...)`): the mapping is fitted on the centre slice of 2.5-D sources
    (`2 * context + 1` channels) and maps that channel.

    Args:
        source: training sources `(N, H, W, C)`, channels last, C odd.
        target: training targets `(N, H, W, 1)`.
        name: the layer's name.

    Returns:
        An `IntensityLookup` layer.

    Raises:
        DataError: if the target has more than one channel.

    Example:
    ```python
    prior = histogram_prior(t1_train, t2_train)
    model = NetworkSpec().build(t1_train.shape[1:], 1, prior=prior)
    ```
    """
    if target.shape[-1] != 1:
        raise DataError(
            "A histogram prior needs one-channel targets; the targets have "
            f"{target.shape[-1]} channels."
        )
    middle = source.shape[-1] // 2
    mapping = HistogramMapping().fit(source[..., middle : middle + 1], target)
    return mapping.as_layer(channel=middle, name=name)
