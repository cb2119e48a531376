"""Tests of the affine registration: geometry, recovery of a known motion."""

import json
import sys

import nibabel as nib
import numpy as np
import pytest

from keras_pix2pix.datasets import nifti
from keras_pix2pix.datasets.phantom import write_phantom_ixi
from keras_pix2pix.errors import DataError

pytest.importorskip("SimpleITK", reason="registration needs SimpleITK")

from keras_pix2pix.datasets import registration


def _rotation_z(degrees):
    angle = np.deg2rad(degrees)
    return np.array(
        [
            [np.cos(angle), -np.sin(angle), 0],
            [np.sin(angle), np.cos(angle), 0],
            [0, 0, 1],
        ]
    )


# A known head motion: 8 degrees about the SI axis and a shift in mm.
MOTION = np.eye(4)
MOTION[:3, :3] = _rotation_z(8.0)
MOTION[:3, 3] = (6.0, -4.0, 3.0)


def _moved(path):
    """The image of `path` with its header moved by MOTION (data unchanged)."""
    image = nib.load(path)
    return nib.Nifti1Image(np.asanyarray(image.dataobj), MOTION @ image.affine)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    root = tmp_path_factory.mktemp("registration")
    t1, t2, t1_labels, t2_labels = write_phantom_ixi(
        root, 1, shape=(48, 48, 30), seed=1, write_labels=True
    )
    fixed = nifti.to_canonical(nifti.load_volume(t1))
    labels = np.asarray(nifti.to_canonical(nib.load(t1_labels)).dataobj)
    moving = nifti.to_canonical(_moved(t2))
    moving_labels = nifti.to_canonical(_moved(t2_labels))
    resampled, report = registration.register_affine(moving, fixed)
    return {
        "fixed": fixed,
        "labels": labels,
        "moving": moving,
        "moving_labels": moving_labels,
        "true_labels": nifti.to_canonical(nib.load(t2_labels)),
        "resampled": resampled,
        "report": report,
    }


def _agreement(labels, other):
    """Fraction of voxels in either head (CSF, GM, WM) with the same label."""
    head = (labels >= 3) | (other >= 3)
    return np.count_nonzero((labels == other) & head) / np.count_nonzero(head)


def test_registration_recovers_a_known_motion(phantom):
    fixed, labels = phantom["fixed"], phantom["labels"]
    by_header = np.asarray(
        nifti.resample_to(phantom["moving_labels"], fixed, order=0).dataobj
    )
    registered = np.asarray(
        registration.apply_transform(
            phantom["moving_labels"], fixed, phantom["report"]["transform"], order=0
        ).dataobj
    )
    truth = np.asarray(
        nifti.resample_to(phantom["true_labels"], fixed, order=0).dataobj
    )
    before, after, best = (
        _agreement(labels, x) for x in (by_header, registered, truth)
    )
    assert after > before + 0.15
    assert after > 0.93 * best
    # The transform found is close to the motion (within a voxel or so).
    centre = fixed.affine @ np.r_[(np.array(fixed.shape) - 1) / 2, 1]
    found = np.asarray(phantom["report"]["transform"]) @ centre
    assert np.linalg.norm(found - MOTION @ centre) < 6.0


def test_report_shows_the_improvement(phantom):
    report = phantom["report"]
    json.dumps(report)
    assert report["transform_type"] in ("affine", "rigid")
    assert report["metric"] < 0
    assert not report["poor"]
    before, after = report["similarity_before"], report["similarity_after"]
    assert after["mask_dice"] > before["mask_dice"]
    assert after["nmi"] > before["nmi"]
    resampled = phantom["resampled"]
    assert resampled.shape == phantom["fixed"].shape
    np.testing.assert_allclose(resampled.affine, phantom["fixed"].affine)
    assert resampled.get_fdata().dtype == np.float64  # nibabel's default view


