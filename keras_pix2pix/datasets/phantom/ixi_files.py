"""Phantom subjects written as NIfTI files laid out like IXI."""

import contextlib
import os
import pathlib
import uuid
from collections.abc import Sequence

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets.phantom.acquisition import (
    CONTRASTS,
    simulate,
    tissue_signals,
)
from keras_pix2pix.datasets.phantom.anatomy import (
    CSF,
    GREY_MATTER,
    LESION,
    WHITE_MATTER,
    Head,
    check_shape,
    rotation,
    subject_seeds,
)

# Field of view (mm) of the IXI grids, along the stored array axes:
# T1 256 x 256 x 150 voxels of 0.9375 x 0.9375 x 1.2 mm, stored sagittal (PSR);
# T2 (and PD) 256 x 256 x 130 voxels of 0.9375 x 0.9375 x 1.25 mm, stored axial
# (LAS).
_IXI_T1_FOV_MM = (240.0, 240.0, 180.0)
_IXI_T2_FOV_MM = (240.0, 240.0, 162.5)
_IXI_T2_SLICE_RATIO = 130 / 150


def _oblique_affine(shape, fov_mm, axes, tilt_deg, centre_mm):
    """Voxel-to-world affine of an oblique grid.

    Args:
        shape: grid shape.
        fov_mm: field of view along each array axis, in mm.
        axes: world direction (unit vector) of each array axis, before tilt.
        tilt_deg: rotation angles (x, y, z) applied to the axes, in degrees.
        centre_mm: world position of the centre of the field of view.
    """
    zooms = np.asarray(fov_mm) / np.asarray(shape)
    directions = rotation(tilt_deg) @ np.asarray(axes, float).T
    affine = np.eye(4)
    affine[:3, :3] = directions * zooms
    affine[:3, 3] = np.asarray(centre_mm) - affine[:3, :3] @ (
        (np.asarray(shape) - 1) / 2.0
    )
    return affine


def _to_int16(volume, reference):
    """Scales a magnitude image so that `reference` maps to 1000, as int16."""
    scaled = np.round(volume * (1000.0 / reference))
    return np.clip(scaled, 0, np.iinfo(np.int16).max).astype(np.int16)


