"""`PairedSliceDataset`: batches of (source, target) slices for `Pix2Pix.fit`.

A `keras.utils.PyDataset`, so it feeds every Keras backend (TensorFlow, torch,
JAX) without TensorFlow, with optional worker threads or processes. Batches
are plain numpy arrays.

Example:
```python
from keras_pix2pix.datasets.slice_dataset import PairedSliceDataset

dataset = PairedSliceDataset(t1, t2, batch_size=1, shuffle=True, augment=True)
model.fit(dataset, epochs=100)
```
"""

import math

import keras
import numpy as np

from keras_pix2pix.errors import DataError
from keras_pix2pix.utils.sample_weights import check_sample_weight

INTERPOLATIONS = ("nearest", "bilinear")
# The reference pix2pix resizes 256 x 256 images to 286 x 286, then crops 256.
JITTER_SCALE = 286 / 256


def _resize_axis(batch, axis, size, interpolation):
    """Resizes one axis of `batch`, pixel centres aligned (half-pixel offsets)."""
    length = batch.shape[axis]
    if length == size:
        return batch
    position = (np.arange(size) + 0.5) * (length / size) - 0.5
    if interpolation == "nearest":
        index = np.clip(np.floor(position + 0.5).astype(int), 0, length - 1)
        return np.take(batch, index, axis=axis)
    position = np.clip(position, 0, length - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, length - 1)
    shape = [1] * batch.ndim
    shape[axis] = size
    weight = (position - low).astype(np.float32).reshape(shape)
    return (
        np.take(batch, low, axis=axis) * (1 - weight)
        + np.take(batch, high, axis=axis) * weight
    )


def resize_batch(
    batch: np.ndarray, height: int, width: int, interpolation: str = "bilinear"
) -> np.ndarray:
    """Resizes a batch of images `(B, H, W, C)` with numpy only.

    Pixel centres are aligned as in `keras.ops.image.resize` (half-pixel
    offsets, no corner alignment); values beyond the edge repeat the edge.

    Args:
        batch: array `(B, H, W, C)`.
        height: output height.
        width: output width.
        interpolation: `"nearest"` or `"bilinear"`.

    Returns:
        A `float32` array `(B, height, width, C)`.

    Raises:
        DataError: if `interpolation` is unknown.

    Example:
    ```python
    resize_batch(np.zeros((2, 256, 256, 1)), 286, 286).shape  # (2, 286, 286, 1)
    ```
    """
    if interpolation not in INTERPOLATIONS:
        raise DataError(
            f"`interpolation` must be one of {INTERPOLATIONS}. "
            f"Received: {interpolation!r}"
        )
    out = np.asarray(batch, np.float32)
    out = _resize_axis(out, 1, int(height), interpolation)
    out = _resize_axis(out, 2, int(width), interpolation)
    return out.astype(np.float32, copy=False)


class _MemmapReference:
    """Where a read-only memory-mapped array lives, to map it again."""

    def __init__(self, array):
        self.filename = array.filename
        self.offset = array.offset
        self.dtype = array.dtype
        self.shape = array.shape
        self.order = (
            "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
        )

    def open(self):
        return np.memmap(
            self.filename,
            dtype=self.dtype,
            mode="r",
            offset=self.offset,
            shape=self.shape,
            order=self.order,
        )


