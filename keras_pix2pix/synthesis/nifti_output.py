"""Writing synthetic NIfTI volumes: slices stacked back, a marked header, atomic files.

`stack_slices` puts display-oriented 2-D slices back into a canonical (RAS+)
volume; the synthetic image keeps the source's grid and affine, and its header
says it is synthetic (`descrip`, the `"estimate"` intent named `"SYNTHETIC"`,
`aux_file`, and a JSON comment extension recording how it was made);
`save_nifti` writes it atomically.

Example:
```python
from keras_pix2pix.synthesis import save_nifti, stack_slices

volume = stack_slices(slices, "axial")
save_nifti(nibabel.Nifti1Image(volume, affine), "out/synthetic-T2.nii.gz")
```
"""

import gzip
import json
import os
import pathlib

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets.slice_spec import check_plane
from keras_pix2pix.errors import DataError
from keras_pix2pix.utils.atomic_files import atomic_path

SYNTHETIC_INTENT = "estimate"
"""The NIfTI intent of a synthetic volume: "estimate" (1001), an estimated quantity."""
SYNTHETIC_INTENT_NAME = "SYNTHETIC"
"""The intent name of a synthetic volume's header."""
_DESCRIP_LENGTH = 79  # the NIfTI-1 `descrip` field holds 80 bytes, NUL included


def stack_slices(slices: np.ndarray, plane: str = "axial") -> np.ndarray:
    """Stacks display-oriented 2-D slices back into a canonical (RAS+) volume.

    The inverse of `keras_pix2pix.datasets.slicing.extract_slices` taken over all
    slice indices: `stack_slices(extract_slices(volume, plane), plane)` equals
    `volume`.

    Args:
        slices: array `(N, H, W)` of slices in the display orientation of
            `extract_slices`.
        plane: `"axial"`, `"coronal"` or `"sagittal"`.

    Returns:
        A 3-D array indexed `[x, y, z]` in RAS+ order.

    Raises:
        DataError: if `slices` is not 3-D or `plane` is unknown.

    Example:
    ```python
    slices = extract_slices(volume, "coronal")
    np.array_equal(stack_slices(slices, "coronal"), volume)  # True
    ```
    """
    check_plane(plane)
    slices = np.asarray(slices)
    if slices.ndim != 3:
        raise DataError(f"`slices` must be (N, H, W). Received shape {slices.shape}")
    if plane == "axial":  # slices[n, -y, -x] -> volume[x, y, n]
        volume = slices.transpose(2, 1, 0)[::-1, ::-1, :]
    elif plane == "coronal":  # slices[n, -z, -x] -> volume[x, n, z]
        volume = slices.transpose(2, 0, 1)[::-1, :, ::-1]
    else:  # slices[n, -z, -y] -> volume[n, y, z]
        volume = slices.transpose(0, 2, 1)[:, ::-1, ::-1]
    return np.ascontiguousarray(volume)


def _from_canonical(data, canonical_affine, original_affine):
    """Reorders a canonical array back to the original image's axes."""
    transform = nib.orientations.ornt_transform(
        nib.orientations.io_orientation(canonical_affine),
        nib.orientations.io_orientation(original_affine),
    )
    return np.ascontiguousarray(nib.orientations.apply_orientation(data, transform))


def _synthetic_header(header, *, description, provenance, data):
    header = header.copy()
    header.set_data_dtype(np.float32)
    header.set_slope_inter(1.0, 0.0)
    header.set_intent(SYNTHETIC_INTENT, name=SYNTHETIC_INTENT_NAME)
    header["descrip"] = description.encode("ascii", "replace")[:_DESCRIP_LENGTH]
    header["aux_file"] = b"keras-pix2pix"
    header["cal_min"] = float(data.min())
    header["cal_max"] = float(data.max())
    header.extensions.clear()
    header.extensions.append(
        nib.nifti1.Nifti1Extension("comment", json.dumps(provenance).encode("utf-8"))
    )
    return header


def _synthetic_image(volume, source, *, description, provenance):
    """`volume` as a NIfTI image on `source`'s grid, its header marked synthetic.

    The header starts from a NIfTI-1 source's own (its qform and sform codes
    included), else from a blank one, and is changed by `_synthetic_header`.
    """
    header = source.header if isinstance(source, nib.Nifti1Image) else None
    if header is None:
        header = nib.Nifti1Header()
    header = _synthetic_header(
        header, description=description, provenance=provenance, data=volume
    )
    return nib.Nifti1Image(volume, source.affine, header=header)


def save_nifti(image: nib.Nifti1Image, path: str | os.PathLike) -> pathlib.Path:
    """Writes a NIfTI image atomically (`.nii` or gzip-compressed `.nii.gz`).

    The image is serialized in memory and written under a temporary name in
    the same folder, then renamed: a reader never sees a partial file, and a
    failure leaves no temporary file behind.

    Args:
        image: the image to write.
        path: the output file; must end with `.nii` or `.nii.gz`. Missing
            parent folders are created.

    Returns:
        The path written, as a `pathlib.Path`.

    Raises:
        DataError: if the file name does not end with `.nii` or `.nii.gz`.
        OSError: if the folder cannot be written.

    Example:
    ```python
    save_nifti(nibabel.Nifti1Image(volume, affine), "out/synthetic-T2.nii.gz")
    ```
    """
    path = pathlib.Path(path).expanduser()
    name = path.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        raise DataError(f"NIfTI output {path} must end with .nii or .nii.gz.")
    payload = image.to_bytes()
    if name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)
    return path
