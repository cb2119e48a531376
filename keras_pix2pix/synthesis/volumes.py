"""Synthesis of NIfTI volumes: source volumes through a model, slice by slice.

`synthesize_volume` cuts the source (or several source contrasts, each
resampled onto the first one's grid) as the model's training cut its volumes
(the model's `SliceSpec`), runs the model on every slice and writes the
target volume on the (first) source's voxel grid (see
`keras_pix2pix.synthesis` for the steps and for how intensities are mapped).

Example:
```python
from keras_pix2pix.synthesis import synthesize_volume

image = synthesize_volume(model, "IXI002-T1.nii.gz", "IXI002-synthetic-T2.nii.gz")
pd = synthesize_volume(two_input_model, ["IXI002-T1.nii.gz", "IXI002-T2.nii.gz"])
```
"""

import os
import warnings
from collections.abc import Sequence

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets import nifti, slicing
from keras_pix2pix.datasets.bias_correction import correct_bias
from keras_pix2pix.datasets.slice_pairs import VolumeLike, source_list
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.errors import DataError, ImageFileError
from keras_pix2pix.synthesis.nifti_output import (
    _from_canonical,
    _synthetic_image,
    save_nifti,
    stack_slices,
)
from keras_pix2pix.synthesis.prediction import (
    _check_batch_size,
    _model_image_shape,
    _predict,
)
from keras_pix2pix.version import __version__


