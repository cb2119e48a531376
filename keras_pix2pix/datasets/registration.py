"""Affine registration of one MRI volume onto another, by mutual information.

Published IXI T1 -> T2 work (pGAN, SynDiff) registers each T2 volume onto its
T1 volume with an affine, mutual-information registration (FSL FLIRT) before
taking slices. `register_affine` does the same with SimpleITK: a 12-parameter
affine transform, Mattes mutual information, multi-resolution (the images
shrunk 4x, then 2x, then full size, smoothed), a regular-step gradient
descent, started from the header geometry (the identity in world space, which
already aligns two scans of one session up to motion).

SimpleITK is optional: install it with `pip install keras-pix2pix[registration]`.

Geometry. nibabel affines map voxel indices to RAS+ world millimetres
(x to the subject's Right, y Anterior, z Superior); ITK images live in LPS+
(x to the Left, y Posterior). The conversion flips the sign of the first two
world axes: `affine_lps = diag(-1, -1, 1, 1) @ affine_ras`, whose columns give
the spacing (their lengths), the direction cosines (the normalized columns) and
the origin (the translation). Arrays are passed to ITK transposed, since
`GetImageFromArray` reads numpy arrays as `[k, j, i]`.

Example:
```python
from keras_pix2pix.datasets.nifti import load_volume, to_canonical
from keras_pix2pix.datasets.registration import register_affine

t1 = to_canonical(load_volume("IXI002-Guys-0828-T1.nii.gz"))
t2 = to_canonical(load_volume("IXI002-Guys-0828-T2.nii.gz"))
t2_on_t1, report = register_affine(t2, t1)
report["similarity_after"]["nmi"] > report["similarity_before"]["nmi"]  # True
```
"""

import contextlib
import time

import nibabel as nib
import numpy as np

from keras_pix2pix.errors import DataError

# Below this head-mask Dice a registration is reported as poor.
POOR_MASK_DICE = 0.8
TRANSFORMS = ("affine", "rigid")
_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _sitk():
    try:
        import SimpleITK
    except ImportError as e:
        raise ImportError(
            "Registration needs SimpleITK, which is an optional dependency: "
            "install it with `pip install keras-pix2pix[registration]` (or "
            "`pip install SimpleITK`)."
        ) from e
    return SimpleITK


@contextlib.contextmanager
def _global_threads(sitk, threads):
    """SimpleITK's default thread count set to `threads` (None: unchanged).

    The metric's threads follow the global default, not the registration
    method's own setting; it is restored afterwards.
    """
    if threads is None:
        yield
        return
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)


def to_sitk(image: nib.spatialimages.SpatialImage, data: np.ndarray | None = None):
    """Converts a 3-D nibabel image (RAS+ affine) into a SimpleITK image (LPS+).

    Args:
        image: a 3-D nibabel image.
        data: the voxels to use instead of the image's (same shape), e.g. a
            mask on its grid. Defaults to `image.get_fdata(dtype=float32)`.

    Returns:
        A `SimpleITK.Image` with the same voxels, spacing, direction and
        origin in world space.

    Raises:
        DataError: if the image is not 3-D or its affine has shear.
        ImportError: if SimpleITK is not installed.
    """
    sitk = _sitk()
    if len(image.shape) != 3:
        raise DataError(f"Expected a 3-D image. Received shape {image.shape}")
    lps = _LPS @ image.affine
    matrix = lps[:3, :3]
    spacing = np.linalg.norm(matrix, axis=0)
    direction = matrix / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise DataError("The image's affine has shear; ITK needs orthogonal axes.")
    if data is None:
        data = image.get_fdata(dtype=np.float32)
    result = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(data).T))
    result.SetSpacing([float(v) for v in spacing])
    result.SetDirection([float(v) for v in direction.ravel()])
    result.SetOrigin([float(v) for v in lps[:3, 3]])
    return result


def _head_mask(data):
    positive = data[data > 0]
    if not positive.size:
        return np.zeros(data.shape, bool)
    return data > 0.1 * float(np.percentile(positive, 99))