def _save_atomically(data, affine, path):
    """Writes a NIfTI file under a temporary name, then renames it."""
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    temporary = path.with_name(f".{path.name[:-7]}.{uuid.uuid4().hex}.tmp.nii.gz")
    try:
        nib.save(image, temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def write_phantom_ixi(
    root: str | os.PathLike,
    num_subjects: int = 2,
    *,
    shape: tuple[int, int, int] = (64, 64, 38),
    seed: int = 0,
    write_labels: bool = False,
    lesions: bool = False,
    modalities: Sequence[str] = ("T1", "T2"),
    brain_masks: str | os.PathLike | None = None,
) -> list[pathlib.Path]:
    """Writes phantom subjects as IXI-style T1 / T2 (/ PD) NIfTI files.

    Files are named like IXI (`IXI002-Guys-0828-T1.nii.gz`,
    `IXI002-Guys-0828-T2.nii.gz`) and laid out like IXI: the T1 image stored
    sagittal (orientation PSR) and the T2 image stored axial (LAS), on
    different oblique grids with different voxel sizes and shapes, `int16`
    data, qform and sform codes 1 (scanner). Both affines describe the same
    head in world space, so resampling the T2 image onto the T1 grid through
    the affines (e.g. `nibabel.processing.resample_from_to`) realigns them, as
    a registration would for real IXI data. As in IXI, the PD image
    (`-PD.nii.gz`, with `modalities` naming it) is the T2 acquisition's first
    echo: on the T2 grid, with the same affine and bias field.

    The T1 grid covers 240 x 240 x 180 mm (AP x SI x LR) with `shape` voxels;
    the T2 grid covers 240 x 240 x 162.5 mm (LR x AP x SI) with
    `(shape[0], shape[1], round(shape[2] * 130 / 150))` voxels. With
    `shape=(256, 256, 150)` these are the IXI grids: 0.9375 x 0.9375 x 1.2 mm
    for T1 and 256 x 256 x 130 voxels of 0.9375 x 0.9375 x 1.25 mm for T2.

    Args:
        root: folder to write to; created if missing.
        num_subjects: number of subjects (IDs 002, 003, ...). Subject `i` has
            the same anatomy as subject `i` of `load_phantom_pairs` with the
            same seed.
        shape: T1 grid shape (AP, SI, LR voxels).
        seed: seed of the anatomy and noise.
        write_labels: also write the tissue labels on each grid, as
            `...-T1-labels.nii.gz` and `...-T2-labels.nii.gz` (`uint8`).
        lesions: whether the heads have white-matter lesions.
        modalities: which of `"T1"`, `"T2"` and `"PD"` to write, in this
            order in the returned list.
        brain_masks: a folder (created if missing) to write each subject's
            brain masks to, as `<subject>-T1-brainmask.nii.gz` and
            `<subject>-T2-brainmask.nii.gz` (`uint8`; CSF, grey and white
            matter and lesions), the layout HD-BET masks of IXI are often
            kept in; `None` writes none.

    Returns:
        The image paths written, subject by subject: one file per modality,
        then (with `write_labels`) the T1 and T2 label files (the PD image has
        the T2 grid's labels). Brain masks are not listed.

    Raises:
        ValueError: if `modalities` is empty or names another contrast.
        ImportError: if nibabel is not installed.
        OSError: if `root` cannot be created or written to.

    Example:
    ```python
    paths = write_phantom_ixi("/tmp/ixi-phantom", num_subjects=2)
    [p.name for p in paths[:2]]
    # ['IXI002-Guys-8042-T1.nii.gz', 'IXI002-Guys-8042-T2.nii.gz']
    ```
    """
    t1_shape = check_shape(shape)
    modalities = tuple(modalities)
    if not modalities or any(m not in CONTRASTS for m in modalities):
        raise ValueError(
            f"`modalities` must name some of {CONTRASTS}. Received: {modalities!r}"
        )
    grids = _ixi_grids(t1_shape)
    root = pathlib.Path(root)
    paths = []
    for subject in range(num_subjects):
        anatomy_seed, noise_seed = subject_seeds(seed, subject)
        head = Head(anatomy_seed, lesions)
        noise_rng = np.random.default_rng(noise_seed)
        # The noise is drawn as it always was (T1 and T2 on each grid, then
        # PD), so adding PD leaves the T1 and T2 files unchanged.
        acquired = {}
        for grid, (grid_shape, affine) in grids.items():
            extra = ("PD",) if grid == "T2" and "PD" in modalities else ()
            acquired[grid] = simulate(
                head, grid_shape, affine, noise_rng, 0.03, 0.1, ("T1", "T2", *extra)
            )
        number = np.random.default_rng(anatomy_seed).integers(100, 10000)
        stem = f"IXI{subject + 2:03d}-Guys-{number:04d}"
        files = _subject_files(stem, acquired, grids, modalities, write_labels)
        paths += _write(root, files)
        if brain_masks is not None:
            _write(pathlib.Path(brain_masks), _brain_mask_files(stem, acquired, grids))
    return paths


def _ixi_grids(t1_shape):
    """`{"T1": (shape, affine), "T2": (shape, affine)}` of the IXI-like grids."""
    t2_shape = (
        t1_shape[0],
        t1_shape[1],
        max(1, round(t1_shape[2] * _IXI_T2_SLICE_RATIO)),
    )
    # IXI002: stored sagittal P-S-R, oblique by ~7 degrees about the LR axis;
    # stored axial L-A-S, ~6 degrees the other way; centres ~14 mm apart.
    t1_affine = _oblique_affine(
        t1_shape,
        _IXI_T1_FOV_MM,
        [(0, -1, 0), (0, 0, 1), (1, 0, 0)],
        (-7, 0, 0),
        (0, 4, -8),
    )
    t2_affine = _oblique_affine(
        t2_shape,
        _IXI_T2_FOV_MM,
        [(-1, 0, 0), (0, 1, 0), (0, 0, 1)],
        (6, 0, 1),
        (0, -2, 5),
    )
    return {"T1": (t1_shape, t1_affine), "T2": (t2_shape, t2_affine)}


def _subject_files(stem, acquired, grids, modalities, write_labels):
    """`(name, data, affine)` of one subject's images and label volumes."""
    signals = tissue_signals()
    # Each contrast's int16 scale: its brightest brain tissue maps to 1000.
    references = {
        "T1": signals["T1"][WHITE_MATTER],
        "T2": signals["T2"][CSF],
        "PD": signals["PD"][CSF],
    }
    files = []
    for modality in modalities:
        grid = "T1" if modality == "T1" else "T2"  # PD: the T2 acquisition's grid
        volume = acquired[grid][1][modality]
        files.append(
            (
                f"{stem}-{modality}.nii.gz",
                _to_int16(volume, references[modality]),
                grids[grid][1],
            )
        )
    if write_labels:
        for grid, (labels, _) in acquired.items():
            files.append((f"{stem}-{grid}-labels.nii.gz", labels, grids[grid][1]))
    return files


def _brain_mask_files(stem, acquired, grids):
    """`(name, mask, affine)` of one subject's brain mask on each grid."""
    brain = [CSF, GREY_MATTER, WHITE_MATTER, LESION]
    return [
        (
            f"{stem}-{grid}-brainmask.nii.gz",
            np.isin(labels, brain).astype(np.uint8),
            grids[grid][1],
        )
        for grid, (labels, _) in acquired.items()
    ]


def _write(folder, files):
    """Writes `(name, data, affine)` files into `folder`; returns their paths."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"Cannot create the phantom folder {folder}: {error}") from error
    paths = []
    for name, data, affine in files:
        path = folder / name
        try:
            _save_atomically(data, affine, path)
        except OSError as error:
            raise OSError(
                f"Cannot write phantom NIfTI file {name} to folder {folder}: {error}"
            ) from error
        paths.append(path)
    return paths
