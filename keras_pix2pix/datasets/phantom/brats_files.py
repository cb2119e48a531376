"""Phantom subjects written as BraTS-style folders: `write_phantom_brats`."""

import os
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

from keras_pix2pix.datasets.brats import BRATS_2023_SUFFIXES, BRATS_SUFFIXES
from keras_pix2pix.datasets.phantom.acquisition import simulate, tissue_signals
from keras_pix2pix.datasets.phantom.anatomy import (
    CSF,
    GREY_MATTER,
    LESION,
    WHITE_MATTER,
    Head,
    check_shape,
    subject_seeds,
)
from keras_pix2pix.datasets.phantom.ixi_files import _to_int16, _write

# The BraTS grid: 240 x 240 x 155 voxels of 1 mm (SRI24 atlas space).
_BRATS_FOV_MM = (240.0, 240.0, 155.0)
# The phantom contrast behind each BraTS contrast.
_PHYSICS = {"t1": "T1", "t1ce": "T1CE", "t2": "T2", "flair": "FLAIR"}
_BRAIN = (CSF, GREY_MATTER, WHITE_MATTER, LESION)
# The BraTS label of the lesions: GD-enhancing tumour (they enhance on T1CE),
# 4 in BraTS 2020 / 2021, 3 in BraTS 2023.
_ENHANCING_LABEL = {2021: 4, 2023: 3}


def write_phantom_brats(
    root: str | os.PathLike,
    num_subjects: int = 2,
    *,
    shape: tuple[int, int, int] = (48, 48, 32),
    seed: int = 0,
    contrasts: Sequence[str] = ("t1", "t1ce", "t2", "flair"),
    suffixes: Mapping[str, str] = BRATS_SUFFIXES,
    write_segmentation: bool = True,
    lesions: bool = True,
) -> list[pathlib.Path]:
    """Writes phantom subjects as BraTS-style folders, one file per contrast.

    Each subject's head (the same anatomy as subject `i` of
    `write_phantom_ixi` with the same seed) is sampled on one axis-aligned
    RAS grid covering BraTS's 240 x 240 x 155 mm with `shape` voxels
    (`shape=(240, 240, 155)`: BraTS's 1 mm grid), so the contrasts are
    co-registered as BraTS's are. Each contrast is acquired on it
    (`acquisition.simulate`, Rician noise drawn in the order of `contrasts`)
    and skull-stripped: every voxel outside CSF, grey and white matter and
    lesions is 0. The contrasts, from the phantom's signal equations:

    - `t1`: the T1-weighted inversion-prepared gradient echo (as IXI's T1);
    - `t1ce`: the same sequence after a gadolinium agent, which shortens
      the lesions' T1 (assumed relaxivity and concentration), so lesions
      are brighter than white matter and all else is as on `t1`;
    - `t2`: the T2-weighted spin echo (TE 100 ms);
    - `flair`: an inversion-recovery spin echo (assumed TR 9000 ms, TI
      2400 ms, TE 120 ms) that nulls CSF; lesions are the brightest tissue.

    FLAIR and T1CE share the bias field of the T2 and T1 acquisitions. The
    files are `int16`, each contrast scaled so its brightest brain tissue is
    about 1000. The segmentation (`<subject>_seg`) holds the lesions as
    GD-enhancing tumour: label 4 (BraTS 2020 / 2021), or 3 with
    `BRATS_2023_SUFFIXES` (the file then `<subject>-seg`). Subjects are
    named `BraTS2021_00000`, ... (`BraTS-GLI-00000-000`, ... with
    `BRATS_2023_SUFFIXES`).

    Args:
        root: folder to write the subject folders to; created if missing.
        num_subjects: number of subjects.
        shape: grid shape (LR, AP, SI voxels).
        seed: seed of the anatomy and noise.
        contrasts: which of `"t1"`, `"t1ce"`, `"t2"` and `"flair"` to write.
        suffixes: contrast name -> file-name suffix (`BRATS_SUFFIXES` or
            `BRATS_2023_SUFFIXES`); it must name every one of `contrasts`.
        write_segmentation: also write each subject's lesion labels.
        lesions: whether the heads have lesions.

    Returns:
        The paths written, subject by subject: one image per contrast, in
        the order of `contrasts`, then the segmentation.

    Raises:
        ValueError: if `contrasts` is empty or names another contrast, or
            `suffixes` lacks one of them.
        OSError: if `root` cannot be created or written to.

    Example:
    ```python
    paths = write_phantom_brats("/tmp/brats-phantom", num_subjects=2)
    [p.name for p in paths[:2]]
    # ['BraTS2021_00000_t1.nii.gz', 'BraTS2021_00000_t1ce.nii.gz']
    ```
    """
    shape = check_shape(shape)
    contrasts = (contrasts,) if isinstance(contrasts, str) else tuple(contrasts)
    if not contrasts or any(c not in _PHYSICS or c not in suffixes for c in contrasts):
        raise ValueError(
            f"`contrasts` must name some of {tuple(_PHYSICS)}, each with a suffix "
            f"in `suffixes` {dict(suffixes)}. Received: {contrasts!r}"
        )
    year = 2023 if dict(suffixes) == BRATS_2023_SUFFIXES else 2021
    affine = np.diag([*(np.asarray(_BRATS_FOV_MM) / np.asarray(shape)), 1.0])
    affine[:3, 3] = -affine[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
    paths = []
    for subject in range(num_subjects):
        anatomy_seed, noise_seed = subject_seeds(seed, subject)
        labels, volumes = simulate(
            Head(anatomy_seed, lesions),
            shape,
            affine,
            np.random.default_rng(noise_seed),
            0.03,
            0.1,
            tuple(_PHYSICS[c] for c in contrasts),
        )
        if year == 2023:
            stem, seg_suffix = f"BraTS-GLI-{subject:05d}-000", "-seg"
        else:
            stem, seg_suffix = f"BraTS2021_{subject:05d}", "_seg"
        images = _stripped(labels, volumes, contrasts)
        files = [(f"{stem}{suffixes[c]}.nii.gz", images[c], affine) for c in contrasts]
        if write_segmentation:
            seg = np.where(labels == LESION, _ENHANCING_LABEL[year], 0)
            files.append((f"{stem}{seg_suffix}.nii.gz", seg.astype(np.uint8), affine))
        paths += _write(pathlib.Path(root) / stem, files)
    return paths


def _stripped(labels, volumes, contrasts):
    """Each contrast's image, skull-stripped, as `int16` (brain maximum ~1000)."""
    signals = tissue_signals()
    outside = ~np.isin(labels, _BRAIN)
    images = {}
    for contrast in contrasts:
        physics = _PHYSICS[contrast]
        volume = volumes[physics]
        volume[outside] = 0.0
        images[contrast] = _to_int16(volume, signals[physics][list(_BRAIN)].max())
    return images
