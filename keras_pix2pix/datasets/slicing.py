"""Slicing volumes: 2-D slices of canonical volumes, framed.

`keras_pix2pix.datasets.slice_pairs.paired_volume_slices` runs the whole path
from the NIfTI volumes of one subject to aligned pairs of 2-D slices; its
loading, reorientation, resampling and intensity scaling steps are in
`keras_pix2pix.datasets.nifti` (see the steps listed there). The slicing
steps are here:

- `brain_slice_range`: the slices that hold the head, found on the source.
- `extract_slices` (and `context_slices`, with neighbouring slices as
  channels): 2-D slices of a canonical (RAS+) volume in a fixed display
  orientation.
- `crop_or_pad`: slices padded or cropped (never interpolated) to a fixed
  frame, centred on the grid or on the head (`head_centre`).

Only numpy, scipy and nibabel are needed (SimpleITK for the optional bias
correction and registration); nothing here imports Keras.

Example:
```python
import numpy as np
from keras_pix2pix.datasets.slicing import context_slices, crop_or_pad

volume = np.random.rand(40, 48, 30).astype("float32")  # a canonical grid
slices = context_slices(volume, "axial", [10, 11], context=1)  # (2, 48, 40, 3)
framed = crop_or_pad(slices, (64, 64), value=0.0)  # (2, 64, 64, 3)
```
"""

import os
from collections.abc import Sequence

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets.slice_spec import check_context, check_plane
from keras_pix2pix.errors import DataError

# The array axis that each plane slices along, for a canonical (RAS+) volume.
_PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}

VolumeLike = str | os.PathLike | nib.spatialimages.SpatialImage


def _plane_axis(plane):
    check_plane(plane)
    return _PLANE_AXIS[plane]


def extract_slices(
    volume: np.ndarray,
    plane: str = "axial",
    indices: Sequence[int] | None = None,
) -> np.ndarray:
    """Takes 2-D slices of a canonical (RAS+) volume in display orientation.

    Display orientation (radiological convention, as most viewers show):

    - `"axial"` (slices `volume[:, :, k]`): anterior at the top, the
      subject's right on the left; shape `(N, Y, X)`.
    - `"coronal"` (slices `volume[:, j, :]`): superior at the top, the
      subject's right on the left; shape `(N, Z, X)`.
    - `"sagittal"` (slices `volume[i, :, :]`): superior at the top, anterior
      on the left; shape `(N, Z, Y)`.

    Args:
        volume: a 3-D array indexed `[x, y, z]` in RAS+ order (as after
            `to_canonical`).
        plane: `"axial"`, `"coronal"` or `"sagittal"`.
        indices: slice indices along the plane's axis. Defaults to all.

    Returns:
        An array of shape `(N, H, W)` and `volume`'s dtype.

    Raises:
        DataError: if `volume` is not 3-D, `plane` is unknown or an index is
            out of range.

    Example:
    ```python
    volume = to_canonical(load_volume("t1.nii.gz")).get_fdata(dtype="float32")
    axial = extract_slices(volume, "axial", range(100, 110))
    axial.shape  # (10, volume.shape[1], volume.shape[0])
    ```
    """
    axis = _plane_axis(plane)
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise DataError(f"`volume` must be 3-D. Received shape {volume.shape}")
    size = volume.shape[axis]
    indices = np.arange(size) if indices is None else np.asarray(indices, int)
    if indices.ndim != 1:
        raise DataError(f"`indices` must be 1-D. Received shape {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise DataError(
            f"Slice indices must be in [0, {size}) for the {plane} plane of a "
            f"volume of shape {volume.shape}. Received: {indices.tolist()}"
        )
    taken = np.take(volume, indices, axis=axis)  # the sliced axis moves nowhere
    if plane == "axial":  # taken[x, y, n] -> [n, -y, -x]
        slices = taken[::-1, ::-1, :].transpose(2, 1, 0)
    elif plane == "coronal":  # taken[x, n, z] -> [n, -z, -x]
        slices = taken[::-1, :, ::-1].transpose(1, 2, 0)
    else:  # taken[n, y, z] -> [n, -z, -y]
        slices = taken[:, ::-1, ::-1].transpose(0, 2, 1)
    return np.ascontiguousarray(slices)


