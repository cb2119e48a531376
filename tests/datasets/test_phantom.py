"""Tests of the synthetic T1w / T2w head phantoms."""

import re

import numpy as np
import pytest

from keras_pix2pix.datasets import phantom

LABELS = phantom.TISSUE_LABELS
IXI_NAME = re.compile(r"^(IXI\d{3})-Guys-(\d{4})-(T1|T2)(-labels)?\.nii\.gz$")


def _mean(volume, labels, *names):
    return volume[np.isin(labels, [LABELS[name] for name in names])].mean()


def test_volume_shapes_dtypes_and_grid():
    volume = phantom.make_phantom_volume((48, 48, 36), seed=3)
    assert volume.labels.shape == volume.t1.shape == volume.t2.shape == (48, 48, 36)
    assert volume.labels.dtype == np.uint8
    assert volume.t1.dtype == volume.t2.dtype == np.float32
    assert set(np.unique(volume.labels)) <= set(LABELS.values())
    assert LABELS["lesion"] not in volume.labels
    assert volume.voxel_size == (5.0, 5.0, 5.0)  # 240 mm / 48 voxels
    np.testing.assert_allclose(np.diag(volume.affine)[:3], 5.0)
    for image in (volume.t1, volume.t2):
        assert np.isfinite(image).all()
        assert image.min() >= 0  # magnitude images
    # The head sits inside the field of view: no tissue on the border.
    assert not volume.labels[[0, -1]].any()
    assert not volume.labels[:, [0, -1]].any()


