"""Synthetic T1-weighted, T2-weighted and proton-density head MRI phantoms.

The phantoms let examples, benchmarks and tests run every IXI direction (T1,
T2, PD) without the IXI download (brain-development.org, CC BY-SA 3.0). They are not a
substitute for IXI when results are to be reported.

Anatomy. A random head is built from implicit surfaces in millimetres: a brain
ellipsoid whose surface is deformed by low-frequency noise (a sum of random
plane waves), wrapped by nested shells of cerebrospinal fluid (CSF), skull and
scalp of varying thickness. Inside the brain, white matter (WM) lies below a
folded cortex of grey matter (GM); CSF fills sulcal clefts, the
interhemispheric fissure and two lateral ventricles; deep grey nuclei sit beside
the ventricles; optional periventricular lesions replace white matter. Because
the head is a function of world coordinates, it can be sampled on any voxel
grid: `write_phantom_ixi` samples one subject on two grids that differ like the
IXI T1 and T2 grids do, and resampling one onto the other through the NIfTI
affines realigns them. Everything random is drawn from `numpy.random` generators
seeded by `seed`, so a seed always gives the same phantom.

Physics. Each tissue has a longitudinal relaxation time T1, a transverse
relaxation time T2 and a relative proton density PD, at 1.5 T (see
`_TISSUE_PROPERTIES` for the values and their sources). The images follow the
IXI Guys protocol (Philips 1.5 T, brain-development.org):

- T1-weighted: 3-D gradient echo, TR 9.8 ms, TE 4.6 ms, flip angle 8 degrees.
  A plain steady-state spoiled gradient echo with these settings is close to
  proton-density weighted (the Ernst angle of WM is about 8.5 degrees), so GM
  would come out as bright as WM. IXI T1 images show MP-RAGE-like contrast, as
  an inversion-prepared turbo field echo gives, so the signal is modelled as
  one: an inversion, then a train of `_T1_READOUT_PULSES` spoiled excitations,
  then recovery until the next inversion, in its steady state, read at the
  centre of k-space `_T1_INVERSION_TIME_MS` after the inversion. The
  preparation timings are assumptions, not published IXI values.
- T2-weighted: (turbo) spin echo, TR 8178 ms, TE 100 ms, 90 degree excitation:
  `S = PD * (1 - 2 exp(-(TR - TE / 2) / T1) + exp(-TR / T1)) * exp(-TE / T2)`.
- PD-weighted: the first echo (TE 8 ms) of the same dual-echo acquisition, so
  on the T2 grid with the T2 image's bias field (independent noise).

The result has CSF dark on T1 and bright on T2, WM brighter than GM on T1 and
darker on T2, bright scalp on T1 and a dark skull on all three; on PD the
order follows the water content: CSF > GM > WM. The noise-free images
are blurred slightly (a point-spread function, softening partial-volume edges),
multiplied by a smooth random bias field (receive-coil inhomogeneity, drawn
separately for each acquisition), and given Rician noise: the magnitude of the
signal plus complex Gaussian noise, so the background is Rayleigh distributed
as in real magnitude images.

Example:
```python
from keras_pix2pix.datasets.phantom import load_phantom_pairs

t1, t2 = load_phantom_pairs(num_subjects=4, image_size=64, slices_per_subject=8)
t1.shape  # (32, 64, 64, 1), float32 in [-1, 1]
```

Modules: `anatomy` (the random head), `acquisition` (the MR signals, bias and
noise), `volumes` (heads as arrays), `ixi_files` (subjects as IXI files),
`brats_files` (subjects as BraTS-style folders: skull-stripped T1, T1CE, T2
and FLAIR on one grid; `write_phantom_brats`).
"""

from keras_pix2pix.datasets.phantom.acquisition import CONTRASTS, tissue_signals
from keras_pix2pix.datasets.phantom.anatomy import (
    BACKGROUND,
    CSF,
    GREY_MATTER,
    LESION,
    SCALP,
    SKULL,
    TISSUE_LABELS,
    WHITE_MATTER,
)
from keras_pix2pix.datasets.phantom.brats_files import write_phantom_brats
from keras_pix2pix.datasets.phantom.ixi_files import write_phantom_ixi
from keras_pix2pix.datasets.phantom.volumes import (
    PhantomVolume,
    load_phantom_pairs,
    make_phantom_volume,
)

__all__ = [
    "BACKGROUND",
    "CONTRASTS",
    "CSF",
    "GREY_MATTER",
    "LESION",
    "SCALP",
    "SKULL",
    "TISSUE_LABELS",
    "WHITE_MATTER",
    "PhantomVolume",
    "load_phantom_pairs",
    "make_phantom_volume",
    "tissue_signals",
    "write_phantom_brats",
    "write_phantom_ixi",
]