def context_slices(
    volume: np.ndarray,
    plane: str,
    indices: Sequence[int] | None,
    context: int,
) -> np.ndarray:
    """Slices with their neighbours as channels (2.5-D input, as in pGAN).

    Channel `context` holds the slice itself; channels before and after hold
    the `context` slices below and above it along `plane` (at the volume's
    ends the edge slice repeats). A model given these sees through-plane
    anatomy that one slice alone does not show.

    Args:
        volume: a 3-D array on a canonical (RAS+) grid.
        plane: `"axial"`, `"coronal"` or `"sagittal"`.
        indices: the slices to take; `None` for every slice.
        context: neighbours on each side, >= 0.

    Returns:
        An array `(N, H, W, 2 * context + 1)` in `extract_slices`' display
        orientation.

    Raises:
        DataError: as `extract_slices`, or if `context` is negative.

    Example:
    ```python
    volume = np.arange(4 * 5 * 6, dtype="float32").reshape(4, 5, 6)
    stack = context_slices(volume, "axial", [0, 3], context=1)
    stack.shape  # (2, 5, 4, 3): slice 0 repeats below itself
    ```
    """
    check_context(context)
    centre = extract_slices(volume, plane, indices)  # validates the indices
    if context == 0:
        return centre[..., None]
    size = np.shape(volume)[_PLANE_AXIS[plane]]
    indices = np.arange(size) if indices is None else np.asarray(indices, int)
    channels = [
        centre
        if offset == 0
        else extract_slices(volume, plane, np.clip(indices + offset, 0, size - 1))
        for offset in range(-context, context + 1)
    ]
    return np.stack(channels, axis=-1)


