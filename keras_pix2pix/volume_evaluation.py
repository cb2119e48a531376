"""Evaluation per volume: PSNR, SSIM and MAE over a 3-D region.

Slice-by-slice synthesis can score well slice by slice and still disagree
from one slice to the next (stripes across the slices, seen in a sagittal or
coronal reformat of an axially synthesized volume). Scored in 3-D, over the
brain of the whole volume, those jumps count: SSIM compares 3-D neighbourhoods
(an 11-voxel Gaussian window, sigma 1.5 voxels, in all three directions), and
PSNR and MAE pool every voxel of the region at once instead of averaging
per-slice scores.

- `evaluate_volume`: two volumes in the same units (e.g. both scaled to
  [-1, 1]) on one grid, and a mask.
- `evaluate_volume_files`: a synthesized NIfTI volume against the real one:
  the real volume is resampled onto the synthesized volume's grid through the
  affines, both are scaled to [-1, 1] by the real volume's percentiles inside
  the head (one linear map for both, so their differences keep their size),
  and scored over a mask file (e.g. a brain mask) or the real volume's head.

Example:
```python
from keras_pix2pix.volume_evaluation import evaluate_volume_files

scores = evaluate_volume_files(
    "IXI012-T2.nii.gz", "IXI012-synthetic-T2.nii.gz", mask="IXI012-brainmask.nii.gz"
)
scores  # {"psnr": 24.1, "ssim": 0.83, "mae": 0.061, "voxels": 1432110}
```
"""

import os

import nibabel as nib
import numpy as np
from scipy import ndimage

from keras_pix2pix.datasets import nifti
from keras_pix2pix.errors import DataError
from keras_pix2pix.evaluation import derive_mask

SSIM_SIGMA = 1.5  # voxels, as Wang et al. (2004) in 2-D
SSIM_RADIUS = 5  # an 11-voxel window


def _ssim_map(real, fake, data_range):
    """The SSIM of every voxel over its 3-D Gaussian neighbourhood."""

    def smooth(x):
        return ndimage.gaussian_filter(
            x, SSIM_SIGMA, mode="reflect", truncate=SSIM_RADIUS / SSIM_SIGMA
        )

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y = smooth(real), smooth(fake)
    var_x = smooth(real * real) - mu_x * mu_x
    var_y = smooth(fake * fake) - mu_y * mu_y
    cov = smooth(real * fake) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    return numerator / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def evaluate_volume(
    real: np.ndarray,
    fake: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    data_range: float = 2.0,
) -> dict:
    """PSNR, SSIM and MAE of `fake` against `real` over a 3-D region.

    Args:
        real: the real volume, 3-D, in the same units as `fake` (e.g. both
            in [-1, 1]).
        fake: the synthesized volume, of `real`'s shape.
        mask: boolean volume of the voxels to score (e.g. the brain); `None`
            scores every voxel.
        data_range: the range the intensities can take (2.0 for [-1, 1]).

    Returns:
        A dict: `psnr` (dB, over the masked voxels; `inf` if they are equal),
        `ssim` (the 3-D SSIM map averaged over the masked voxels), `mae`
        (in the volumes' units) and `voxels` (how many were scored).

    Raises:
        DataError: if the shapes differ or are not 3-D, or the mask is empty.

    Example:
    ```python
    real = np.random.rand(32, 32, 16).astype("float32") * 2 - 1
    evaluate_volume(real, real)["psnr"]  # inf
    ```
    """
    real = np.asarray(real, np.float32)
    fake = np.asarray(fake, np.float32)
    if real.ndim != 3 or real.shape != fake.shape:
        raise DataError(
            "`real` and `fake` must be 3-D volumes of one shape. Received "
            f"{real.shape} and {fake.shape}."
        )
    mask = np.ones(real.shape, bool) if mask is None else np.asarray(mask, bool)
    if mask.shape != real.shape:
        raise DataError(f"`mask` must have shape {real.shape}. Received {mask.shape}.")
    count = int(mask.sum())
    if count == 0:
        raise DataError("`mask` is empty: there is no voxel to score.")
    error = fake[mask] - real[mask]
    mse = float(np.mean(error.astype(np.float64) ** 2))
    psnr = float("inf") if mse == 0 else 10 * np.log10(data_range**2 / mse)
    # The SSIM map only where the mask's voxels and their windows lie.
    box = tuple(
        slice(max(0, int(i.min()) - SSIM_RADIUS), int(i.max()) + SSIM_RADIUS + 1)
        for i in np.nonzero(mask)
    )
    ssim_map = _ssim_map(real[box], fake[box], data_range)
    return {
        "psnr": float(psnr),
        "ssim": float(ssim_map[mask[box]].mean()),
        "mae": float(np.mean(np.abs(error))),
        "voxels": count,
    }


