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

The package's modules: `volumes` (`synthesize_volume`), `images`
(`synthesize_images`, folders of 2-D images), `nifti_output` (`stack_slices`,
`save_nifti` and the synthetic header) and `prediction` (the model's input
shape and batched prediction); the names they make public are importable
from `keras_pix2pix.synthesis` itself.

Example:
```python
import keras
from keras_pix2pix.synthesis import synthesize_volume

model = keras.saving.load_model("runs/t1-t2/model.keras")
synthetic = synthesize_volume(model, "IXI002-T1.nii.gz", "IXI002-synthetic-T2.nii.gz")
synthetic.header["descrip"]  # b'SYNTHETIC: keras-pix2pix T1->T2 ...'
```
"""

from keras_pix2pix.synthesis.images import synthesize_images
from keras_pix2pix.synthesis.nifti_output import (
    SYNTHETIC_INTENT,
    SYNTHETIC_INTENT_NAME,
    save_nifti,
    stack_slices,
)
from keras_pix2pix.synthesis.prediction import model_input_channels
from keras_pix2pix.synthesis.volumes import default_slice_spec, synthesize_volume

__all__ = [
    "SYNTHETIC_INTENT",
    "SYNTHETIC_INTENT_NAME",
    "default_slice_spec",
    "model_input_channels",
    "save_nifti",
    "stack_slices",
    "synthesize_images",
    "synthesize_volume",
]