def crop_or_pad(
    slices: np.ndarray,
    size: int | tuple[int, int],
    value: float = 0.0,
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Centres slices in a `size x size` frame by padding and/or cropping.

    No interpolation: each axis is padded with `value` where it is shorter
    than `size`, and cropped where it is longer. By default the frame is
    centred on the slices' centre (an odd difference puts the extra row or
    column at the end); `centre` centres it on another point instead, e.g.
    the centre of the head's bounding box (`head_centre`).

    Args:
        slices: array of shape `(N, H, W)` (or `(N, H, W, C)`).
        size: output height and width: an int, or `(height, width)`.
        value: the fill value of padding (e.g. -1 for data already scaled to
            [-1, 1], 0 for raw intensities).
        centre: `(row, column)` of the input that lands at the centre of the
            frame; `None` for the input's own centre.

    Returns:
        An array of shape `(N, size, size)` (plus the channel axis, if any).

    Raises:
        DataError: if `slices` has fewer than 3 dimensions or `size` is not
            positive.

    Example:
    ```python
    crop_or_pad(np.zeros((5, 150, 300)), 256).shape  # (5, 256, 256)
    ```
    """
    slices = np.asarray(slices)
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    if slices.ndim < 3 or min(int(height), int(width)) < 1:
        raise DataError(
            "`slices` must be (N, H, W[, C]) and `size` positive. Received: "
            f"shape {slices.shape}, size {size!r}"
        )
    out = slices
    for axis, target in ((1, int(height)), (2, int(width))):
        current = out.shape[axis]
        if centre is None:  # an odd difference goes at the end
            start = (
                (current - target) // 2
                if current > target
                else -((target - current) // 2)
            )
        else:
            start = int(np.floor(centre[axis - 1] + 0.5 - target / 2))
        # Frame [start, start + target) in input coordinates: pad what lies
        # outside the input, keep what lies inside.
        before = max(0, -start)
        after = max(0, start + target - current)
        if before or after:
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, after)
            out = np.pad(out, pad, constant_values=value)
        first = start + before
        out = np.take(out, np.arange(first, first + target), axis=axis)
    return np.ascontiguousarray(out)


def head_centre(slices: np.ndarray, background: float) -> tuple[float, float]:
    """Centre of the bounding box of everything above the background.

    The box is the union over all slices, so one frame centred on it
    (`crop_or_pad(..., centre=head_centre(...))`) holds the head of every
    slice wherever it lies in the field of view.

    Args:
        slices: array of shape `(N, H, W)` (or `(N, H, W, C)`).
        background: the background value (e.g. -1 for slices scaled to
            [-1, 1]); pixels above it count as head.

    Returns:
        `(row, column)` of the box's centre, in pixels; the slices' centre
        when no pixel is above the background.

    Example:
    ```python
    slices = np.full((2, 8, 8), -1.0)
    slices[:, 1:3, 5:7] = 0.5
    head_centre(slices, -1.0)  # (1.5, 5.5)
    ```
    """
    slices = np.asarray(slices)
    foreground = slices > background
    if slices.ndim == 4:
        foreground = foreground.any(axis=-1)
    rows = np.flatnonzero(foreground.any(axis=(0, 2)))
    columns = np.flatnonzero(foreground.any(axis=(0, 1)))
    if rows.size == 0:
        return ((slices.shape[1] - 1) / 2, (slices.shape[2] - 1) / 2)
    return ((rows[0] + rows[-1]) / 2, (columns[0] + columns[-1]) / 2)


def brain_slice_range(
    mask_or_volume: np.ndarray,
    plane: str = "axial",
    fraction: float = 0.25,
    threshold: float | None = None,
) -> range:
    """The central slices that hold the brain (or head), along a plane.

    The foreground area of each slice is counted, and the slices from the
    first to the last one whose area is at least `fraction` of the largest
    area are kept. With a brain mask this is the brain's extent minus its
    thin tips, where slices hold little tissue.

    Args:
        mask_or_volume: a canonical (RAS+) 3-D boolean mask, or an intensity
            volume whose foreground is the voxels above `threshold`.
        plane: `"axial"`, `"coronal"` or `"sagittal"`.
        fraction: minimum foreground area of an end slice, relative to the
            largest slice's area, in (0, 1].
        threshold: foreground threshold for an intensity volume. Defaults to
            10% of the 99th percentile of the positive voxels (ignored for a
            boolean mask).

    Returns:
        A `range` of slice indices along the plane's axis.

    Raises:
        DataError: if the input is not 3-D, `plane` or `fraction` is invalid,
            or there is no foreground.

    Example:
    ```python
    mask = to_canonical(load_volume("t1-brainmask.nii.gz")).get_fdata() > 0
    brain_slice_range(mask, "axial")  # e.g. range(120, 235)
    ```
    """
    axis = _plane_axis(plane)
    volume = np.asarray(mask_or_volume)
    if volume.ndim != 3:
        raise DataError(f"`mask_or_volume` must be 3-D. Received {volume.shape}")
    if not 0 < fraction <= 1:
        raise DataError(f"`fraction` must be in (0, 1]. Received: {fraction}")
    if volume.dtype == bool:
        foreground = volume
    else:
        if threshold is None:
            positive = volume[volume > 0]
            threshold = 0.1 * float(np.percentile(positive, 99)) if positive.size else 0
        foreground = volume > threshold
    other = tuple(a for a in range(3) if a != axis)
    area = np.count_nonzero(foreground, axis=other)
    if not area.any():
        raise DataError("No foreground voxel: cannot find the brain's slices.")
    kept = np.flatnonzero(area >= fraction * area.max())
    return range(int(kept[0]), int(kept[-1]) + 1)