def _similarity(fixed, moving, fixed_mask, bins=32):
    """NMI, correlation and head-mask Dice of two volumes on one grid."""
    moving_mask = _head_mask(moving)
    union = fixed_mask | moving_mask
    dice = (
        2
        * np.count_nonzero(fixed_mask & moving_mask)
        / max(1, np.count_nonzero(fixed_mask) + np.count_nonzero(moving_mask))
    )
    a, b = fixed[union], moving[union]
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"nmi": 1.0, "correlation": 0.0, "mask_dice": float(dice)}
    joint, _, _ = np.histogram2d(a, b, bins=bins)
    joint /= joint.sum()

    def entropy(p):
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    nmi = (entropy(joint.sum(1)) + entropy(joint.sum(0))) / entropy(joint.ravel())
    correlation = float(np.corrcoef(a, b)[0, 1])
    return {"nmi": float(nmi), "correlation": correlation, "mask_dice": float(dice)}


def _transform_ras(transform):
    """The 4x4 RAS+ matrix of an ITK affine transform (fixed -> moving world)."""
    matrix = np.asarray(transform.GetMatrix(), float).reshape(3, 3)
    center = np.asarray(transform.GetCenter(), float)
    translation = np.asarray(transform.GetTranslation(), float)
    lps = np.eye(4)
    lps[:3, :3] = matrix
    lps[:3, 3] = translation + center - matrix @ center
    return _LPS @ lps @ _LPS


def apply_transform(
    moving_image: nib.spatialimages.SpatialImage,
    fixed_image: nib.spatialimages.SpatialImage,
    transform: np.ndarray,
    order: int = 1,
) -> nib.Nifti1Image:
    """Resamples an image onto a grid through a world transform (nibabel only).

    Use it to carry a registration found by `register_affine` over to other
    images on the moving grid, e.g. a brain mask with `order=0`.

    Args:
        moving_image: the image to resample (e.g. a T2 brain mask).
        fixed_image: the image whose grid the result takes.
        transform: 4x4 RAS+ matrix mapping fixed world points to moving world
            points, e.g. `report["transform"]` of `register_affine`.
        order: spline order (0: nearest, for masks and labels; 1: linear).

    Returns:
        A `nibabel.Nifti1Image` on `fixed_image`'s grid.

    Example:
    ```python
    t2_on_t1, report = register_affine(t2, t1)
    mask_on_t1 = apply_transform(t2_mask, t1, report["transform"], order=0)
    ```
    """
    from nibabel.processing import resample_from_to

    transform = np.asarray(transform, float)
    # A moving voxel v sits at world point M v; the fixed point x maps to
    # T x, so x = T^-1 M v: the moving image's affine in the fixed world.
    moved = nib.Nifti1Image(
        np.asanyarray(moving_image.dataobj),
        np.linalg.solve(transform, moving_image.affine),
    )
    return resample_from_to(moved, fixed_image, order=order, mode="constant", cval=0)