def _image(volume, role):
    if isinstance(volume, nib.spatialimages.SpatialImage):
        return volume
    try:
        return nifti.load_volume(volume)
    except DataError as error:
        raise type(error)(f"{role}: {error}") from error


def scale_like_reference(
    reference: str | os.PathLike | nib.spatialimages.SpatialImage,
    synthetic: str | os.PathLike | nib.spatialimages.SpatialImage,
    *,
    low_percentile: float = 0.5,
    high_percentile: float = 99.5,
) -> tuple[nib.Nifti1Image, np.ndarray, np.ndarray]:
    """The real and synthesized volumes on one grid, scaled alike to [-1, 1].

    The real volume is resampled onto the synthesized volume's canonical grid
    through the affines (trilinear), and both are scaled by the real one's
    percentiles inside its head (`nifti.normalize_intensity`), clipped.

    Args:
        reference: the real target volume (path or nibabel image).
        synthetic: the synthesized volume.
        low_percentile: the percentile mapped to -1.
        high_percentile: the percentile mapped to 1.

    Returns:
        `(grid, real, fake)`: the canonical synthesized image (its grid) and
        the two scaled `float32` volumes on it.

    Raises:
        DatasetNotFoundError: if a file does not exist.
        ImageFileError: if a file is unreadable or not 3-D.
        DataError: if the volumes do not overlap.

    Example:
    ```python
    grid, real, fake = scale_like_reference("real_T2.nii.gz", "synthetic_T2.nii.gz")
    ```
    """
    grid = nifti.to_canonical(_image(synthetic, "synthetic"))
    real = nifti.resample_to(_image(reference, "reference"), grid, order=1)
    real_data = real.get_fdata(dtype=np.float32)
    if not np.any(real_data):
        raise DataError(
            "The reference does not overlap the synthetic volume in world space."
        )
    scaled_real, params = nifti.normalize_intensity(
        real_data, low=low_percentile, high=high_percentile, name="reference"
    )
    lower, upper = params["lower"], params["upper"]
    fake = grid.get_fdata(dtype=np.float32)
    scaled_fake = np.clip(2 * (fake - lower) / (upper - lower) - 1, -1, 1)
    return grid, scaled_real, scaled_fake.astype(np.float32)


def evaluate_volume_files(
    reference: str | os.PathLike | nib.spatialimages.SpatialImage,
    synthetic: str | os.PathLike | nib.spatialimages.SpatialImage,
    *,
    mask: str | os.PathLike | nib.spatialimages.SpatialImage | None = None,
    low_percentile: float = 0.5,
    high_percentile: float = 99.5,
) -> dict:
    """Scores a synthesized NIfTI volume against the real one, in 3-D.

    The volumes are put on one grid and scaled alike by
    `scale_like_reference` (the mask resampled with nearest neighbours), and
    scored by
    `evaluate_volume` over the mask, or without one over the real volume's
    head (`evaluation.derive_mask` of its axial slices: above -0.9 once
    scaled, holes filled).

    Args:
        reference: the real target volume (path or nibabel image).
        synthetic: the synthesized volume, e.g. from `synthesize_volume`.
        mask: a mask volume (nonzero = scored), e.g. a brain mask, on any
            grid in the same world space; `None` for the real head.
        low_percentile: the percentile mapped to -1.
        high_percentile: the percentile mapped to 1.

    Returns:
        `evaluate_volume`'s dict, plus `region` (`"mask"` or `"head"`).

    Raises:
        DatasetNotFoundError: if a file does not exist.
        ImageFileError: if a file is unreadable or not 3-D.
        DataError: if the volumes do not overlap or the region is empty.

    Example:
    ```python
    scores = evaluate_volume_files("real_T2.nii.gz", "synthetic_T2.nii.gz")
    ```
    """
    synthetic, scaled_real, scaled_fake = scale_like_reference(
        reference,
        synthetic,
        low_percentile=low_percentile,
        high_percentile=high_percentile,
    )
    if mask is None:
        axial = np.moveaxis(scaled_real, 2, 0)  # the canonical grid's axial slices
        region, name = np.moveaxis(derive_mask(axial), 0, 2), "head"
    else:
        mask_image = nifti.resample_to(_image(mask, "mask"), synthetic, order=0)
        region, name = np.asarray(mask_image.dataobj) > 0, "mask"
    scores = evaluate_volume(scaled_real, scaled_fake, region)
    return {**scores, "region": name}
