"""`paired_volume_slices`: one subject's volumes to aligned 2-D slice pairs.

The volumes (one or several sources and a target) are reoriented to RAS+,
optionally bias-corrected, put on the first source's grid (through the
affines, or by a registration), scaled one by one and cut into framed
slices with `keras_pix2pix.datasets.slicing`. The loaders of lists of
volumes (`load_paired_volumes`, `load_ixi_pairs`) call it once per subject.

Example:
```python
from keras_pix2pix.datasets import SliceSpec
from keras_pix2pix.datasets.slice_pairs import paired_volume_slices

source, target, info = paired_volume_slices(
    "sub-01_T1w.nii.gz", "sub-01_T2w.nii.gz", SliceSpec(plane="axial", image_size=256)
)
source.shape  # (N, 256, 256, 1), float32 in [-1, 1]
info["slices"]  # the axial slice indices of the canonical T1 grid
```
"""

import os
from collections.abc import Callable, Sequence

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets.bias_correction import correct_bias
from keras_pix2pix.datasets.nifti import (
    load_volume,
    normalize_intensity,
    resample_to,
    to_canonical,
)
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.slicing import (
    brain_slice_range,
    context_slices,
    crop_or_pad,
    extract_slices,
    head_centre,
)
from keras_pix2pix.errors import DataError

VolumeLike = str | os.PathLike | nib.spatialimages.SpatialImage


def _as_image(volume, role):
    if isinstance(volume, nib.spatialimages.SpatialImage):
        if len(volume.shape) != 3:
            raise DataError(f"The {role} image must be 3-D. Received {volume.shape}")
        return volume
    return load_volume(volume)


def _describe(volume):
    if isinstance(volume, nib.spatialimages.SpatialImage):
        return volume.get_filename() or "<in-memory image>"
    return os.fspath(volume)


def source_list(sources: VolumeLike | Sequence[VolumeLike]) -> list[VolumeLike]:
    """`sources` as a non-empty list of volumes (a path or an image is one).

    Raises:
        DataError: if `sources` is an empty list.
    """
    if isinstance(sources, (str, os.PathLike, nib.spatialimages.SpatialImage)):
        return [sources]
    sources = list(sources)
    if not sources:
        raise DataError(
            "`sources` is empty: give at least one source volume (a path, an "
            "image, or a list of them)."
        )
    return sources


def _load_canonical(sources, target, spec):
    """The canonical source and target images, bias-corrected as `spec` says."""
    images = [
        to_canonical(_as_image(s, "source" if i == 0 else f"source {i + 1}"))
        for i, s in enumerate(sources)
    ]
    images.append(to_canonical(_as_image(target, "target")))
    corrections = {}
    roles = {"source": range(len(sources)), "target": [len(sources)]}
    for role, indices in roles.items():
        if spec.bias_correction in (role, "both"):
            reports = []
            for i in indices:
                images[i], report = correct_bias(images[i])
                reports.append(report)
            corrections[role] = reports if role == "source" else reports[0]
    return images[:-1], images[-1], corrections


def _onto_reference(image, reference, spec, align):
    """`image` on `reference`'s grid, resampled or aligned; and the report."""
    if align is None:
        return resample_to(image, reference, order=spec.interpolation_order), None
    return align(image, reference)