def register_affine(
    moving_image: nib.spatialimages.SpatialImage,
    fixed_image: nib.spatialimages.SpatialImage,
    *,
    transform: str = "affine",
    iterations: int = 50,
    shrink_factors: tuple[int, ...] = (4, 2, 1),
    smoothing_sigmas: tuple[float, ...] = (2.0, 1.0, 0.0),
    samples: int = 20_000,
    histogram_bins: int = 32,
    seed: int = 0,
    threads: int | None = None,
) -> tuple[nib.Nifti1Image, dict]:
    """Registers `moving_image` onto `fixed_image` (affine, mutual information).

    SimpleITK's `ImageRegistrationMethod` with Mattes mutual information
    (`histogram_bins` bins, about `samples` random points in the fixed head
    at each level, linear interpolation), optimized by
    regular-step gradient descent with physical-shift scales, over one level
    per entry of `shrink_factors`, in two stages as FLIRT does: a rigid
    transform (6 parameters) started at the identity in world space (the
    header geometry) and centred on the fixed image, then (with
    `transform="affine"`) a 12-parameter affine transform started from it.
    The sampled metric alone can be fooled into scaling (on small or coarse
    images, and on a real IXI T2 onto its T1, which it made 2% larger); the
    affine result is kept only if, over every head voxel at full resolution,
    it shares at least as much information with the fixed image as the rigid
    one (normalized mutual information no lower) and the head masks overlap
    about as well (Dice no more than 0.01 lower); else the rigid one is
    (`report["transform_type"]` says which). Nor is a registration kept that
    shares less information than the headers' own alignment (volumes the
    headers already align, as a phantom or a subject who kept still, can come
    out slightly worse); the headers' geometry is then kept
    (`"identity"`). Then the moving image is resampled (linearly, 0 outside)
    onto the fixed grid.

    The report says how well it went: similarity of the fixed image with the
    moving image resampled through the headers alone (`similarity_before`)
    and through the registration (`similarity_after`): normalized mutual
    information (`nmi`, from 1 for independent images to 2 for identical),
    correlation, and Dice of the two head masks (voxels above 10% of the 99th
    percentile), all over the voxels in either head mask. `poor` is true when
    the registered head masks overlap with a Dice below 0.8.

    Args:
        moving_image: the 3-D image to move (e.g. T2-weighted), nibabel.
        fixed_image: the 3-D reference (e.g. T1-weighted), nibabel.
        transform: `"affine"` (12 parameters, after a rigid stage) or
            `"rigid"` (6 parameters: rotation and translation only).
        iterations: the most iterations per level.
        shrink_factors: downsampling factor of each level, coarse to fine.
        smoothing_sigmas: Gaussian smoothing of each level, in voxels.
        samples: about how many fixed head voxels the metric samples at each
            level (all of them when there are fewer).
        histogram_bins: bins of the Mattes mutual information histograms.
        seed: seed of the metric's random sampling, an int >= 0: the same
            seed gives the same registration in every process. (It reaches
            SimpleITK as `seed + 1`: SimpleITK's seed 0 means "seed from the
            wall clock".)
        threads: threads of the registration; `None` for SimpleITK's
            default (every core). Threads sum the metric in an order that
            varies, and the optimizer's path drifts from it: repeated runs
            then agree to about 1e-3 in the transform (thousandths of a
            millimetre to a few hundredths); `threads=1` repeats a run bit for
            bit (the real IXI subject: 31 s instead of 26 s on 2 cores).

    Returns:
        `(resampled, report)`: a `nibabel.Nifti1Image` (`float32`) on the
        fixed grid, and a JSON-serializable dict with `metric` (the final
        Mattes MI value, negative: lower is better), `transform_type`
        (`"affine"`, `"rigid"` or `"identity"`), `iterations` (of the last
        stage run),
        `stop_condition`, `transform` (4x4 RAS+ matrix mapping fixed world
        points to moving world points, see `apply_transform`),
        `similarity_before`, `similarity_after`, `poor` and `seconds`.

    Raises:
        ImportError: if SimpleITK is not installed (install the extra
            `keras-pix2pix[registration]`).
        DataError: if an image is not 3-D, has a sheared affine, or has no
            foreground, or an argument is invalid.

    Example:
    ```python
    t2_on_t1, report = register_affine(t2, t1)
    report["similarity_after"]["mask_dice"]  # e.g. 0.95
    ```
    """
    sitk = _sitk()
    if transform not in TRANSFORMS:
        raise DataError(
            f"`transform` must be one of {TRANSFORMS}. Received: {transform!r}"
        )
    if len(shrink_factors) != len(smoothing_sigmas) or not shrink_factors:
        raise DataError(
            "`shrink_factors` and `smoothing_sigmas` must be non-empty and of one "
            f"length. Received: {shrink_factors!r}, {smoothing_sigmas!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"`seed` must be an int >= 0. Received: {seed!r}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise DataError(f"`threads` must be None or an int >= 1. Received: {threads!r}")
    if int(samples) < 1000:
        raise DataError(f"`samples` must be at least 1000. Received: {samples}")
    start = time.perf_counter()
    fixed_data = fixed_image.get_fdata(dtype=np.float32)
    fixed_mask = _head_mask(fixed_data)
    if not fixed_mask.any():
        raise DataError("The fixed image has no foreground (it is empty).")
    fixed = to_sitk(fixed_image, fixed_data)
    moving = to_sitk(moving_image)
    mask = to_sitk(fixed_image, fixed_mask.astype(np.uint8))

    center_index = (np.asarray(fixed.GetSize()) - 1) / 2.0
    center = fixed.TransformContinuousIndexToPhysicalPoint(center_index)
    # About `samples` metric samples at every level (the percentage applies
    # to the voxels of each shrunk image), or every head voxel when fewer.
    head_voxels = np.count_nonzero(fixed_mask)
    percentages = [
        float(min(1.0, samples * int(f) ** 3 / head_voxels)) for f in shrink_factors
    ]
    fixed_float = sitk.Cast(fixed, sitk.sitkFloat32)
    moving_float = sitk.Cast(moving, sitk.sitkFloat32)

    def run(initial):
        method = sitk.ImageRegistrationMethod()
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=histogram_bins)
        method.SetMetricSamplingStrategy(method.RANDOM)
        # Seed 0 would be SimpleITK's "wall clock": a new sample every run.
        method.SetMetricSamplingPercentagePerLevel(percentages, seed + 1)
        method.SetMetricFixedMask(mask)
        method.SetInterpolator(sitk.sitkLinear)
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=1.0,
            minStep=1e-3,
            numberOfIterations=int(iterations),
            relaxationFactor=0.5,
            gradientMagnitudeTolerance=1e-6,
        )
        method.SetOptimizerScalesFromPhysicalShift()
        method.SetShrinkFactorsPerLevel([int(f) for f in shrink_factors])
        method.SetSmoothingSigmasPerLevel([float(s) for s in smoothing_sigmas])
        method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
        method.SetInitialTransform(initial, inPlace=True)
        try:
            with _global_threads(sitk, threads):
                method.Execute(fixed_float, moving_float)
        except RuntimeError as e:
            raise DataError(f"The registration failed: {e}") from e
        return method

    # Rigid first (6 parameters), then affine (12) from the rigid result, as
    # FLIRT does: an affine from scratch drifts into scaling on small images.
    rigid = sitk.Euler3DTransform()
    rigid.SetCenter(center)
    rigid_method = run(rigid)

    def resample(transform):
        out = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0)
        return sitk.GetArrayFromImage(out).T.astype(np.float32)

    rigid_affine = sitk.AffineTransform(3)
    rigid_affine.SetCenter(center)
    rigid_affine.SetMatrix(rigid.GetMatrix())
    rigid_affine.SetTranslation(rigid.GetTranslation())
    after = resample(rigid_affine)
    similarity_after = _similarity(fixed_data, after, fixed_mask)
    chosen, method, final_transform = "rigid", rigid_method, rigid_affine
    if transform == "affine":
        affine_transform = sitk.AffineTransform(rigid_affine)
        affine_method = run(affine_transform)
        affine_after = resample(affine_transform)
        affine_similarity = _similarity(fixed_data, affine_after, fixed_mask)
        # The sampled Mattes metric can be fooled into scaling (on small or
        # coarse images, or on a real T2 onto a T1: 2% larger here); the head
        # outlines and the NMI of every head voxel are not: keep the affine
        # result only if it overlaps about as well and shares at least as
        # much information as the rigid one.
        if (
            affine_similarity["mask_dice"] >= similarity_after["mask_dice"] - 0.01
            and affine_similarity["nmi"] >= similarity_after["nmi"]
        ):
            chosen, method, final_transform = "affine", affine_method, affine_transform
            after, similarity_after = affine_after, affine_similarity
    identity = sitk.AffineTransform(3)
    by_header = resample(identity)
    similarity_before = _similarity(fixed_data, by_header, fixed_mask)
    if similarity_after["nmi"] < similarity_before["nmi"]:
        chosen, final_transform = "identity", identity
        after, similarity_after = by_header, similarity_before
    poor = similarity_after["mask_dice"] < POOR_MASK_DICE
    report = {
        "method": "Mattes mutual information (SimpleITK)",
        "transform_type": chosen,
        "metric": float(method.GetMetricValue()),
        "iterations": int(method.GetOptimizerIteration()),
        "stop_condition": method.GetOptimizerStopConditionDescription(),
        "transform": _transform_ras(final_transform).tolist(),
        "similarity_before": similarity_before,
        "similarity_after": similarity_after,
        "poor": bool(poor),
        "seconds": time.perf_counter() - start,
    }
    resampled = nib.Nifti1Image(after, fixed_image.affine)
    resampled.set_data_dtype(np.float32)
    return resampled, report
