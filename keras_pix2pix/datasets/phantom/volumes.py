"""Phantom heads as arrays: one volume with labels, or stacks of axial pairs."""

import dataclasses

import numpy as np

from keras_pix2pix.datasets.phantom.acquisition import CONTRASTS, simulate
from keras_pix2pix.datasets.phantom.anatomy import (
    GREY_MATTER,
    WHITE_MATTER,
    Head,
    check_shape,
    subject_seeds,
)

# Axial field of view (mm) of `make_phantom_volume` when no voxel size is given.
_AXIAL_FOV_MM = 240.0


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
        pd: `float32` proton-density weighted magnitude image (the T2
            acquisition's first echo, arbitrary units).
        voxel_size: voxel edge lengths in mm.
        affine: 4x4 voxel-to-world (RAS+, mm) matrix, as in NIfTI.
    """

    labels: np.ndarray
    t1: np.ndarray
    t2: np.ndarray
    pd: np.ndarray
    voxel_size: tuple[float, float, float]
    affine: np.ndarray


def make_phantom_volume(
    shape: tuple[int, int, int] = (64, 64, 48),
    *,
    seed: int = 0,
    lesions: bool = False,
    voxel_size: float | None = None,
    noise_level: float = 0.03,
    bias_strength: float = 0.1,
) -> PhantomVolume:
    """Generates one synthetic head as T1w, T2w and PD volumes with labels.

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
        A `PhantomVolume` with `labels` (`uint8`), `t1`, `t2` and `pd` (`float32`,
        arbitrary units, all of shape `shape`), `voxel_size` and `affine`.

    Example:
    ```python
    phantom = make_phantom_volume((64, 64, 48), seed=1)
    phantom.t1.shape  # (64, 64, 48)
    wm = phantom.labels == 5
    phantom.t1[wm].mean() > phantom.t1[phantom.labels == 4].mean()  # True
    ```
    """
    shape = check_shape(shape)
    if voxel_size is None:
        voxel_size = _AXIAL_FOV_MM / max(shape[0], shape[1])
    voxel_size = float(voxel_size)
    if voxel_size <= 0:
        raise ValueError(f"`voxel_size` must be positive. Received: {voxel_size}")
    affine = np.diag([voxel_size, voxel_size, voxel_size, 1.0])
    affine[:3, 3] = -voxel_size * (np.array(shape) - 1) / 2.0
    anatomy_seed, noise_seed = subject_seeds(seed, 0)
    labels, volumes = simulate(
        Head(anatomy_seed, lesions),
        shape,
        affine,
        np.random.default_rng(noise_seed),
        noise_level,
        bias_strength,
        contrasts=CONTRASTS,
    )
    return PhantomVolume(
        labels=labels,
        t1=volumes["T1"],
        t2=volumes["T2"],
        pd=volumes["PD"],
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
        anatomy_seed, noise_seed = subject_seeds(seed, subject)
        labels, volumes = simulate(
            Head(anatomy_seed, lesions),
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
        for slices, contrast in ((sources, "T1"), (targets, "T2")):
            volume = _scale_to_unit_range(volumes[contrast])
            slices.append(_axial_slices(volume, indices))
    return (
        np.concatenate(sources)[..., None],
        np.concatenate(targets)[..., None],
    )
