"""Synthesis with a trained model: whole NIfTI volumes and folders of 2-D images.

`synthesize_volume` takes a source volume (e.g. a T1-weighted scan) and writes
the synthetic target volume (e.g. T2-weighted) on the input's own voxel grid,
slice by slice, with the preprocessing of training: the model's `SliceSpec`
(`keras_pix2pix.datasets.slice_spec`), which a `Pix2Pix` trained on NIfTI
slices keeps in its `.keras` file:

1. `load_volume` and `to_canonical` (RAS+; axis permutations and flips only);
   N4 bias correction where the spec corrected the sources.
2. `normalize_intensity`: the source's percentiles inside the head map to
   -1 / 1, as in `paired_volume_slices`.
3. `context_slices` along the spec's plane, then `crop_or_pad` (padding -1)
   to the model's input size, centred on the grid or on the head.
4. `model.predict` in batches; the outputs are un-padded (or, where the slice
   was cropped, padded back with -1) and stacked back into a canonical volume.
5. `denormalize_intensity` with the target's intensity parameters (see below).
6. The inverse reorientation, back to the input's array order, and a NIfTI file
   with the input's shape and affine, a header marked as synthetic, written
   atomically.

Intensities. The generator works in [-1, 1]; each training volume was scaled
by its own percentiles, so the absolute intensity of the real target is lost
and cannot be recovered from the source alone. A model trained on NIfTI
slices keeps the training targets' typical parameters
(`Pix2Pix(target_normalization=info.target_normalization())`), and the output
is mapped to those units; `normalization` overrides them. Without either the
output takes the *source's*
percentile range: -1 / 1 map to the source volume's 0.5 / 99.5 percentiles, so
the synthetic volume lives in the source's units and its background keeps the
source's level. Its contrast is the target's; its scale is arbitrary.

Example:
```python
import keras
from keras_pix2pix.synthesis import synthesize_volume

model = keras.saving.load_model("runs/t1-t2/model.keras")
synthetic = synthesize_volume(model, "IXI002-T1.nii.gz", "IXI002-synthetic-T2.nii.gz")
synthetic.header["descrip"]  # b'SYNTHETIC: keras-pix2pix T1->T2 ...'
```
"""

import gzip
import json
import os
import pathlib
import warnings

import nibabel as nib
import numpy as np
from PIL import Image

from keras_pix2pix.datasets import nifti, slicing
from keras_pix2pix.datasets.bias_correction import correct_bias
from keras_pix2pix.datasets.paired_images import (
    IMAGE_EXTENSIONS,
    _load_image,
    save_image,
)
from keras_pix2pix.datasets.slice_spec import SliceSpec, check_plane
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError
from keras_pix2pix.utils.atomic_files import atomic_path
from keras_pix2pix.version import __version__

# NIfTI intent "estimate" (1001): the voxels are an estimate of a quantity.
SYNTHETIC_INTENT = "estimate"
SYNTHETIC_INTENT_NAME = "SYNTHETIC"
_DESCRIP_LENGTH = 79  # the NIfTI-1 `descrip` field holds 80 bytes, NUL included


def _model_image_shape(model):
    """(height, width, channels) of the model's input images, channels last."""
    import keras

    network = getattr(model, "generator", model)
    try:
        shape = tuple(network.input_shape)
    except (AttributeError, ValueError) as error:
        raise DataError(
            "The model must be a Pix2Pix model or a built Keras generator with a "
            f"known input shape: {error}"
        ) from error
    if isinstance(shape[0], (tuple, list)) or len(shape) != 4:
        raise DataError(
            "The model must take one batch of 2-D images (batch, height, width, "
            f"channels). Received input shape {shape}."
        )
    if keras.config.image_data_format() == "channels_first":
        return shape[2], shape[3], shape[1]
    return shape[1], shape[2], shape[3]


def model_input_channels(model) -> int:
    """The channels of the images `model` (a Pix2Pix or a generator) takes."""
    return int(_model_image_shape(model)[2])


