"""Synthetic paired T1-weighted / T2-weighted head MRI phantoms.

The phantoms let examples, benchmarks and tests run the whole T1 -> T2 pipeline
without the IXI download (brain-development.org, CC BY-SA 3.0). They are not a
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

The result has CSF dark on T1 and bright on T2, WM brighter than GM on T1 and
darker on T2, bright scalp on T1 and a dark skull on both. The noise-free images
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
"""

import contextlib
import dataclasses
import os
import pathlib
import uuid

import nibabel as nib
import numpy as np

# Tissue labels of the phantoms' label volumes.
BACKGROUND = 0
SCALP = 1
SKULL = 2
CSF = 3
GREY_MATTER = 4
WHITE_MATTER = 5
LESION = 6

TISSUE_LABELS = {
    "background": BACKGROUND,
    "scalp": SCALP,
    "skull": SKULL,
    "csf": CSF,
    "grey_matter": GREY_MATTER,
    "white_matter": WHITE_MATTER,
    "lesion": LESION,
}

# (T1 ms, T2 ms, PD relative to CSF) at 1.5 T, indexed by label.
# - GM and WM relaxation times: Stanisz et al., "T1, T2 relaxation and
#   magnetization transfer in tissue at 3T", Magn Reson Med 54:507-512 (2005),
#   1.5 T values: GM T1 1124 ms, T2 95 ms; WM T1 884 ms, T2 72 ms. (Wansapura
#   et al., J Magn Reson Imaging 9:531-538 (1999) give the 3 T counterparts,
#   GM T1 ~1330 ms, WM ~830 ms.)
# - CSF: T1 ~4000 ms and T2 ~2000 ms, rounded from the usual 1.5 T ranges
#   (T1 3500-4500 ms, T2 1500-2000+ ms).
# - PD: water content of about 0.8 (GM) and 0.7 (WM) relative to CSF.
# - Scalp: a blend of subcutaneous fat (T1 ~350 ms at 1.5 T) with skin and
#   muscle; fat looks bright on turbo spin echo (J-coupling), hence the
#   apparent T2 of 90 ms.
# - Skull (cortical bone): T2 below 1 ms and little mobile water, so it is
#   dark with any conventional echo time.
# - Lesion: demyelinating / oedematous white matter, approximate (longer T1
#   and T2 and more water than WM: dark on T1, bright on T2).
# Rounded, approximate values: enough for realistic contrast, not quantitative.
_TISSUE_PROPERTIES = np.array(
    [
        [1.0, 1.0, 0.0],  # background (no signal)
        [550.0, 90.0, 0.80],  # scalp / fat
        [250.0, 0.5, 0.05],  # skull
        [4000.0, 2000.0, 1.00],  # CSF
        [1124.0, 95.0, 0.80],  # grey matter
        [884.0, 72.0, 0.70],  # white matter
        [1300.0, 140.0, 0.85],  # lesion
    ]
)

# IXI Guys (Philips 1.5 T) sequence parameters, as listed on brain-development.org.
T1_REPETITION_TIME_MS = 9.8
T1_ECHO_TIME_MS = 4.6
T1_FLIP_ANGLE_DEG = 8.0
T2_REPETITION_TIME_MS = 8178.0
T2_ECHO_TIME_MS = 100.0

# Assumed inversion preparation of the T1-weighted turbo field echo (not from
# IXI): inversion to k-space centre, excitations per inversion, inversion period.
_T1_INVERSION_TIME_MS = 800.0
_T1_READOUT_PULSES = 128
_T1_SHOT_INTERVAL_MS = 2500.0

# Field of view (mm) of the IXI grids, along the stored array axes:
# T1 256 x 256 x 150 voxels of 0.9375 x 0.9375 x 1.2 mm, stored sagittal (PSR);
# T2 256 x 256 x 130 voxels of 0.9375 x 0.9375 x 1.25 mm, stored axial (LAS).
_IXI_T1_FOV_MM = (240.0, 240.0, 180.0)
_IXI_T2_FOV_MM = (240.0, 240.0, 162.5)
_IXI_T2_SLICE_RATIO = 130 / 150
# Axial field of view (mm) of `make_phantom_volume` when no voxel size is given.
_AXIAL_FOV_MM = 240.0
_SLAB_VOXELS = 1 << 21