def test_same_seed_same_volume_and_different_seeds_differ():
    first = phantom.make_phantom_volume((32, 32, 24), seed=7, lesions=True)
    again = phantom.make_phantom_volume((32, 32, 24), seed=7, lesions=True)
    other = phantom.make_phantom_volume((32, 32, 24), seed=8, lesions=True)
    for name in ("labels", "t1", "t2"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
        assert not np.array_equal(getattr(first, name), getattr(other, name))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tissue_contrast(seed):
    volume = phantom.make_phantom_volume(seed=seed)
    t1, t2, labels = volume.t1, volume.t2, volume.labels
    # T1-weighted: CSF dark, white matter brighter than grey matter, bright scalp.
    assert _mean(t1, labels, "csf") < 0.5 * _mean(t1, labels, "grey_matter")
    assert _mean(t1, labels, "white_matter") > 1.15 * _mean(t1, labels, "grey_matter")
    assert _mean(t1, labels, "scalp") > _mean(t1, labels, "white_matter")
    # T2-weighted: CSF bright, white matter darker than grey matter.
    assert _mean(t2, labels, "csf") > 1.3 * _mean(t2, labels, "grey_matter")
    assert _mean(t2, labels, "white_matter") < 0.8 * _mean(t2, labels, "grey_matter")
    # Skull and background are dark on both.
    for image in (t1, t2):
        assert _mean(image, labels, "skull") < 0.5 * _mean(
            image, labels, "csf", "grey_matter", "white_matter"
        )
        assert _mean(image, labels, "background") < 0.2 * _mean(
            image, labels, "white_matter"
        )


def test_lesions_are_dark_on_t1_and_bright_on_t2():
    volume = phantom.make_phantom_volume(seed=0, lesions=True)
    t1, t2, labels = volume.t1, volume.t2, volume.labels
    assert (labels == LABELS["lesion"]).sum() > 10
    assert _mean(t1, labels, "lesion") < _mean(t1, labels, "white_matter")
    assert _mean(t2, labels, "lesion") > 1.3 * _mean(t2, labels, "white_matter")


def test_load_phantom_pairs_shapes_range_and_determinism():
    t1, t2 = phantom.load_phantom_pairs(
        num_subjects=3, image_size=32, slices_per_subject=5, seed=1
    )
    assert t1.shape == t2.shape == (15, 32, 32, 1)
    assert t1.dtype == t2.dtype == np.float32
    for images in (t1, t2):
        assert images.min() == -1.0 and images.max() == 1.0
        # Every slice cuts through the head.
        assert (images.reshape(len(images), -1).max(axis=1) > 0).all()
    assert not np.allclose(t1, t2)
    again = phantom.load_phantom_pairs(
        num_subjects=3, image_size=32, slices_per_subject=5, seed=1
    )
    np.testing.assert_array_equal(t1, again[0])
    np.testing.assert_array_equal(t2, again[1])
    other, _ = phantom.load_phantom_pairs(
        num_subjects=3, image_size=32, slices_per_subject=5, seed=2
    )
    assert not np.array_equal(t1, other)


def test_load_phantom_pairs_default_size():
    t1, t2 = phantom.load_phantom_pairs(num_subjects=4, image_size=64)
    assert t1.shape == t2.shape == (32, 64, 64, 1)
    # Slices of one subject differ from each other.
    assert not np.array_equal(t1[0], t1[1])


def test_load_phantom_pairs_rejects_too_many_slices():
    with pytest.raises(ValueError, match="slices_per_subject"):
        phantom.load_phantom_pairs(num_subjects=1, image_size=16, slices_per_subject=20)


@pytest.fixture(scope="module")
def ixi_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi")
    paths = phantom.write_phantom_ixi(root, num_subjects=2, seed=0, write_labels=True)
    return root, paths


def test_write_phantom_ixi_names_and_layout(ixi_folder):
    import nibabel as nib

    root, paths = ixi_folder
    assert len(paths) == 8
    assert sorted(path.name for path in root.iterdir()) == sorted(
        path.name for path in paths
    )  # no temporary files left behind
    matches = [IXI_NAME.match(path.name) for path in paths]
    assert all(matches)
    subjects = {match.group(1) for match in matches}
    assert subjects == {"IXI002", "IXI003"}
    for subject in subjects:
        names = [p for p in paths if p.name.startswith(subject)]
        t1 = nib.load(next(p for p in names if p.name.endswith("-T1.nii.gz")))
        t2 = nib.load(next(p for p in names if p.name.endswith("-T2.nii.gz")))
        assert nib.aff2axcodes(t1.affine) == ("P", "S", "R")
        assert nib.aff2axcodes(t2.affine) == ("L", "A", "S")
        assert t1.shape != t2.shape
        assert t1.header.get_zooms() != t2.header.get_zooms()
        assert t1.get_data_dtype() == t2.get_data_dtype() == np.int16
        for image in (t1, t2):
            assert int(image.header["qform_code"]) == 1
            assert int(image.header["sform_code"]) == 1
            assert np.asarray(image.dataobj).max() > 500


def _neighbourhood_contains(labels, values):
    """Whether `values` occurs among the 3x3x3 neighbours of each voxel."""
    padded = np.pad(labels, 1, mode="edge")
    found = np.zeros(labels.shape, bool)
    for dx in range(3):
        for dy in range(3):
            for dz in range(3):
                window = padded[
                    dx : dx + labels.shape[0],
                    dy : dy + labels.shape[1],
                    dz : dz + labels.shape[2],
                ]
                found |= window == values
    return found


def test_t2_resampled_through_affines_matches_t1_labels(ixi_folder):
    import nibabel as nib

    pytest.importorskip("scipy")
    from nibabel.processing import resample_from_to

    _, paths = ixi_folder
    for t1_path, t2_path in ((paths[2], paths[3]), (paths[6], paths[7])):
        assert t1_path.name.endswith("-T1-labels.nii.gz")
        assert t2_path.name.endswith("-T2-labels.nii.gz")
        t1_labels_image, t2_labels_image = nib.load(t1_path), nib.load(t2_path)
        t1_labels = np.asarray(t1_labels_image.dataobj)
        resampled = np.asarray(
            resample_from_to(t2_labels_image, t1_labels_image, order=0).dataobj
        )
        head = (t1_labels > 0) | (resampled > 0)
        # Nearest-neighbour resampling between two ~4 mm grids misplaces thin
        # structures (cortex, sulci, CSF) by up to a voxel: nearly every voxel
        # agrees within one voxel, most agree exactly.
        within_one_voxel = _neighbourhood_contains(t1_labels, resampled)[head].mean()
        exact = (t1_labels == resampled)[head].mean()
        assert within_one_voxel > 0.95
        assert exact > 0.75
        # The same data placed 8 mm off agrees far less: the affines matter.
        shifted_affine = t2_labels_image.affine.copy()
        shifted_affine[1, 3] += 8.0
        shifted = nib.Nifti1Image(np.asarray(t2_labels_image.dataobj), shifted_affine)
        misplaced = np.asarray(
            resample_from_to(shifted, t1_labels_image, order=0).dataobj
        )
        union = (t1_labels > 0) | (misplaced > 0)
        assert (t1_labels == misplaced)[union].mean() < exact - 0.15


def test_write_phantom_ixi_is_deterministic(tmp_path):
    import nibabel as nib

    first = phantom.write_phantom_ixi(tmp_path / "a", 1, shape=(32, 32, 20), seed=4)
    again = phantom.write_phantom_ixi(tmp_path / "b", 1, shape=(32, 32, 20), seed=4)
    assert [p.name for p in first] == [p.name for p in again]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(
            np.asarray(nib.load(a).dataobj), np.asarray(nib.load(b).dataobj)
        )


def test_write_phantom_ixi_unwritable_folder_names_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    root = blocker / "ixi"
    with pytest.raises(OSError, match=re.escape(str(root))):
        phantom.write_phantom_ixi(root, 1, shape=(16, 16, 10))
