"""Reading and scaling NIfTI volumes: load, reorient, resample, normalize.

These are the volume-level steps that turn two NIfTI volumes of one subject
(for example a T1-weighted and a T2-weighted scan) into pairs of 2-D slices
that show the same anatomy at the same pixel, ready for Pix2Pix. They work for
the IXI dataset (`keras_pix2pix.datasets.ixi`) and for any pair of volumes
whose affines place both in one world (scanner) space, as volumes of one
imaging session do.

The path a pair of volumes takes through
`keras_pix2pix.datasets.slice_pairs.paired_volume_slices`:

1. `load_volume`: read and validate each file (3-D, finite, float32), refusing
   a file whose header claims more memory than `MAX_VOLUME_BYTES`.
2. `to_canonical`: reorient to RAS+ (axis permutations and flips only);
   optionally `bias_correction.correct_bias` (N4, with SimpleITK).
3. `resample_to`: resample the target onto the source grid through the
   affines (world coordinates, trilinear by default, zero outside).
4. `slicing.brain_slice_range`: the slices that hold the head, found on the
   source.
5. `normalize_intensity`: robust percentile scaling of each volume to
   [-1, 1]; the parameters are kept, so `denormalize_intensity` can invert it.
6. `slicing.extract_slices` and `slicing.crop_or_pad`: 2-D slices in a fixed
   display orientation, padded or cropped to a fixed frame.

Steps 1-3 and 5 are here; steps 4 and 6 are in
`keras_pix2pix.datasets.slicing`. Only numpy and nibabel (scipy for
`resample_to`) are needed; nothing here imports Keras.

Example:
```python
image = to_canonical(load_volume("IXI002-Guys-0828-T1.nii.gz"))
scaled, params = normalize_intensity(image.get_fdata(dtype="float32"))
denormalize_intensity(scaled, params)  # the volume, clipped to its percentiles
```
"""

import math
import os
import zlib

import nibabel as nib
import numpy as np

from keras_pix2pix.errors import (
    DataError,
    DatasetNotFoundError,
    ImageFileError,
    ImageTooLargeError,
)

# The most memory one volume may need (its voxels as read and as float32, or
# its header extensions), far above any MRI: a larger header is refused before
# anything is read. `load_volume(max_bytes=...)` or the environment variable
# overrides it.
MAX_VOLUME_BYTES = 2 * 1024**3
MAX_VOLUME_BYTES_ENV = "KERAS_PIX2PIX_MAX_VOLUME_BYTES"


def _name(path) -> str:
    return os.fspath(path)


def _max_volume_bytes(max_bytes):
    """The memory limit: `max_bytes`, else the environment's, else the default."""
    what = "`max_bytes`"
    if max_bytes is None:
        text = os.environ.get(MAX_VOLUME_BYTES_ENV)
        if text is None:
            return MAX_VOLUME_BYTES
        what = MAX_VOLUME_BYTES_ENV
        try:
            max_bytes = int(text)
        except ValueError:
            max_bytes = text
    if (
        not isinstance(max_bytes, int | np.integer)
        or isinstance(max_bytes, bool)
        or max_bytes < 1
    ):
        raise DataError(
            f"{what} must be a positive whole number of bytes. Received: {max_bytes!r}"
        )
    return int(max_bytes)


def _bytes(count):
    unit, scale = ("GiB", 1024**3) if count >= 1024**3 else ("MiB", 1024**2)
    return f"{count:,} bytes ({count / scale:.1f} {unit})"


def _extension_bytes(name):
    """The bytes of header extensions a single-file NIfTI header claims.

    `nib.load` reads every extension, up to `vox_offset`, into memory, so a
    small gzip file can claim gigabytes of them. 0 for other formats.
    """
    try:
        with nib.openers.ImageOpener(name) as file:
            raw = file.read(nib.Nifti2Header.template_dtype.itemsize)
    except (OSError, EOFError, zlib.error):
        return 0  # `nib.load` reports the unreadable file.
    for header_class in (nib.Nifti1Header, nib.Nifti2Header):
        size = header_class.template_dtype.itemsize
        if len(raw) < size:
            continue
        header = header_class(raw[:size], check=False)
        offset = header["vox_offset"]
        if header["magic"] == header_class.single_magic and np.isfinite(offset):
            return max(int(offset) - size - 4, 0)
    return 0