@dataclasses.dataclass(frozen=True)
class PhantomVolume:
    """One synthetic head sampled on an isotropic voxel grid.

    Arrays are indexed `[x, y, z]` in RAS+ order: `x` runs from the subject's
    left to right, `y` from posterior to anterior, `z` from inferior to
    superior, so `volume[:, :, k]` is an axial slice.

    Attributes:
        labels: `uint8` tissue labels, see `TISSUE_LABELS`.
        t1: `float32` T1-weighted magnitude image (arbitrary units).
        t2: `float32` T2-weighted magnitude image (arbitrary units).
        voxel_size: voxel edge lengths in mm.
        affine: 4x4 voxel-to-world (RAS+, mm) matrix, as in NIfTI.
    """

    labels: np.ndarray
    t1: np.ndarray
    t2: np.ndarray
    voxel_size: tuple[float, float, float]
    affine: np.ndarray


class _Grid:
    """Voxel centres of a grid (or of a slab of it) in some frame, in mm.

    `coordinates = matrix @ (i, j, k) + offset` for voxel indices `i, j, k`.
    """

    def __init__(self, matrix, offset, shape):
        self.matrix = np.asarray(matrix, np.float64)
        self.offset = np.asarray(offset, np.float64)
        self.shape = tuple(shape)

    def moved(self, rotation, translation):
        """The same voxels in the frame `x' = rotation.T @ (x - translation)`."""
        return _Grid(
            rotation.T @ self.matrix,
            rotation.T @ (self.offset - translation),
            self.shape,
        )

    def coordinates(self):
        """The three coordinates of every voxel, each of `grid.shape`, float32."""
        axes = [np.arange(size, dtype=np.float64) for size in self.shape]
        return [
            (
                self.offset[row]
                + self.matrix[row, 0] * axes[0][:, None, None]
                + self.matrix[row, 1] * axes[1][None, :, None]
                + self.matrix[row, 2] * axes[2][None, None, :]
            ).astype(np.float32)
            for row in range(3)
        ]


