"""The phantoms' random anatomy: tissue labels sampled from implicit surfaces.

A head is a function of world coordinates (mm), so one subject can be sampled
on any voxel grid (`Head.sample`), as the T1 and T2 grids of IXI require.
"""

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


class Grid:
    """Voxel centres of a grid (or of a slab of it) in some frame, in mm.

    `coordinates = matrix @ (i, j, k) + offset` for voxel indices `i, j, k`.
    """

    def __init__(self, matrix, offset, shape):
        self.matrix = np.asarray(matrix, np.float64)
        self.offset = np.asarray(offset, np.float64)
        self.shape = tuple(shape)

    def moved(self, rotation, translation):
        """The same voxels in the frame `x' = rotation.T @ (x - translation)`."""
        return Grid(
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


class PlaneWaves:
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


def rotation(angles_deg):
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


class Head:
    """Random anatomy and acquisition fields of one subject, in world mm."""

    def __init__(self, seed, lesions):
        rng = np.random.default_rng(seed)
        self.rotation = rotation(rng.uniform(-4.0, 4.0, size=3))
        self.translation = rng.uniform(-3.0, 3.0, size=3)
        self.brain_centre = np.array([0.0, -2.0, 0.0])
        self.brain_axes = np.array([61.0, 82.0, 58.0]) * rng.uniform(0.93, 1.04, 3)
        self.csf_thickness = rng.uniform(2.0, 3.5)
        self.skull_thickness = rng.uniform(5.0, 7.0)
        self.scalp_thickness = rng.uniform(4.0, 6.0)
        self.shape_field = PlaneWaves(rng, 8, (60.0, 160.0))
        self.thickness_field = PlaneWaves(rng, 8, (40.0, 120.0))
        self.gyral_field = PlaneWaves(rng, 24, (18.0, 40.0))
        self.sulcal_field = PlaneWaves(rng, 16, (20.0, 45.0))
        self.texture_field = PlaneWaves(rng, 16, (6.0, 20.0))
        self.t1_bias_field = PlaneWaves(rng, 4, (200.0, 500.0))
        self.t2_bias_field = PlaneWaves(rng, 4, (200.0, 500.0))
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
            grid: a `Grid` in world coordinates.
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


def subject_seeds(seed, subject):
    """Independent anatomy and noise seeds for subject number `subject`."""
    anatomy, noise = np.random.SeedSequence([seed, subject]).spawn(2)
    return anatomy, noise


def check_shape(shape):
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"`shape` must be three positive integers. Received: {shape!r}"
        )
    return shape