def _check_volume_memory(name, image, limit):
    """Refuses `image` if its voxels, as stored or as float32, exceed `limit`."""
    dtype = image.get_data_dtype()
    needed = math.prod(image.shape) * max(dtype.itemsize, 4)
    if needed > limit:
        raise ImageTooLargeError(
            f"{name} is too large to load: its header gives shape "
            f"{tuple(image.shape)} and dtype {dtype}, which need {_bytes(needed)} "
            f"in memory, more than the limit of {_bytes(limit)}. If the volume "
            "is genuine, raise the limit with `max_bytes` or the environment "
            f"variable {MAX_VOLUME_BYTES_ENV}."
        )


def load_volume(
    path: str | os.PathLike, *, max_bytes: int | None = None
) -> nib.Nifti1Image:
    """Reads a 3-D volume from a NIfTI (or other nibabel) file and validates it.

    The file is read completely, so a truncated or corrupt file fails here and
    not later. A 4-D (or 5-D) image whose extra trailing axes have length 1 is
    squeezed to 3-D. A file whose header claims more memory than `max_bytes`
    is refused before its voxels (or header extensions) are read.

    Args:
        path: path of the file (`.nii`, `.nii.gz`, or any format nibabel reads).
        max_bytes: the most memory the volume may need: its voxels, counted at
            the larger of their stored size and `float32`, or the header
            extensions of a NIfTI file. `None`: the environment variable
            `KERAS_PIX2PIX_MAX_VOLUME_BYTES` if set, else `MAX_VOLUME_BYTES`
            (2 GiB).

    Returns:
        A `nibabel.Nifti1Image` holding the voxels in memory as `float32`
        (scale factors applied), with the file's affine and header.

    Raises:
        DatasetNotFoundError: if `path` does not exist.
        ImageTooLargeError: if the header claims more memory than the limit.
            The message names the file, its shape, its dtype and the limit.
        ImageFileError: if the file cannot be read (wrong format, truncated,
            corrupt), is not 3-D, is empty, has an unusable affine, or holds
            NaN or infinite values. The message names the file.
        DataError: if the limit is not a positive whole number.

    Example:
    ```python
    image = load_volume("IXI002-Guys-0828-T1.nii.gz")
    image.shape  # (256, 256, 150)
    image.get_fdata(dtype="float32").dtype  # float32
    ```
    """
    name = _name(path)
    limit = _max_volume_bytes(max_bytes)
    if not os.path.exists(name):
        raise DatasetNotFoundError(f"Volume file not found: {name}")
    extensions = _extension_bytes(name)
    if extensions > limit:
        raise ImageTooLargeError(
            f"{name} is too large to load: its NIfTI header claims "
            f"{_bytes(extensions)} of header extensions before the voxels, more "
            f"than the limit of {_bytes(limit)}. If the file is genuine, raise the "
            "limit with `max_bytes` or the environment variable "
            f"{MAX_VOLUME_BYTES_ENV}."
        )
    try:
        image = nib.load(name)
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, ValueError) as e:
        raise ImageFileError(
            f"Cannot read {name} as a NIfTI image (wrong format or corrupt header): "
            f"{e}. Download or export the file again, or check that it is a "
            "NIfTI (.nii / .nii.gz) volume."
        ) from e
    shape = tuple(image.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ImageFileError(
            f"{name} is not a 3-D volume: it has {len(image.shape)} dimensions "
            f"(shape {tuple(image.shape)}). Expected a 3-D volume (a 4-D image "
            "is accepted only when its fourth axis has length 1)."
        )
    if min(shape) < 1:
        raise ImageFileError(
            f"{name} is empty: shape {tuple(image.shape)}. Exclude it or export "
            "the volume again."
        )
    _check_volume_memory(name, image, limit)
    try:
        data = image.get_fdata(dtype=np.float32, caching="unchanged")
    except (OSError, EOFError, ValueError, zlib.error) as e:
        raise ImageFileError(
            f"Cannot read the voxels of {name}: the file is truncated or "
            f"corrupt ({type(e).__name__}: {e}). Download or export it again."
        ) from e
    data = data.reshape(shape)
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise ImageFileError(
            f"{name} holds {bad} NaN or infinite voxel(s) out of {data.size}: "
            "fix or exclude the volume (e.g. replace them with 0 and save it)."
        )
    affine = image.affine
    if (
        affine is None
        or not np.isfinite(affine).all()
        or abs(np.linalg.det(affine[:3, :3])) < 1e-12
    ):
        raise ImageFileError(
            f"{name} has no usable affine (voxel-to-world matrix): {affine!r}"
        )
    header = image.header if isinstance(image, nib.Nifti1Image) else None
    volume = nib.Nifti1Image(data, affine, header=header)
    volume.set_data_dtype(np.float32)
    return volume


def to_canonical(image: nib.spatialimages.SpatialImage) -> nib.Nifti1Image:
    """Reorients an image to the closest canonical (RAS+) orientation.

    Only permutes and flips array axes (no interpolation), so that array axis
    0 runs from the subject's left to right, axis 1 from posterior to anterior
    and axis 2 from inferior to superior. An oblique grid stays oblique.

    Args:
        image: a nibabel image, e.g. from `load_volume`.

    Returns:
        The reoriented image (the same object when already canonical).

    Example:
    ```python
    t1 = to_canonical(load_volume("IXI002-Guys-0828-T1.nii.gz"))
    nibabel.aff2axcodes(t1.affine)  # ('R', 'A', 'S')
    t1.shape  # (150, 256, 256): the PSR volume reoriented
    ```
    """
    return nib.as_closest_canonical(image)


def resample_to(
    moving: nib.spatialimages.SpatialImage,
    reference: nib.spatialimages.SpatialImage,
    order: int = 1,
) -> nib.Nifti1Image:
    """Resamples `moving` onto the voxel grid of `reference`, through the affines.

    Each voxel of the reference grid takes the value of `moving` at the same
    world (scanner) position, interpolated with a spline of `order` (0:
    nearest neighbour, for labels and masks; 1: trilinear). Positions outside
    `moving` get 0. This aligns two volumes acquired in one session; it is not
    a registration and does not correct for motion between the scans. A
    `moving` image already on the reference grid (same shape, affines equal
    within 1e-4 mm), like IXI's T2 and PD echoes, is returned unchanged, with
    no interpolation.

    Args:
        moving: the image to resample.
        reference: the image whose grid (shape and affine) the result takes.
        order: spline order, 0 to 5.

    Returns:
        A new image with `reference`'s shape and affine and `moving`'s dtype.

    Raises:
        DataError: if `order` is not an integer in [0, 5].

    Example:
    ```python
    t1 = to_canonical(load_volume("IXI002-Guys-0828-T1.nii.gz"))
    t2 = load_volume("IXI002-Guys-0828-T2.nii.gz")
    t2_on_t1 = resample_to(t2, t1)
    t2_on_t1.shape == t1.shape  # True
    ```
    """
    from nibabel.processing import resample_from_to

    if isinstance(order, bool) or int(order) != order or not 0 <= order <= 5:
        raise DataError(f"`order` must be an integer from 0 to 5. Received: {order!r}")
    if moving.shape == reference.shape and np.allclose(
        moving.affine, reference.affine, rtol=0.0, atol=1e-4
    ):
        return nib.Nifti1Image(np.asanyarray(moving.dataobj), reference.affine)
    return resample_from_to(
        moving, reference, order=int(order), mode="constant", cval=0.0
    )


def normalize_intensity(
    volume: np.ndarray,
    mask: np.ndarray | None = None,
    low: float = 0.5,
    high: float = 99.5,
    *,
    name: str = "volume",
) -> tuple[np.ndarray, dict]:
    """Scales a volume robustly to [-1, 1] by its intensity percentiles.

    The `low` and `high` percentiles of the voxels inside `mask` (by default
    the voxels above 0, i.e. the head and not the empty background) map to
    -1 and 1; values beyond them are clipped. `low=0, high=100` with a mask of
    all voxels is min-max scaling.

    Args:
        volume: array of any shape (usually a 3-D volume).
        mask: boolean array of `volume`'s shape: the voxels whose intensities
            set the percentiles. Defaults to `volume > 0`, or every voxel if
            none is above 0.
        low: lower percentile, in [0, 100).
        high: upper percentile, in (low, 100].
        name: what to call the volume in error messages (e.g. its file name).

    Returns:
        `(scaled, params)`: the `float32` scaled array, and a JSON-serializable
        dict `{"method": "percentile", "low_percentile", "high_percentile",
        "lower", "upper"}` where `lower` / `upper` are the intensities mapped
        to -1 / 1. Pass it to `denormalize_intensity`.

    Raises:
        DataError: if the percentiles are invalid, the mask does not match or
            selects nothing, or the intensities inside it have zero range (a
            constant volume).

    Example:
    ```python
    scaled, params = normalize_intensity(t1_data)
    restored = denormalize_intensity(scaled, params)  # t1_data, up to clipping
    ```
    """
    volume = np.asarray(volume)
    if not 0 <= low < high <= 100:
        raise DataError(
            "Percentiles must satisfy 0 <= low < high <= 100. "
            f"Received: low={low}, high={high}"
        )
    if mask is None:
        mask = volume > 0
        if not mask.any():
            mask = np.ones(volume.shape, bool)
    else:
        mask = np.asarray(mask, bool)
        if mask.shape != volume.shape:
            raise DataError(
                f"The mask of {name} has shape {mask.shape}, expected the "
                f"volume's shape {volume.shape}."
            )
        if not mask.any():
            raise DataError(f"The mask of {name} selects no voxel.")
    values = volume[mask]
    lower, upper = (float(v) for v in np.percentile(values, [low, high]))
    if not upper > lower:
        raise DataError(
            f"Cannot normalize {name}: its intensities have zero range (the "
            f"{low} and {high} percentiles are both {lower}); the volume is "
            "constant or nearly so."
        )
    scaled = (volume.astype(np.float32) - np.float32(lower)) * np.float32(
        2.0 / (upper - lower)
    ) - np.float32(1.0)
    np.clip(scaled, -1.0, 1.0, out=scaled)
    params = {
        "method": "percentile",
        "low_percentile": float(low),
        "high_percentile": float(high),
        "lower": lower,
        "upper": upper,
    }
    return scaled, params


def denormalize_intensity(scaled: np.ndarray, params: dict) -> np.ndarray:
    """Maps values in [-1, 1] back to the intensities of the original volume.

    The inverse of `normalize_intensity` for values that were not clipped;
    use it to write synthetic volumes in the units of the training data.

    Args:
        scaled: array of values in [-1, 1] (e.g. generator outputs).
        params: the dict returned by `normalize_intensity` (possibly read back
            from JSON).

    Returns:
        A `float32` array of `scaled`'s shape.

    Raises:
        DataError: if `params` lacks `lower` or `upper`.

    Example:
    ```python
    scaled, params = normalize_intensity(volume)
    denormalize_intensity(scaled, params)  # volume, clipped to its percentiles
    ```
    """
    try:
        lower, upper = float(params["lower"]), float(params["upper"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(
            "`params` must be the dict returned by `normalize_intensity`, with "
            f"numeric 'lower' and 'upper'. Received: {params!r}"
        ) from e
    scaled = np.asarray(scaled, np.float32)
    return ((scaled + 1.0) * np.float32((upper - lower) / 2.0) + lower).astype(
        np.float32
    )