def default_slice_spec(channels: int) -> SliceSpec:
    """The `SliceSpec` for a model that carries none.

    The defaults (axial, 0.5 / 99.5 percentiles, no bias correction, the frame
    centred on the grid), at the model's own input size, with the
    neighbouring slices its `channels` (`2 * context + 1`) imply.
    """
    return SliceSpec(image_size=None, context=(channels - 1) // 2)


def _slice_spec(model, spec, channels, sources):
    """The `SliceSpec` to cut the volumes with: given, else the model's."""
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
    if spec.channels * sources != channels:
        expected = channels / spec.channels
        raise DataError(
            f"The model takes {channels}-channel images; the SliceSpec gives "
            f"{spec.channels} per source volume (context {spec.context}: 2 * "
            f"context + 1 slices), so it takes "
            + (
                f"{expected:g} source volume(s)"
                if expected == int(expected)
                else "no whole number of source volumes"
            )
            + f". Received {sources}."
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
    """The model's output for every slice of the `scaled` volumes.

    Each volume gives its `2 * context + 1` channels, in order; the frame is
    placed on the first volume's head.
    """
    height, width, _ = _model_image_shape(model)
    groups = [
        slicing.context_slices(volume, spec.plane, None, spec.context)
        for volume in scaled
    ]
    slices = groups[0] if len(groups) == 1 else np.concatenate(groups, axis=-1)
    slice_shape = slices.shape[1:3]
    size = (height or slice_shape[0], width or slice_shape[1])
    if spec.image_size is not None and (height, width) != spec.image_size:
        raise DataError(
            f"The SliceSpec's image_size {spec.image_size} differs from the "
            f"model's input size {(height, width)}."
        )
    centre = slicing.head_centre(groups[0], -1.0) if spec.frame == "head" else None
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


def _scaled_sources(sources, names, spec):
    """The canonical first source and every source scaled on its grid.

    Each source is N4-corrected as `spec` says; the others are resampled
    onto the first one's canonical grid through the affines; each is scaled
    to [-1, 1] by its own percentiles inside the head.

    Returns:
        `(canonical, scaled, corrections, params)`: the first source's
        canonical image, the scaled float32 volumes, and per source its N4
        record (or `None`) and intensity parameters.
    """
    canonical = None
    scaled, corrections, params = [], [], []
    for source, name in zip(sources, names, strict=True):
        image = nifti.to_canonical(source)
        correction = None
        if spec.bias_correction in ("source", "both"):
            image, correction = correct_bias(image)
        if canonical is None:
            canonical = image
        else:
            image = nifti.resample_to(image, canonical, spec.interpolation_order)
        volume, parameters = nifti.normalize_intensity(
            image.get_fdata(dtype=np.float32),
            low=spec.low_percentile,
            high=spec.high_percentile,
            name=name,
        )
        scaled.append(volume)
        corrections.append(correction)
        params.append(parameters)
    return canonical, scaled, corrections, params


def _modalities(model, source, target):
    """The contrast names for the header: given, else the model's, else T1 / T2."""
    contrasts = getattr(model, "contrasts", None) or {"sources": ["T1"], "target": "T2"}
    source = contrasts["sources"] if source is None else source
    target = contrasts["target"] if target is None else target
    return (source if isinstance(source, str) else "+".join(source)), target


def _synthesize(model, sources, spec, normalization, batch_size, names):
    """The synthetic volume, on the first source's array grid, in target units.

    The sources are cut as `_scaled_sources` says, translated slice by slice,
    mapped to `normalization` (or, if `None`, back to the first source's own
    parameters) and reoriented to the first source's array order.

    Returns:
        `(volume, corrections, source_params)`: the float32 array, and per
        source the N4 record (or `None`) and the intensity parameters.
    """
    canonical, scaled, corrections, source_params = _scaled_sources(
        sources, names, spec
    )
    volume = _generate_slices(model, scaled, spec, batch_size)
    del scaled
    params = source_params[0] if normalization is None else normalization
    volume = nifti.denormalize_intensity(volume, params)
    volume = _from_canonical(volume, canonical.affine, sources[0].affine)
    if volume.shape != tuple(sources[0].shape[:3]):  # pragma: no cover
        raise DataError(
            f"Internal error: output shape {volume.shape} differs from the input's "
            f"{tuple(sources[0].shape)}."
        )
    return volume, corrections, source_params


def _provenance(
    source_labels,
    modalities,
    *,
    spec,
    spec_origin,
    corrections,
    source_params,
    normalization,
):
    """The JSON record of how a synthetic volume was made, for its header.

    Args:
        source_labels: the source files' names.
        modalities: `(source, target)` contrast names.
        spec: the `SliceSpec` the volumes were cut with.
        spec_origin: where the spec came from: `"given"`, `"model"` or
            `"defaults"`.
        corrections: each source's N4 record, or `None`.
        source_params: each source's intensity parameters.
        normalization: the target's intensity parameters, or `None`.

    Returns:
        A dict of JSON values: `source`, `source_bias_correction` and
        `source_normalization` describe the first source (whose grid the
        volume is on); `additional_sources` the others, if any.
    """
    record = {
        "synthetic": True,
        "generator": f"keras-pix2pix {__version__}",
        "source": source_labels[0],
        "source_modality": modalities[0],
        "target_modality": modalities[1],
        "slice_spec": spec.get_config(),
        "slice_spec_from": spec_origin,
        "source_bias_correction": corrections[0],
        "source_normalization": source_params[0],
        "target_normalization": normalization,
        "intensity_mapping": (
            "source percentiles (target units unknown)"
            if normalization is None
            else "target parameters"
        ),
    }
    if len(source_labels) > 1:
        record["additional_sources"] = [
            {"source": label, "bias_correction": correction, "normalization": params}
            for label, correction, params in zip(
                source_labels[1:], corrections[1:], source_params[1:], strict=True
            )
        ]
    return record


def synthesize_volume(
    model,
    sources: VolumeLike | Sequence[VolumeLike],
    output_path: str | os.PathLike | None = None,
    *,
    spec: SliceSpec | None = None,
    normalization: dict | None = None,
    batch_size: int = 16,
    source_modality: str | Sequence[str] | None = None,
    target_modality: str | None = None,
    description: str | None = None,
) -> nib.Nifti1Image:
    """Synthesizes a target volume from source NIfTI volumes, slice by slice.

    Every slice of the canonical (RAS+) source along the spec's plane goes
    through the model with the training preprocessing (the `SliceSpec`'s bias
    correction, percentile scaling to [-1, 1], the frame of the model's input
    size with -1 padding); the outputs are put back on the input's voxel
    grid, and mapped to the target's intensities. A `Pix2Pix` trained on
    NIfTI slices carries both (`slice_spec`, `target_normalization`), so
    `synthesize_volume(model, path)` needs nothing else; where a slice was
    larger than the frame, the cropped border is background.

    A model trained on several source contrasts (e.g. T1 and T2 -> PD, its
    input `sources * (2 * context + 1)` channels) takes a list of volumes in
    the training order; each may be on its own grid: the others are
    resampled onto the first one's grid through the affines, and each is
    scaled on its own. The output is on the first one's grid.

    The output has exactly the input file's shape and affine (and its qform /
    sform codes), `float32` voxels, and a header that marks it as synthetic:
    `descrip` starts with `"SYNTHETIC: keras-pix2pix"`, the intent is
    `"estimate"` named `"SYNTHETIC"`, `aux_file` is `"keras-pix2pix"`, and a
    NIfTI comment extension holds a JSON record of how it was made.

    Args:
        model: a `Pix2Pix` model, or any Keras model taking `(batch, height,
            width, channels)` images in [-1, 1] and returning one-channel
            images in [-1, 1] (e.g. a generator).
        sources: the source volume, a file path or a nibabel image; or a
            list of them, one per source contrast, for a model trained on
            several.
        output_path: where to write the result (`.nii` or `.nii.gz`),
            atomically; `None` writes nothing.
        spec: the `SliceSpec` the model was trained with. Defaults to the
            model's `slice_spec`; a model without one gets the default
            `SliceSpec` with a warning that says so.
        normalization: the target's intensity parameters, a dict with
            `lower` and `upper` (as `normalize_intensity` returns): -1 and 1
            map to them. Defaults to the model's `target_normalization`;
            without one the output takes the source volume's own percentile
            parameters, so it is in the source's units (see
            `keras_pix2pix.synthesis`).
        batch_size: slices per prediction batch.
        source_modality: name of the source contrast (or names, one per
            source), for the header. Defaults to the model's `contrasts`,
            else `"T1"`.
        target_modality: name of the synthesized contrast, for the header.
            Defaults to the model's `contrasts`, else `"T2"`.
        description: the header's `descrip` text (79 characters at most are
            kept). Defaults to `"SYNTHETIC: keras-pix2pix {source}->{target}
            from {first file name}"`.

    Returns:
        The synthetic `nibabel.Nifti1Image` (as written, when `output_path`
        is given).

    Raises:
        DatasetNotFoundError: if the source file does not exist.
        ImageFileError: if the source file is unreadable or not 3-D.
        DataError: if an argument is invalid, the model's input does not
            match the spec and the number of sources, or `normalization`
            lacks `lower` / `upper`.

    Example:
    ```python
    model = keras.saving.load_model("runs/t1-t2/model.keras")
    image = synthesize_volume(model, "sub-01_T1w.nii.gz", "sub-01_synT2w.nii.gz")
    image.shape == nibabel.load("sub-01_T1w.nii.gz").shape  # True
    pd = synthesize_volume(
        t1_t2_to_pd, ["sub-01_T1w.nii.gz", "sub-01_T2w.nii.gz"], "sub-01_synPD.nii.gz"
    )
    ```
    """
    _check_batch_size(batch_size)
    sources = source_list(sources)
    channels = _model_image_shape(model)[2]
    spec, spec_origin = _slice_spec(model, spec, channels, len(sources))
    normalization = _target_normalization(model, normalization)
    opened = [_open_source(source) for source in sources]
    images = [image for image, _ in opened]
    names = [name for _, name in opened]
    volume, corrections, source_params = _synthesize(
        model, images, spec, normalization, batch_size, names
    )
    labels = [os.path.basename(name) for name in names]
    source_modality, target_modality = _modalities(
        model, source_modality, target_modality
    )
    if description is None:
        description = (
            f"SYNTHETIC: keras-pix2pix {source_modality}->{target_modality} "
            f"from {labels[0]}"
        )
    provenance = _provenance(
        labels,
        (source_modality, target_modality),
        spec=spec,
        spec_origin=spec_origin,
        corrections=corrections,
        source_params=source_params,
        normalization=normalization,
    )
    image = _synthetic_image(
        volume, images[0], description=description, provenance=provenance
    )
    if output_path is not None:
        save_nifti(image, output_path)
    return image