class PairedSliceDataset(keras.utils.PyDataset):
    """Batches of paired 2-D slices, shuffled and jittered as in pix2pix.

    Each item is a tuple `(source, target)` of `float32` numpy arrays of shape
    `(batch_size, H, W, C)` (the last batch may be smaller), ready for
    `Pix2Pix.fit`; with `sample_weight`, `(source, target, sample_weight)`.
    Only numpy is used inside `__getitem__`, so batches feed every backend,
    from threads or processes.

    Shuffling draws a new order of the slices each epoch, from `seed` and the
    epoch number: the same seed gives the same orders, and each epoch visits
    every slice exactly once. The epoch number advances in `on_epoch_end`
    (which `fit` calls), or set it with `set_epoch`. With `steps_per_epoch`,
    an epoch is that many batches instead, drawn from an endless stream of
    passes over the data (each pass a new order, visiting every slice once),
    so epochs may end mid-pass; the batches depend only on the seed, the
    epoch and the batch index still.

    Augmentation is the reference pix2pix jitter, the same for the source and
    the target of a pair: resize each image up by `jitter_scale` (286 / 256
    by default: 256 -> 286 pixels; bilinear interpolation by default,
    `"nearest"` keeps the original pixel values, as the TensorFlow pix2pix
    tutorial does), crop back to the original size at a random position, and
    flip left-right with probability 1/2. The random draws depend on `seed`,
    the epoch and the batch index only, so they are reproducible with any
    number of workers. For brain MRI a left-right flip is anatomically
    plausible (the brain is nearly symmetric) but it mirrors the
    radiological convention; turn `flip` off if orientation matters.

    Args:
        source: array `(N, H, W, C)` of source images, or a `SliceCache`
            (then `target` must be `None`). Memory-mapped arrays are read one
            batch at a time.
        target: array of `source`'s shape (the channels may differ, e.g. with
            neighbouring source slices as channels), or `None` with a
            `SliceCache`.
        sample_weight: `None`, or weights of the reconstruction loss (see
            `Pix2Pix`): one per slice `(N,)`, or one per pixel `(N, H, W)`
            or `(N, H, W, 1)`, for example a mask of the pixels whose target
            the source can predict. Pixel weights are jittered with their
            pair.
        batch_size: images per batch.
        shuffle: draw a new order each epoch (otherwise the stored order).
        augment: apply the random jitter (resize, crop, flip).
        seed: seed of the orders and jitter. Defaults to a random seed drawn
            once, at construction.
        jitter_scale: how much the images are enlarged before the crop, >= 1.
        interpolation: `"bilinear"` or `"nearest"`, for the enlargement.
        flip: whether augmentation includes the left-right flip.
        steps_per_epoch: batches per epoch (every batch full), or `None` for
            one pass over the data per epoch.
        **kwargs: passed to `keras.utils.PyDataset`: `workers`,
            `use_multiprocessing`, `max_queue_size`.

    Raises:
        DataError: if the arrays do not match or are not 4-D, or an argument
            is invalid.

    Example:
    ```python
    dataset = PairedSliceDataset(
        t1, t2, batch_size=4, shuffle=True, augment=True, seed=0, workers=2
    )
    source, target = dataset[0]
    source.shape  # (4, 256, 256, 1)
    model.fit(dataset, epochs=10)
    ```
    """

    def __init__(
        self,
        source,
        target=None,
        *,
        sample_weight=None,
        batch_size: int = 1,
        shuffle: bool = True,
        augment: bool = False,
        seed: int | None = None,
        jitter_scale: float = JITTER_SCALE,
        interpolation: str = "bilinear",
        flip: bool = True,
        steps_per_epoch: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if target is None:
            if not (hasattr(source, "source") and hasattr(source, "target")):
                raise DataError(
                    "Pass `source` and `target` arrays, or a `SliceCache` alone."
                )
            source, target = source.source, source.target
        if (
            np.ndim(source) != 4
            or np.ndim(target) != 4
            or np.shape(source)[:3] != np.shape(target)[:3]
        ):
            raise DataError(
                "`source` and `target` must be arrays (N, H, W, C) with the same "
                "N, H and W (the channels may differ). Received "
                f"{np.shape(source)} and {np.shape(target)}."
            )
        if len(source) == 0:
            raise DataError("The dataset is empty: `source` has no image.")
        if sample_weight is not None:
            if not isinstance(sample_weight, np.ndarray):
                sample_weight = np.asarray(sample_weight, np.float32)
            check_sample_weight(sample_weight, np.shape(source))
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise DataError(f"`batch_size` must be >= 1. Received: {batch_size!r}")
        if steps_per_epoch is not None and (
            isinstance(steps_per_epoch, bool) or int(steps_per_epoch) < 1
        ):
            raise DataError(
                f"`steps_per_epoch` must be >= 1 or None. Received: {steps_per_epoch!r}"
            )
        if not jitter_scale >= 1:
            raise DataError(f"`jitter_scale` must be >= 1. Received: {jitter_scale}")
        if interpolation not in INTERPOLATIONS:
            raise DataError(
                f"`interpolation` must be one of {INTERPOLATIONS}. "
                f"Received: {interpolation!r}"
            )
        self.source = source
        self.target = target
        self.sample_weight = sample_weight
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.augment = bool(augment)
        self.seed = (
            int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
        )
        self.jitter_scale = float(jitter_scale)
        self.interpolation = interpolation
        self.flip = bool(flip)
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        self.epoch = 0
        self._order = self._order_of(0)

    def _order_of(self, epoch):
        count = len(self.source)
        if not self.shuffle:
            return np.arange(count)
        return np.random.default_rng([self.seed, epoch, 0]).permutation(count)

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch number, which selects the order and the jitter.

        Args:
            epoch: the epoch number, from 0.
        """
        self.epoch = int(epoch)
        self._order = self._order_of(self.epoch)

    @property
    def order(self) -> np.ndarray:
        """The slice indices of this epoch, in the order they are batched."""
        return self._order

    def __len__(self) -> int:
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return math.ceil(len(self.source) / self.batch_size)

    def _chosen(self, index):
        """The slice indices of batch `index` of the current epoch."""
        if self.steps_per_epoch is None:
            return self._order[index * self.batch_size : (index + 1) * self.batch_size]
        first = (self.epoch * self.steps_per_epoch + index) * self.batch_size
        passes, offsets = np.divmod(
            np.arange(first, first + self.batch_size), len(self.source)
        )
        return np.concatenate(
            [self._order_of(p)[offsets[passes == p]] for p in np.unique(passes)]
        )

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range [0, {len(self)}).")
        chosen = self._chosen(index)
        # Sorted reads are faster on memory-maps; put the batch back in order.
        ascending = np.argsort(chosen, kind="stable")
        restore = np.empty_like(ascending)
        restore[ascending] = np.arange(len(ascending))
        sorted_indices = chosen[ascending]
        images = [
            np.asarray(array[sorted_indices], np.float32)[restore]
            for array in (self.source, self.target, self.sample_weight)
            if array is not None
        ]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, 1, index])
            images = self._jitter(images, rng)
        return tuple(images)

    def _jitter(self, images, rng):
        """Returns the images, with the same crop and flip for each pair.

        Every array in `images` whose first three axes are (N, H, W) is
        jittered: the source, the target and per-pixel weights.
        """
        source = images[0]
        height, width = source.shape[1:3]
        pixels = [i for i, a in enumerate(images) if a.shape[1:3] == (height, width)]
        stacked = [images[i].reshape(*images[i].shape[:3], -1) for i in pixels]
        splits = np.cumsum([a.shape[-1] for a in stacked])[:-1]
        big_height = max(height, round(height * self.jitter_scale))
        big_width = max(width, round(width * self.jitter_scale))
        enlarged = resize_batch(
            np.concatenate(stacked, axis=-1), big_height, big_width, self.interpolation
        )
        out = np.empty((len(enlarged), height, width, enlarged.shape[-1]), np.float32)
        tops = rng.integers(0, big_height - height + 1, size=len(enlarged))
        lefts = rng.integers(0, big_width - width + 1, size=len(enlarged))
        flips = rng.random(len(enlarged)) < 0.5
        for i, (top, left) in enumerate(zip(tops, lefts, strict=True)):
            crop = enlarged[i, top : top + height, left : left + width]
            out[i] = crop[:, ::-1] if self.flip and flips[i] else crop
        images = list(images)
        for i, part in zip(pixels, np.split(out, splits, axis=-1), strict=True):
            images[i] = part.reshape(images[i].shape)
        return images

    def __getstate__(self):
        # Memory-maps (e.g. of a `SliceCache`) travel to worker processes as
        # their file names, not as copies of the data.
        state = self.__dict__.copy()
        for name in ("source", "target", "sample_weight"):
            array = state[name]
            if isinstance(array, np.memmap) and array.filename:
                state[name] = _MemmapReference(array)
        return state

    def __setstate__(self, state):
        for name in ("source", "target", "sample_weight"):
            if isinstance(state[name], _MemmapReference):
                state[name] = state[name].open()
        self.__dict__.update(state)

    def on_epoch_end(self) -> None:
        """Advances to the next epoch: a new order (when shuffling) and jitter."""
        self.set_epoch(self.epoch + 1)
