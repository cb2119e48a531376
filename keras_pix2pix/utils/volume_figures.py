"""Reformats of synthesized volumes: the central axial, coronal and sagittal slices.

A volume synthesized slice by slice (e.g. axially) is consistent within each
slice but not always from one slice to the next; reformatted along the other
two planes, that shows as stripes across the slices. `save_volume_figure`
draws the three central slices of the source, the real target, the
synthesized target and their difference as one titled sample grid.

Example:
```python
from keras_pix2pix.utils.volume_figures import save_volume_figure

save_volume_figure("reformats.png", t1_volume, t2_volume, synthetic_volume)
```
"""

import os
import pathlib

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets.slicing import crop_or_pad, extract_slices
from keras_pix2pix.utils.sample_grids import save_sample_grid

PLANES = ("axial", "coronal", "sagittal")


def central_reformats(volume: np.ndarray) -> np.ndarray:
    """The central axial, coronal and sagittal slices of a canonical volume.

    Args:
        volume: a 3-D array on a canonical (RAS+) grid, e.g. in [-1, 1].

    Returns:
        A `float32` array `(3, S, S, 1)`: the three slices in display
        orientation (`extract_slices`), each padded with the volume's minimum
        to a square of the largest side `S`. Voxels are shown as squares:
        anisotropic voxels look stretched.

    Example:
    ```python
    central_reformats(np.zeros((40, 48, 30))).shape  # (3, 48, 48, 1)
    ```
    """
    volume = np.asarray(volume, np.float32)
    if volume.ndim != 3:
        raise ValueError(f"`volume` must be 3-D. Received shape {volume.shape}.")
    slices = [
        extract_slices(volume, plane, [volume.shape[axis] // 2])[0]
        for axis, plane in zip((2, 1, 0), PLANES, strict=True)
    ]
    side = max(max(s.shape) for s in slices)
    low = float(volume.min())
    return np.stack([crop_or_pad(s[None], side, value=low)[0] for s in slices])[
        ..., None
    ]


def save_volume_figure(
    path: str | os.PathLike,
    source: np.ndarray,
    target: np.ndarray,
    generated: np.ndarray,
    **kwargs,
) -> pathlib.Path:
    """Writes the central reformats of three volumes as a titled PNG grid.

    Rows are the axial, coronal and sagittal central slices (`central_reformats`),
    columns the source, the real target, the synthesized target and
    `|generated - target|`, titled with each row's PSNR (see
    `render_sample_grid`).

    Args:
        path: the PNG file to write (atomically).
        source: the source volume, canonical, in [-1, 1] (one contrast).
        target: the real target volume on the same grid, in [-1, 1].
        generated: the synthesized volume on the same grid, in [-1, 1].
        **kwargs: `colormap`, `difference`, `tile_size` of `render_sample_grid`.

    Returns:
        The path written.

    Example:
    ```python
    save_volume_figure("reformats.png", t1, t2, synthetic_t2)
    ```
    """
    shapes = {np.shape(v) for v in (source, target, generated)}
    if len(shapes) != 1:
        raise ValueError(
            f"The three volumes must share one grid. Received shapes {shapes}."
        )
    return save_sample_grid(
        path,
        *(central_reformats(v) for v in (source, target, generated)),
        row_titles=PLANES,
        **kwargs,
    )


def save_volume_figure_files(
    path: str | os.PathLike,
    source: str | os.PathLike | nib.spatialimages.SpatialImage,
    reference: str | os.PathLike | nib.spatialimages.SpatialImage,
    synthetic: str | os.PathLike | nib.spatialimages.SpatialImage,
    **kwargs,
) -> pathlib.Path:
    """`save_volume_figure` of NIfTI volumes, on the synthesized volume's grid.

    The real target and the synthesized volume are scaled alike
    (`volume_evaluation.scale_like_reference`); the source is resampled onto
    the same grid and scaled by its own percentiles.

    Args:
        path: the PNG file to write.
        source: the (first) source volume: path or nibabel image.
        reference: the real target volume.
        synthetic: the synthesized target volume.
        **kwargs: as `save_volume_figure`.

    Returns:
        The path written.

    Example:
    ```python
    save_volume_figure_files("reformats.png", "T1.nii.gz", "T2.nii.gz", "synT2.nii.gz")
    ```
    """
    from keras_pix2pix.datasets import nifti
    from keras_pix2pix.volume_evaluation import _image, scale_like_reference

    grid, real, fake = scale_like_reference(reference, synthetic)
    moved = nifti.resample_to(_image(source, "source"), grid, order=1)
    scaled, _ = nifti.normalize_intensity(
        moved.get_fdata(dtype=np.float32), name="source"
    )
    return save_volume_figure(path, scaled, real, fake, **kwargs)