class _PlaneWaves:
    """A smooth random field: a sum of plane waves with random directions.

    The field has zero mean and unit variance and is defined everywhere in
    space, so one field gives the same shape on every voxel grid. On a grid,
    `exp(i k.x)` factorizes over the three voxel axes, so the field is a small
    complex matrix product instead of one cosine per voxel and wave.
    """

    def __init__(self, rng, waves, wavelength_mm):
        directions = rng.normal(size=(waves, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavelengths = rng.uniform(*wavelength_mm, size=waves)
        self.wave_vectors = directions * (2 * np.pi / wavelengths)[:, None]
        self.phases = rng.uniform(0, 2 * np.pi, size=waves)
        self.amplitude = np.sqrt(2.0 / waves)

    def on_grid(self, grid):
        """The field at the voxels of `grid`, shape `grid.shape`, float32."""
        per_axis = self.wave_vectors @ grid.matrix  # (waves, 3) radians / voxel
        start = self.wave_vectors @ grid.offset + self.phases
        factors = [
            np.exp(1j * per_axis[:, axis, None] * np.arange(size)).astype(np.complex64)
            for axis, size in enumerate(grid.shape)
        ]
        factors[0] *= (self.amplitude * np.exp(1j * start)).astype(np.complex64)[
            :, None
        ]
        plane = (factors[0][:, :, None] * factors[1][:, None, :]).reshape(
            len(start), -1
        )
        return (plane.T @ factors[2]).real.reshape(grid.shape)


def _ellipsoid_distance(coordinates, centre, semi_axes):
    """Approximate signed distance (mm) to an ellipsoid, negative inside.

    Args:
        coordinates: the x, y and z coordinates of the points (arrays).
        centre: centre of the ellipsoid.
        semi_axes: its semi-axes along x, y and z.
    """
    k0 = 0.0
    k1 = 0.0
    for values, middle, semi_axis in zip(coordinates, centre, semi_axes, strict=True):
        scaled = (values - np.float32(middle)) * np.float32(1.0 / semi_axis)
        k0 = k0 + scaled * scaled
        k1 = k1 + (scaled * np.float32(1.0 / semi_axis)) ** 2
    k0 = np.sqrt(k0)
    return k0 * (k0 - 1.0) / np.maximum(np.sqrt(k1), 1e-6)


def _rotation(angles_deg):
    """Rotation matrix for rotations about x, then y, then z (degrees)."""
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array(
        [[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]]
    )
    ry = np.array(
        [[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]]
    )
    rz = np.array(
        [[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]]
    )
    return rz @ ry @ rx


class _Head:
    """Random anatomy and acquisition fields of one subject, in world mm."""

    def __init__(self, seed, lesions):
        rng = np.random.default_rng(seed)
        self.rotation = _rotation(rng.uniform(-4.0, 4.0, size=3))
        self.translation = rng.uniform(-3.0, 3.0, size=3)
        self.brain_centre = np.array([0.0, -2.0, 0.0])
        self.brain_axes = np.array([61.0, 82.0, 58.0]) * rng.uniform(0.93, 1.04, 3)
        self.csf_thickness = rng.uniform(2.0, 3.5)
        self.skull_thickness = rng.uniform(5.0, 7.0)
        self.scalp_thickness = rng.uniform(4.0, 6.0)
        self.shape_field = _PlaneWaves(rng, 8, (60.0, 160.0))
        self.thickness_field = _PlaneWaves(rng, 8, (40.0, 120.0))
        self.gyral_field = _PlaneWaves(rng, 24, (18.0, 40.0))
        self.sulcal_field = _PlaneWaves(rng, 16, (20.0, 45.0))
        self.texture_field = _PlaneWaves(rng, 16, (6.0, 20.0))
        self.t1_bias_field = _PlaneWaves(rng, 4, (200.0, 500.0))
        self.t2_bias_field = _PlaneWaves(rng, 4, (200.0, 500.0))
        # Lateral ventricles, left and right of the midline; deep grey nuclei
        # (thalamus and basal ganglia) beside them.
        scale = rng.uniform(0.8, 1.4)
        half_gap = 2.0 + 2.5 * scale
        self.ventricles = [
            (
                self.brain_centre
                + np.array([side * (half_gap + 3.5 * scale), 4.0, 12.0]),
                np.array([3.5, 21.0, 6.5]) * scale,
            )
            for side in (-1.0, 1.0)
        ]
        self.nuclei = [
            (
                self.brain_centre + np.array([side * 15.0, -3.0, -3.0]),
                np.array([8.0, 12.0, 8.0]) * rng.uniform(0.9, 1.1),
            )
            for side in (-1.0, 1.0)
        ]
        self.lesions = []
        if lesions:
            for _ in range(rng.integers(2, 7)):
                direction = rng.normal(size=3)
                direction /= np.linalg.norm(direction)
                side = rng.integers(2)
                centre = self.ventricles[side][0] + direction * rng.uniform(10, 22)
                self.lesions.append((centre, rng.uniform(3.0, 9.0, size=3)))

    def sample(self, grid):
        """Labels (uint8) and tissue texture (float32) at the voxels of `grid`.

        Args:
            grid: a `_Grid` in world coordinates.
        """
        grid = grid.moved(self.rotation, self.translation)
        u = grid.coordinates()
        shape = self.shape_field.on_grid(grid)
        depth = -_ellipsoid_distance(u, self.brain_centre, self.brain_axes)
        depth -= 3.0 * shape
        thickness = 1.0 + 0.2 * self.thickness_field.on_grid(grid)
        csf = self.csf_thickness * thickness
        skull = csf + self.skull_thickness * thickness
        scalp = skull + self.scalp_thickness * (2.0 - thickness)
        labels = np.zeros(grid.shape, np.uint8)
        labels[depth > -scalp] = SCALP
        labels[depth > -skull] = SKULL
        labels[depth > -csf] = CSF
        brain = depth > 0
        labels[brain] = GREY_MATTER
        # White matter below a folded cortex, 3 to ~15 mm deep (gyri and sulci).
        cortex = 3.0 + 4.0 * np.maximum(1.0 + self.gyral_field.on_grid(grid), 0.0)
        labels[depth > cortex] = WHITE_MATTER
        for centre, axes in self.nuclei:
            labels[brain & (_ellipsoid_distance(u, centre, axes) < 0)] = GREY_MATTER
        for centre, axes in self.ventricles:
            labels[brain & (_ellipsoid_distance(u, centre, axes) < 0)] = CSF
        # Sulci: thin CSF sheets along the zero set of a random field, and the
        # interhemispheric fissure along the midline.
        sulci = (depth < 14.0) & (np.abs(self.sulcal_field.on_grid(grid)) < 0.25)
        midline = u[0] - self.brain_centre[0] + 2.0 * shape
        fissure = (
            (np.abs(midline) < 1.5)
            & (depth < 35.0)
            & (u[2] > self.brain_centre[2] - 15.0)
        )
        labels[brain & (sulci | fissure)] = CSF
        for centre, axes in self.lesions:
            inside = _ellipsoid_distance(u, centre, axes) < 0
            labels[inside & (labels == WHITE_MATTER)] = LESION
        texture = 1.0 + 0.04 * self.texture_field.on_grid(grid)
        return labels, texture.astype(np.float32)


def _inversion_prepared_gradient_echo(t1, t2, proton_density):
    """T1-weighted signal of an inversion-prepared spoiled gradient echo.

    Each shot: inversion; after a delay, `n` excitations of flip angle `a`
    every TR (between them Mz relaxes towards `M_ss = (1 - E1) / (1 - cos(a)
    E1)` by the factor `rho = cos(a) E1`, `E1 = exp(-TR / T1)`); recovery until
    the next inversion. The steady state of the shot is solved in closed form
    and the signal is read at the middle excitation (linear k-space order).
    """
    flip = np.deg2rad(T1_FLIP_ANGLE_DEG)
    e1 = np.exp(-T1_REPETITION_TIME_MS / t1)
    rho = np.cos(flip) * e1
    steady = (1.0 - e1) / (1.0 - rho)
    pulses = _T1_READOUT_PULSES
    delay = _T1_INVERSION_TIME_MS - (pulses // 2) * T1_REPETITION_TIME_MS
    recovery = _T1_SHOT_INTERVAL_MS - delay - pulses * T1_REPETITION_TIME_MS
    e_delay = np.exp(-delay / t1)
    e_recovery = np.exp(-recovery / t1)
    rho_n = rho**pulses
    # Mz just before the inversion, in the periodic steady state.
    before_inversion = (
        1.0
        - e_recovery
        + e_recovery * (steady * (1.0 - rho_n) + rho_n * (1.0 - e_delay))
    ) / (1.0 + e_recovery * rho_n * e_delay)
    first_pulse = 1.0 - (1.0 + before_inversion) * e_delay
    centre = steady + (first_pulse - steady) * rho ** (pulses // 2)
    decay = np.exp(-T1_ECHO_TIME_MS / t2)
    return proton_density * np.sin(flip) * np.abs(centre) * decay


def _spin_echo(t1, t2, proton_density):
    """T2-weighted spin-echo signal with TR 8178 ms and TE 100 ms."""
    tr, te = T2_REPETITION_TIME_MS, T2_ECHO_TIME_MS
    recovery = 1.0 - 2.0 * np.exp(-(tr - te / 2.0) / t1) + np.exp(-tr / t1)
    return proton_density * recovery * np.exp(-te / t2)


def _tissue_signals():
    """Noise-free T1w and T2w signal of each tissue label, shape (labels,)."""
    t1, t2, proton_density = _TISSUE_PROPERTIES.T
    return (
        _inversion_prepared_gradient_echo(t1, t2, proton_density),
        _spin_echo(t1, t2, proton_density),
    )


def _blur(volume):
    """Light separable 3-tap blur, a stand-in for the point-spread function."""
    out = volume
    for axis in range(3):
        padded = np.pad(
            out, [(1, 1) if a == axis else (0, 0) for a in range(3)], "edge"
        )
        lower = np.take(padded, np.arange(0, out.shape[axis]), axis=axis)
        upper = np.take(padded, np.arange(2, out.shape[axis] + 2), axis=axis)
        out = 0.75 * out + 0.125 * (lower + upper)
    return out


def _simulate(head, shape, affine, rng, noise_level, bias_strength):
    """Samples `head` on a grid; returns labels, T1w and T2w volumes.

    Args:
        head: a `_Head`.
        shape: grid shape.
        affine: 4x4 voxel-to-world matrix of the grid.
        rng: generator of the noise.
        noise_level: noise standard deviation, relative to the mean signal of
            grey and white matter.
        bias_strength: standard deviation of the log bias fields.
    """
    labels = np.empty(shape, np.uint8)
    texture = np.empty(shape, np.float32)
    biases = np.empty((2, *shape), np.float32)
    # Slabs of slices keep the memory bounded on IXI-sized grids.
    step = max(1, _SLAB_VOXELS // (shape[0] * shape[1]))
    for first in range(0, shape[2], step):
        last = min(first + step, shape[2])
        grid = _Grid(
            affine[:3, :3],
            affine[:3, 3] + first * affine[:3, 2],
            (shape[0], shape[1], last - first),
        )
        labels[..., first:last], texture[..., first:last] = head.sample(grid)
        for bias, field in zip(
            biases, (head.t1_bias_field, head.t2_bias_field), strict=True
        ):
            bias[..., first:last] = np.exp(bias_strength * field.on_grid(grid))
    texture[labels == BACKGROUND] = 1.0
    brain = [GREY_MATTER, WHITE_MATTER]
    volumes = []
    for signal, bias in zip(_tissue_signals(), biases, strict=True):
        clean = _blur(signal.astype(np.float32)[labels] * texture) * bias
        sigma = np.float32(noise_level * signal[brain].mean())
        real = clean + sigma * rng.standard_normal(shape, dtype=np.float32)
        imaginary = sigma * rng.standard_normal(shape, dtype=np.float32)
        volumes.append(np.hypot(real, imaginary))
    return labels, volumes[0], volumes[1]


def _subject_seeds(seed, subject):
    """Independent anatomy and noise seeds for subject number `subject`."""
    anatomy, noise = np.random.SeedSequence([seed, subject]).spawn(2)
    return anatomy, noise


def _check_shape(shape):
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"`shape` must be three positive integers. Received: {shape!r}"
        )
    return shape


def make_phantom_volume(
    shape: tuple[int, int, int] = (64, 64, 48),
    *,
    seed: int = 0,
    lesions: bool = False,
    voxel_size: float | None = None,
    noise_level: float = 0.03,
    bias_strength: float = 0.1,
) -> PhantomVolume:
    """Generates one synthetic head as paired T1w / T2w volumes with labels.

    The grid is isotropic and axis-aligned (RAS+), centred on the head.

    Args:
        shape: grid size `(x, y, z)` in voxels; `z` is the axial (slice) axis.
        seed: seed of the random anatomy, bias fields and noise. The same seed
            gives the same volumes.
        lesions: whether to add a few periventricular white-matter lesions
            (label 6: dark on T1, bright on T2).
        voxel_size: isotropic voxel edge in mm. Defaults to a 240 mm axial field
            of view: `240 / max(shape[0], shape[1])` (3.75 mm at 64 voxels,
            0.9375 mm, as in IXI, at 256).
        noise_level: standard deviation of the complex Gaussian noise behind
            the Rician noise, relative to the mean grey/white matter signal.
        bias_strength: standard deviation of the log bias field (0 turns the
            bias field off).

    Returns:
        A `PhantomVolume` with `labels` (`uint8`), `t1` and `t2` (`float32`,
        arbitrary units, all of shape `shape`), `voxel_size` and `affine`.

    Example:
    ```python
    phantom = make_phantom_volume((64, 64, 48), seed=1)
    phantom.t1.shape  # (64, 64, 48)
    wm = phantom.labels == 5
    phantom.t1[wm].mean() > phantom.t1[phantom.labels == 4].mean()  # True
    ```
    """
    shape = _check_shape(shape)
    if voxel_size is None:
        voxel_size = _AXIAL_FOV_MM / max(shape[0], shape[1])
    voxel_size = float(voxel_size)
    if voxel_size <= 0:
        raise ValueError(f"`voxel_size` must be positive. Received: {voxel_size}")
    affine = np.diag([voxel_size, voxel_size, voxel_size, 1.0])
    affine[:3, 3] = -voxel_size * (np.array(shape) - 1) / 2.0
    anatomy_seed, noise_seed = _subject_seeds(seed, 0)
    labels, t1, t2 = _simulate(
        _Head(anatomy_seed, lesions),
        shape,
        affine,
        np.random.default_rng(noise_seed),
        noise_level,
        bias_strength,
    )
    return PhantomVolume(
        labels=labels,
        t1=t1,
        t2=t2,
        voxel_size=(voxel_size, voxel_size, voxel_size),
        affine=affine,
    )


def _scale_to_unit_range(volume, low=0.5, high=99.5):
    """Maps the `low` / `high` percentiles of a volume to -1 / 1, clipped."""
    lower, upper = np.percentile(volume, [low, high])
    scaled = 2.0 * (volume - lower) / max(upper - lower, 1e-12) - 1.0
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def _axial_slices(volume, indices):
    """Axial slices in radiological display: anterior up, subject's right left."""
    return np.stack([volume[::-1, ::-1, k].T for k in indices])


def load_phantom_pairs(
    num_subjects: int = 4,
    image_size: int = 64,
    slices_per_subject: int = 8,
    *,
    seed: int = 0,
    lesions: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates paired axial T1w (source) / T2w (target) phantom slices.

    Each subject is a different random head (`make_phantom_volume` with a
    subject-specific seed) on an `image_size x image_size x (3/4 image_size)`
    grid. Slices are spread evenly over the central part of the brain. Each
    volume is scaled on its own: its 0.5th / 99.5th intensity percentiles map
    to -1 / 1, clipped, as is usual for IXI.

    Args:
        num_subjects: number of random heads.
        image_size: height and width of the slices in pixels (the axial field
            of view is 240 mm).
        slices_per_subject: axial slices taken from each head.
        seed: seed of the whole set; the same seed gives the same arrays.
        lesions: whether the heads have white-matter lesions.

    Returns:
        `(t1, t2)`, two `float32` arrays of shape
        `(num_subjects * slices_per_subject, image_size, image_size, 1)` with
        values in [-1, 1], subject by subject. Slices are in radiological
        display orientation: anterior at the top, the subject's right on the
        left.

    Example:
    ```python
    t1, t2 = load_phantom_pairs(num_subjects=2, image_size=64)
    t1.shape, t2.shape  # (16, 64, 64, 1) twice
    ```
    """
    if num_subjects < 1 or slices_per_subject < 1 or image_size < 8:
        raise ValueError(
            "`num_subjects` and `slices_per_subject` must be >= 1 and "
            f"`image_size` >= 8. Received: {num_subjects}, {slices_per_subject}, "
            f"{image_size}"
        )
    depth = max(8, round(0.75 * image_size))
    if slices_per_subject > depth:
        raise ValueError(
            f"`slices_per_subject` must be at most {depth} for `image_size` "
            f"{image_size}. Received: {slices_per_subject}"
        )
    shape = (image_size, image_size, depth)
    voxel_size = _AXIAL_FOV_MM / image_size
    affine = np.diag([voxel_size, voxel_size, voxel_size, 1.0])
    affine[:3, 3] = -voxel_size * (np.array(shape) - 1) / 2.0
    sources, targets = [], []
    for subject in range(num_subjects):
        anatomy_seed, noise_seed = _subject_seeds(seed, subject)
        labels, t1, t2 = _simulate(
            _Head(anatomy_seed, lesions),
            shape,
            affine,
            np.random.default_rng(noise_seed),
            noise_level=0.03,
            bias_strength=0.1,
        )
        brain = np.flatnonzero(np.isin(labels, [GREY_MATTER, WHITE_MATTER]).any((0, 1)))
        lo, hi = (brain[0], brain[-1]) if len(brain) else (0, depth - 1)
        span = hi - lo
        lo, hi = lo + 0.2 * span, hi - 0.2 * span
        if hi - lo + 1 < slices_per_subject:
            lo, hi = 0, depth - 1
        indices = np.linspace(lo, hi, slices_per_subject).round().astype(int)
        sources.append(_axial_slices(_scale_to_unit_range(t1), indices))
        targets.append(_axial_slices(_scale_to_unit_range(t2), indices))
    return (
        np.concatenate(sources)[..., None],
        np.concatenate(targets)[..., None],
    )


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
    directions = _rotation(tilt_deg) @ np.asarray(axes, float).T
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
) -> list[pathlib.Path]:
    """Writes phantom subjects as IXI-style T1 / T2 NIfTI files.

    Files are named like IXI (`IXI002-Guys-0828-T1.nii.gz`,
    `IXI002-Guys-0828-T2.nii.gz`) and laid out like IXI: the T1 image stored
    sagittal (orientation PSR) and the T2 image stored axial (LAS), on
    different oblique grids with different voxel sizes and shapes, `int16`
    data, qform and sform codes 1 (scanner). Both affines describe the same
    head in world space, so resampling the T2 image onto the T1 grid through
    the affines (e.g. `nibabel.processing.resample_from_to`) realigns them, as
    a registration would for real IXI data.

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

    Returns:
        The paths written, subject by subject: T1, T2, then (with
        `write_labels`) the T1 and T2 label files.

    Raises:
        ImportError: if nibabel is not installed.
        OSError: if `root` cannot be created or written to.

    Example:
    ```python
    paths = write_phantom_ixi("/tmp/ixi-phantom", num_subjects=2)
    [p.name for p in paths[:2]]
    # ['IXI002-Guys-8042-T1.nii.gz', 'IXI002-Guys-8042-T2.nii.gz']
    ```
    """
    t1_shape = _check_shape(shape)
    t2_shape = (
        t1_shape[0],
        t1_shape[1],
        max(1, round(t1_shape[2] * _IXI_T2_SLICE_RATIO)),
    )
    root = pathlib.Path(root)
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
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"Cannot create the phantom folder {root}: {error}") from error
    t1_signal, t2_signal = _tissue_signals()
    paths = []
    for subject in range(num_subjects):
        anatomy_seed, noise_seed = _subject_seeds(seed, subject)
        head = _Head(anatomy_seed, lesions)
        noise_rng = np.random.default_rng(noise_seed)
        t1_labels, t1, _ = _simulate(head, t1_shape, t1_affine, noise_rng, 0.03, 0.1)
        t2_labels, _, t2 = _simulate(head, t2_shape, t2_affine, noise_rng, 0.03, 0.1)
        number = np.random.default_rng(anatomy_seed).integers(100, 10000)
        stem = f"IXI{subject + 2:03d}-Guys-{number:04d}"
        outputs = [
            (f"{stem}-T1.nii.gz", _to_int16(t1, t1_signal[WHITE_MATTER]), t1_affine),
            (f"{stem}-T2.nii.gz", _to_int16(t2, t2_signal[CSF]), t2_affine),
        ]
        if write_labels:
            outputs += [
                (f"{stem}-T1-labels.nii.gz", t1_labels, t1_affine),
                (f"{stem}-T2-labels.nii.gz", t2_labels, t2_affine),
            ]
        for name, data, affine in outputs:
            path = root / name
            try:
                _save_atomically(data, affine, path)
            except OSError as error:
                raise OSError(
                    f"Cannot write phantom NIfTI file {name} to folder {root}: {error}"
                ) from error
            paths.append(path)
    return paths