def test_never_worse_than_the_headers(tmp_path):
    # Volumes the headers already align: each phantom's registration is kept
    # only where it shares more information than the headers' alignment.
    paths = write_phantom_ixi(tmp_path, 2, shape=(48, 48, 30), seed=1)
    pairs = list(zip(paths[::2], paths[1::2], strict=True))  # T1, T2 by subject
    assert len(pairs) == 2, paths
    for t1, t2 in pairs:
        fixed = nifti.to_canonical(nifti.load_volume(t1))
        moving = nifti.to_canonical(nifti.load_volume(t2))
        _, report = registration.register_affine(moving, fixed)
        before, after = report["similarity_before"], report["similarity_after"]
        assert after["nmi"] >= before["nmi"]
        assert not report["poor"]
        if report["transform_type"] == "identity":
            np.testing.assert_allclose(report["transform"], np.eye(4), atol=1e-12)
            assert after == before


def test_rigid_transform_only(phantom):
    _, report = registration.register_affine(
        phantom["moving"], phantom["fixed"], transform="rigid", iterations=30
    )
    assert report["transform_type"] == "rigid"
    matrix = np.asarray(report["transform"])[:3, :3]
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-6)


def test_same_seed_same_registration(phantom):
    """The metric's random sample is seeded: a second run repeats the first
    bit for bit with one thread; with every core, threads sum in a varying
    order and the optimizer's path drifts by a few thousandths."""
    moving, fixed = phantom["moving"], phantom["fixed"]
    _, report = registration.register_affine(moving, fixed)
    np.testing.assert_allclose(
        report["transform"], phantom["report"]["transform"], atol=2e-2
    )
    runs = [registration.register_affine(moving, fixed, threads=1) for _ in range(2)]
    assert runs[0][1]["transform"] == runs[1][1]["transform"]
    np.testing.assert_array_equal(runs[0][0].dataobj, runs[1][0].dataobj)


def test_sitk_geometry_matches_nibabel():
    affine = np.eye(4)
    affine[:3, :3] = _rotation_z(20.0) @ np.diag([0.9, 1.1, 2.0])
    affine[:3, 3] = (10.0, -20.0, 30.0)
    flipped = affine @ np.diag([-1.0, 1.0, 1.0, 1.0])  # an improper direction
    data = np.random.default_rng(0).random((5, 6, 7)).astype(np.float32)
    for matrix in (affine, flipped):
        image = registration.to_sitk(nib.Nifti1Image(data, matrix))
        assert image.GetSize() == (5, 6, 7)
        for index in [(0, 0, 0), (4, 1, 6), (2, 5, 3)]:
            world_ras = (matrix @ np.r_[index, 1])[:3]
            lps = np.asarray(image.TransformIndexToPhysicalPoint(index))
            np.testing.assert_allclose(lps * [-1, -1, 1], world_ras, atol=1e-6)
            assert image.GetPixel(*index) == pytest.approx(data[index])


def test_apply_transform_with_identity_is_resampling(phantom):
    moving = phantom["moving_labels"]
    direct = nifti.resample_to(moving, phantom["fixed"], order=0)
    through = registration.apply_transform(moving, phantom["fixed"], np.eye(4), 0)
    np.testing.assert_array_equal(np.asarray(direct.dataobj), through.dataobj)


def test_invalid_arguments(phantom):
    with pytest.raises(DataError):
        registration.register_affine(
            phantom["moving"], phantom["fixed"], transform="elastic"
        )
    with pytest.raises(DataError):
        registration.register_affine(
            phantom["moving"], phantom["fixed"], shrink_factors=(2, 1)
        )
    with pytest.raises(DataError, match="`seed` must be an int >= 0"):
        registration.register_affine(phantom["moving"], phantom["fixed"], seed=-1)
    with pytest.raises(DataError, match="`threads` must be None or an int >= 1"):
        registration.register_affine(phantom["moving"], phantom["fixed"], threads=0)
    empty = nib.Nifti1Image(np.zeros((8, 8, 8), np.float32), np.eye(4))
    with pytest.raises(DataError, match="no foreground"):
        registration.register_affine(phantom["moving"], empty)


def test_missing_simpleitk_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "SimpleITK", None)
    with pytest.raises(ImportError, match=r"keras-pix2pix\[registration\]"):
        registration.to_sitk(nib.Nifti1Image(np.zeros((2, 2, 2)), np.eye(4)))