def paired_volume_slices(
    sources: VolumeLike | Sequence[VolumeLike],
    target: VolumeLike,
    spec: SliceSpec | None = None,
    *,
    align: Callable | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Anatomically aligned 2-D slice pairs from source and target volumes.

    Cut as `spec` says (`SliceSpec`; defaults to `SliceSpec()`): all volumes
    are reoriented to RAS+, optionally corrected for intensity
    non-uniformity, the target (and every source after the first) is
    resampled onto the first source's grid through the affines (so all show
    the same world position at each voxel; a volume already on that grid is
    taken as it is), slices are taken along `spec.plane` of that grid, each
    volume is scaled to [-1, 1] on its own by `normalize_intensity` (its
    percentiles inside the head), and the slices are cut to the
    `spec.image_size` frame, padded with -1 (no interpolation: pixels keep
    the source grid's spacing).

    With several sources (e.g. T1 and T2 -> PD), the source array has
    `len(sources) * spec.channels` channels, contrast by contrast: first the
    `2 * context + 1` slices of the first source (lowest slice first), then
    those of the second, and so on.

    The frame is centred on the grid (`frame="grid"`), as when padding slices
    to 256 x 256, or on the bounding box of the first source's head over all
    the slices taken (`frame="head"`), so a frame just larger than the head
    (e.g. `image_size=(256, 128)` for the 150 x 256 axial slices of an IXI T1
    grid) keeps all of it with less background.

    The volumes must share one world space (e.g. scans of one session, like
    IXI T1, T2 and PD); they are not registered, unless `align` does it
    (e.g. `keras_pix2pix.datasets.registration.register_affine`).

    Args:
        sources: the source volume (e.g. T1-weighted), or a list of source
            volumes: paths or nibabel images. The first one's grid is the
            grid of the slices.
        target: the target volume (e.g. T2-weighted): a path or an image.
        spec: how the slices are cut; `None` for `SliceSpec()`.
        align: replaces the resampling through the affines:
            `align(moving, reference) -> (moving_on_reference_grid, report)`,
            both canonical nibabel images; `report` (a JSON-serializable
            dict, or `None`) is returned in `info["alignment"]` for the
            target and `info["source_alignments"]` for the extra sources.

    Returns:
        `(source, target, info)`: `float32` arrays of shapes
        `(N, height, width, len(sources) * spec.channels)` and
        `(N, height, width, 1)` with values in [-1, 1], and a
        JSON-serializable dict with `source_paths` (list), `target_path`,
        `plane`, `slices` (list of int), `frame`, `context`, `frame_centre`,
        `source_normalizations` (list) and `target_normalization` (the
        `normalize_intensity` parameters), `grid_shape` and `grid_affine`
        (the canonical grid of the first source), and `alignment` /
        `source_alignments` / `bias_correction` reports where they apply.

    Raises:
        DatasetNotFoundError: if a file does not exist.
        ImageFileError: if a file is unreadable or its content unusable.
        DataError: if `sources` is empty, a volume is constant, or a volume
            does not overlap the first source.

    Example:
    ```python
    t1, t2, info = paired_volume_slices(
        "IXI002-Guys-0828-T1.nii.gz",
        "IXI002-Guys-0828-T2.nii.gz",
        SliceSpec(image_size=256),
    )
    t1.shape == t2.shape  # True: (N, 256, 256, 1)
    both, pd, _ = paired_volume_slices(
        ["IXI002-Guys-0828-T2.nii.gz", "IXI002-Guys-0828-T1.nii.gz"],
        "IXI002-Guys-0828-PD.nii.gz",
        SliceSpec(image_size=256),
    )
    both.shape[-1]  # 2: T2, then T1
    ```
    """
    spec = SliceSpec() if spec is None else spec
    if not isinstance(spec, SliceSpec):
        raise DataError(f"`spec` must be a SliceSpec. Received: {spec!r}")
    sources = source_list(sources)
    images, target_image, corrections = _load_canonical(sources, target, spec)
    reference = images[0]
    moved = [_onto_reference(image, reference, spec, align) for image in images[1:]]
    target_image, alignment = _onto_reference(target_image, reference, spec, align)
    volumes = [reference.get_fdata(dtype=np.float32)]
    volumes += [image.get_fdata(dtype=np.float32) for image, _ in moved]
    volumes.append(target_image.get_fdata(dtype=np.float32))
    names = [_describe(v) for v in (*sources, target)]
    for volume, name in zip(volumes[1:], names[1:], strict=True):
        if not np.any(volume):
            raise DataError(
                f"The volume {name} does not overlap the source {names[0]} in "
                "world space (after resampling it is empty). Check the affines."
            )
    if spec.slices is None:
        indices = list(brain_slice_range(volumes[0], spec.plane, spec.brain_fraction))
    else:
        indices = list(spec.slices)
    source, target_slices, centre, params = _cut(volumes, names, indices, spec)
    info = {
        "source_paths": names[:-1],
        "target_path": names[-1],
        "plane": spec.plane,
        "slices": indices,
        "frame": spec.frame,
        "context": spec.context,
        "frame_centre": None if centre is None else [float(c) for c in centre],
        "source_normalizations": params[:-1],
        "target_normalization": params[-1],
        "grid_shape": [int(n) for n in reference.shape],
        "grid_affine": reference.affine.tolist(),
    }
    if alignment is not None:
        info["alignment"] = alignment
    if align is not None and moved:
        info["source_alignments"] = [report for _, report in moved]
    if corrections:
        info["bias_correction"] = corrections
    return source, target_slices, info


def _cut(volumes, names, indices, spec):
    """Scales each volume, cuts its slices and frames them.

    Returns:
        `(source, target, centre, params)`: the source slices (contrast by
        contrast along the channels), the target slices, the frame centre
        (or `None`) and each volume's `normalize_intensity` parameters.
    """
    percentiles = {"low": spec.low_percentile, "high": spec.high_percentile}
    cuts, params = [], []
    for index, (volume, name) in enumerate(zip(volumes, names, strict=True)):
        scaled, parameters = normalize_intensity(volume, **percentiles, name=name)
        params.append(parameters)
        if index < len(volumes) - 1:
            cuts.append(context_slices(scaled, spec.plane, indices, spec.context))
        else:
            cuts.append(extract_slices(scaled, spec.plane, indices)[..., None])
    volumes.clear()  # the scaled slices are all that is kept
    centre = head_centre(cuts[0], -1.0) if spec.frame == "head" else None
    out = []
    for cut in cuts:
        if spec.image_size is not None:
            cut = crop_or_pad(cut, spec.image_size, value=-1.0, centre=centre)
        out.append(cut.astype(np.float32, copy=False))
    source = out[0] if len(out) == 2 else np.concatenate(out[:-1], axis=-1)
    return source, out[-1], centre, params