def _predict(model, images, batch_size):
    """Runs the model on (N, H, W, C) images; returns (N, H, W, C') float32."""
    import keras

    channels_first = keras.config.image_data_format() == "channels_first"
    if channels_first:
        images = np.transpose(images, (0, 3, 1, 2))
    outputs = model.predict(images, batch_size=batch_size, verbose=0)
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs), np.float32)
    if channels_first:
        outputs = np.transpose(outputs, (0, 2, 3, 1))
    return outputs


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise DataError(
            f"`batch_size` must be a positive int. Received: {batch_size!r}"
        )
    if batch_size < 1:
        raise DataError(f"`batch_size` must be a positive int. Received: {batch_size}")


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


def default_slice_spec(channels: int) -> SliceSpec:
    """The `SliceSpec` for a model that carries none.

    The defaults (axial, 0.5 / 99.5 percentiles, no bias correction, the frame
    centred on the grid), at the model's own input size, with the
    neighbouring slices its `channels` (`2 * context + 1`) imply.
    """
    return SliceSpec(image_size=None, context=(channels - 1) // 2)


def _slice_spec(model, spec, channels):
    """The `SliceSpec` to cut the volume with: given, else the model's."""
    origin = "given"
    if spec is None:
        spec, origin = getattr(model, "slice_spec", None), "model"
    if spec is None:
        origin = "defaults"
        warnings.warn(
            "The model carries no SliceSpec (it was trained on arrays, or "
            "saved by an older keras-pix2pix), so the volume is cut with the "
            "defaults: axial slices, 0.5 / 99.5 percentile scaling, no bias "
            "correction, the frame centred on the grid. Pass `spec=SliceSpec("
            "...)` as in training, or train with `Pix2Pix(slice_spec=...)`.",
            UserWarning,
            stacklevel=3,
        )
        spec = default_slice_spec(channels)
    if not isinstance(spec, SliceSpec):
        raise DataError(f"`spec` must be a SliceSpec. Received: {spec!r}")
    if spec.channels != channels:
        raise DataError(
            f"The model takes {channels}-channel images but the SliceSpec "
            f"gives {spec.channels} (context {spec.context}); a volume gives "
            "2 * context + 1 channels per slice."
        )
    return spec, origin


def _target_normalization(model, normalization):
    """The target's intensity parameters: given, else the model's, else None."""
    if normalization is None:
        normalization = getattr(model, "target_normalization", None)
    if normalization is not None:
        # Fail before any work if the parameters are unusable.
        nifti.denormalize_intensity(np.zeros(1, np.float32), normalization)
    return normalization


def _inverse_centre(centre, size, shape):
    """The `crop_or_pad` centre that puts a framed slice back on its grid."""
    if centre is None:
        return None
    return tuple(
        -np.floor(c + 0.5 - n / 2) + m / 2 - 0.5
        for c, n, m in zip(centre, size, shape, strict=True)
    )


def _open_source(source_path_or_image):
    if isinstance(source_path_or_image, nib.spatialimages.SpatialImage):
        if len(source_path_or_image.shape) != 3:
            raise ImageFileError(
                "The source image must be 3-D. Received shape "
                f"{source_path_or_image.shape}"
            )
        return source_path_or_image, (
            source_path_or_image.get_filename() or "<in-memory image>"
        )
    return nifti.load_volume(source_path_or_image), os.fspath(source_path_or_image)


def _generate_slices(model, scaled, spec, batch_size):
    """The model's output for every slice of `scaled`, on the slices' grid."""
    height, width, _ = _model_image_shape(model)
    slices = slicing.context_slices(scaled, spec.plane, None, spec.context)
    slice_shape = slices.shape[1:3]
    size = (height or slice_shape[0], width or slice_shape[1])
    if spec.image_size is not None and (height, width) != spec.image_size:
        raise DataError(
            f"The SliceSpec's image_size {spec.image_size} differs from the "
            f"model's input size {(height, width)}."
        )
    centre = slicing.head_centre(slices, -1.0) if spec.frame == "head" else None
    batch = slicing.crop_or_pad(slices, size, value=-1.0, centre=centre)
    generated = _predict(model, batch.astype(np.float32, copy=False), batch_size)
    if generated.shape[-1] != 1:
        raise DataError(
            f"The model returns {generated.shape[-1]}-channel images; a volume "
            "needs one channel."
        )
    back = _inverse_centre(centre, size, slice_shape)
    generated = slicing.crop_or_pad(generated[..., 0], slice_shape, -1.0, centre=back)
    return stack_slices(np.clip(generated, -1.0, 1.0), spec.plane)


def synthesize_volume(
    model,
    source_path_or_image: str | os.PathLike | nib.spatialimages.SpatialImage,
    output_path: str | os.PathLike | None = None,
    *,
    spec: SliceSpec | None = None,
    normalization: dict | None = None,
    batch_size: int = 16,
    source_modality: str = "T1",
    target_modality: str = "T2",
    description: str | None = None,
) -> nib.Nifti1Image:
    """Synthesizes a target volume from a source NIfTI volume, slice by slice.

    Every slice of the canonical (RAS+) source along the spec's plane goes
    through the model with the training preprocessing (the `SliceSpec`'s bias
    correction, percentile scaling to [-1, 1], the frame of the model's input
    size with -1 padding); the outputs are put back on the input's voxel
    grid, and mapped to the target's intensities. A `Pix2Pix` trained on
    NIfTI slices carries both (`slice_spec`, `target_normalization`), so
    `synthesize_volume(model, path)` needs nothing else; where a slice was
    larger than the frame, the cropped border is background.

    The output has exactly the input file's shape and affine (and its qform /
    sform codes), `float32` voxels, and a header that marks it as synthetic:
    `descrip` starts with `"SYNTHETIC: keras-pix2pix"`, the intent is
    `"estimate"` named `"SYNTHETIC"`, `aux_file` is `"keras-pix2pix"`, and a
    NIfTI comment extension holds a JSON record of how it was made.

    Args:
        model: a `Pix2Pix` model, or any Keras model taking `(batch, height,
            width, channels)` images in [-1, 1] and returning one-channel
            images in [-1, 1] (e.g. a generator).
        source_path_or_image: the source volume, a file path or a nibabel image.
        output_path: where to write the result (`.nii` or `.nii.gz`),
            atomically; `None` writes nothing.
        spec: the `SliceSpec` the model was trained with. Defaults to the
            model's `slice_spec`; a model without one gets the default
            `SliceSpec` with a warning that says so.
        normalization: the target's intensity parameters, a dict with
            `lower` and `upper` (as `normalize_intensity` returns): -1 and 1
            map to them. Defaults to the model's `target_normalization`;
            without one the output takes the source volume's own percentile
            parameters, so it is in the source's units (see the module
            docstring).
        batch_size: slices per prediction batch.
        source_modality: name of the source contrast, for the header.
        target_modality: name of the synthesized contrast, for the header.
        description: the header's `descrip` text (79 characters at most are
            kept). Defaults to `"SYNTHETIC: keras-pix2pix {source}->{target}
            from {file name}"`.

    Returns:
        The synthetic `nibabel.Nifti1Image` (as written, when `output_path`
        is given).

    Raises:
        DatasetNotFoundError: if the source file does not exist.
        ImageFileError: if the source file is unreadable or not 3-D.
        DataError: if an argument is invalid, the model's input does not
            match the spec, or `normalization` lacks `lower` / `upper`.

    Example:
    ```python
    model = keras.saving.load_model("runs/t1-t2/model.keras")
    image = synthesize_volume(model, "sub-01_T1w.nii.gz", "sub-01_synT2w.nii.gz")
    image.shape == nibabel.load("sub-01_T1w.nii.gz").shape  # True
    ```
    """
    _check_batch_size(batch_size)
    channels = _model_image_shape(model)[2]
    spec, spec_origin = _slice_spec(model, spec, channels)
    normalization = _target_normalization(model, normalization)
    source, source_name = _open_source(source_path_or_image)

    canonical = nifti.to_canonical(source)
    correction = None
    if spec.bias_correction in ("source", "both"):
        canonical, correction = correct_bias(canonical)
    scaled, source_params = nifti.normalize_intensity(
        canonical.get_fdata(dtype=np.float32),
        low=spec.low_percentile,
        high=spec.high_percentile,
        name=source_name,
    )
    volume = _generate_slices(model, scaled, spec, batch_size)
    params = source_params if normalization is None else normalization
    volume = nifti.denormalize_intensity(volume, params)
    volume = _from_canonical(volume, canonical.affine, source.affine)
    if volume.shape != tuple(source.shape[:3]):  # pragma: no cover - safety net
        raise DataError(
            f"Internal error: output shape {volume.shape} differs from the input's "
            f"{tuple(source.shape)}."
        )

    source_label = os.path.basename(source_name)
    if description is None:
        description = (
            f"SYNTHETIC: keras-pix2pix {source_modality}->{target_modality} "
            f"from {source_label}"
        )
    provenance = {
        "synthetic": True,
        "generator": f"keras-pix2pix {__version__}",
        "source": source_label,
        "source_modality": source_modality,
        "target_modality": target_modality,
        "slice_spec": spec.get_config(),
        "slice_spec_from": spec_origin,
        "source_bias_correction": correction,
        "source_normalization": source_params,
        "target_normalization": normalization,
        "intensity_mapping": (
            "source percentiles (target units unknown)"
            if normalization is None
            else "target parameters"
        ),
    }
    header = source.header if isinstance(source, nib.Nifti1Image) else None
    if header is None:
        header = nib.Nifti1Header()
    header = _synthetic_header(
        header, description=description, provenance=provenance, data=volume
    )
    image = nib.Nifti1Image(volume, source.affine, header=header)
    if output_path is not None:
        save_nifti(image, output_path)
    return image


def _read_image(path, channels):
    """Reads an 8-bit image as float32 (H, W, channels) in [-1, 1]."""
    image = _load_image(path)
    try:
        converted = image.convert("L" if channels == 1 else "RGB")
    except (OSError, ValueError) as error:
        raise ImageFileError(f"Cannot read the image {path}: {error}") from error
    array = np.asarray(converted, np.float32).reshape(
        converted.height, converted.width, -1
    )
    return array / np.float32(127.5) - np.float32(1.0)


def _resize(image, size):
    """Resizes a float (H, W, C) image in [-1, 1] bicubically to (height, width)."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    channels = [
        np.asarray(
            Image.fromarray(image[..., c]).resize(
                (width, height), Image.Resampling.BICUBIC
            ),
            np.float32,
        )
        for c in range(image.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), -1.0, 1.0)


def synthesize_images(
    model,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    batch_size: int = 16,
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    keep_size: bool = True,
) -> list[pathlib.Path]:
    """Translates every 2-D image of a folder and writes the results as PNG.

    Images are read like the paired-image loaders read them (8-bit, scaled to
    [-1, 1]), converted to the model's channel count, resized bicubically to
    the model's input size when they differ, translated, and (with
    `keep_size`) resized back to their own size. Each result is written
    atomically as `output_dir/{name}.png` by `save_image`.

    Args:
        model: a `Pix2Pix` model or any Keras model taking and returning
            images in [-1, 1].
        input_dir: folder of source images (sub-folders and hidden files are
            ignored).
        output_dir: folder of the results, created if needed.
        batch_size: images per prediction batch.
        extensions: file extensions of the images to read.
        keep_size: resize each result back to its input's size; `False`
            keeps the model's output size.

    Returns:
        The paths written, in name order.

    Raises:
        DatasetNotFoundError: if `input_dir` does not exist or holds no image.
        ImageFileError: if an image cannot be read.
        DataError: if two inputs would write the same output name, or an
            argument is invalid.

    Example:
    ```python
    paths = synthesize_images(model, "test/t1_png", "test/synthetic_t2_png")
    ```
    """
    _check_batch_size(batch_size)
    folder = pathlib.Path(input_dir).expanduser()
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Input folder {folder} does not exist.")
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )
    if not files:
        raise DatasetNotFoundError(
            f"No images in {folder}: no file ends with one of {sorted(suffixes)}."
        )
    stems = [p.stem for p in files]
    if len(set(stems)) != len(stems):
        raise DataError(
            f"Two images of {folder} share a name without extension; their "
            "outputs would overwrite each other."
        )
    height, width, channels = _model_image_shape(model)
    if channels not in (1, 3):
        raise DataError(f"The model takes {channels}-channel images; expected 1 or 3.")
    output_dir = pathlib.Path(output_dir).expanduser()
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        images = [_read_image(path, channels) for path in chunk]
        sizes = [image.shape[:2] for image in images]
        target_size = (height or sizes[0][0], width or sizes[0][1])
        batch = np.stack([_resize(image, target_size) for image in images])
        outputs = _predict(model, batch, batch_size)
        for path, size, output in zip(chunk, sizes, outputs, strict=True):
            result = _resize(output, size) if keep_size else output
            written.append(save_image(output_dir / f"{path.stem}.png", result))
    return written
