"""IXI T1 / T2 / PD in every direction, and several source contrasts at once."""

import itertools

import nibabel as nib
import numpy as np
import pytest
from tissues import TISSUES, tissue_means

from keras_pix2pix.datasets import (
    SliceSpec,
    load_ixi_pairs,
    load_paired_volumes,
    nifti,
    slice_pairs,
    write_phantom_ixi,
)
from keras_pix2pix.datasets.phantom import (
    tissue_signals,
)
from keras_pix2pix.errors import DataError, DatasetNotFoundError

SIZE = 64
DIRECTIONS = list(itertools.permutations(("T1", "T2", "PD"), 2))


@pytest.fixture(scope="module")
def ixi_root(tmp_path_factory):
    """One phantom subject with T1, T2 and PD files and the labels of each grid."""
    root = tmp_path_factory.mktemp("ixi-directions")
    write_phantom_ixi(
        root,
        1,
        shape=(SIZE, SIZE, 40),
        seed=4,
        write_labels=True,
        modalities=("T1", "T2", "PD"),
    )
    return root


def _grid_of(contrast):
    return "T1" if contrast == "T1" else "T2"  # PD: the T2 acquisition's echo


def _labels_on_source_grid(root, first_source, slices):
    """Tissue labels of the first source's grid, cut like its slices."""

    def as_image(grid):
        image = nib.load(next(root.glob(f"*-{grid}-labels.nii.gz")))
        return nib.Nifti1Image(np.asarray(image.dataobj, np.float32) + 10, image.affine)

    grid = _grid_of(first_source)
    other = "T2" if grid == "T1" else "T1"
    spec = SliceSpec(
        slices=slices,
        image_size=SIZE,
        frame="grid",
        interpolation_order=0,
        low_percentile=0,
        high_percentile=100,
    )
    cut, _, info = slice_pairs.paired_volume_slices(
        as_image(grid), as_image(other), spec
    )
    scaled = nifti.denormalize_intensity(cut[..., 0], info["source_normalizations"][0])
    return (np.rint(scaled) - 10).astype(int)


def test_the_pd_file_is_on_the_t2_grid_like_ixi_dual_echo(ixi_root):
    t2 = nib.load(next(ixi_root.glob("*-T2.nii.gz")))
    pd = nib.load(next(ixi_root.glob("*-PD.nii.gz")))
    t1 = nib.load(next(ixi_root.glob("*-T1.nii.gz")))
    assert pd.shape == t2.shape != t1.shape
    np.testing.assert_array_equal(pd.affine, t2.affine)
    assert nib.aff2axcodes(pd.affine) == nib.aff2axcodes(t2.affine) == ("L", "A", "S")
    # The loader takes a volume on the reference grid as it is (no
    # interpolation) and resamples one on another grid through the affines.
    same = nifti.resample_to(pd, t2, order=1)
    np.testing.assert_array_equal(np.asarray(same.dataobj), np.asarray(pd.dataobj))
    moved = nib.Nifti1Image(np.asarray(pd.dataobj), pd.affine @ np.diag([1, 1, 1, 1]))
    moved.affine[0, 3] += 3.0  # the same voxels, 3 mm to the right
    shifted = np.asarray(nifti.resample_to(moved, t2, order=1).dataobj)
    assert not np.array_equal(shifted, np.asarray(pd.dataobj))


@pytest.mark.parametrize("source, target", DIRECTIONS)
def test_each_direction_aligns_the_anatomy_and_keeps_each_contrast(
    ixi_root, source, target
):
    signals = tissue_signals()
    source_slices, target_slices, info = load_ixi_pairs(
        ixi_root, SliceSpec(image_size=SIZE, frame="grid"), source=source, target=target
    )
    assert (info.source_contrasts, info.target_contrast) == ((source,), target)
    assert source_slices.shape == target_slices.shape
    (subject,) = info.subjects
    labels = _labels_on_source_grid(
        ixi_root, source, info.per_subject[subject]["slices"]
    )
    # The source on its own grid: the tissue order of the phantom's table.
    order = np.argsort(tissue_means(source_slices[..., 0], labels))
    np.testing.assert_array_equal(order, np.argsort(signals[source][list(TISSUES)]))
    if _grid_of(source) == _grid_of(target):  # T2 <-> PD: nothing resampled
        order = np.argsort(tissue_means(target_slices[..., 0], labels))
        np.testing.assert_array_equal(order, np.argsort(signals[target][list(TISSUES)]))
    # The target shows the anatomy at the source's pixels: it matches the
    # tissue signals drawn from the source grid's labels, and much better
    # than when they are shifted by 3 pixels.
    head = labels > 0
    ideal = signals[target][labels]
    aligned = np.corrcoef(target_slices[..., 0][head], ideal[head])[0, 1]
    shifted = np.roll(ideal, 3, axis=2)
    moved = np.corrcoef(target_slices[..., 0][head], shifted[head])[0, 1]
    assert aligned > 0.65 and aligned > moved + 0.1, (aligned, moved)


def test_t2_and_pd_swap_exactly_since_they_share_a_grid(ixi_root):
    spec = SliceSpec(image_size=SIZE, slices=range(8, 20))
    t2, pd, _ = load_ixi_pairs(ixi_root, spec, source="T2", target="PD")
    pd_back, t2_back, _ = load_ixi_pairs(ixi_root, spec, source="PD", target="T2")
    np.testing.assert_array_equal(t2[..., 0], t2_back[..., 0])
    np.testing.assert_array_equal(pd[..., 0], pd_back[..., 0])


def test_several_source_contrasts_are_channels_contrast_by_contrast(ixi_root):
    spec = SliceSpec(image_size=SIZE, slices=range(10, 16), context=1)
    both, pd, info = load_ixi_pairs(ixi_root, spec, source=("T1", "T2"), target="PD")
    assert both.shape == (6, SIZE, SIZE, 6)  # 2 contrasts x 3 slices
    assert info.source_contrasts == ("T1", "T2")
    (record,) = info.per_subject.values()
    assert len(record["source_paths"]) == len(record["source_normalizations"]) == 2
    t1, _, _ = load_ixi_pairs(ixi_root, spec, source="T1", target="PD")
    np.testing.assert_array_equal(both[..., :3], t1)
    single = spec.replace(context=0)
    _, t2_on_t1, _ = load_ixi_pairs(ixi_root, single, source="T1", target="T2")
    _, pd_on_t1, _ = load_ixi_pairs(ixi_root, single, source="T1", target="PD")
    np.testing.assert_allclose(both[..., 4:5], t2_on_t1, atol=1e-6)  # centre slice
    np.testing.assert_array_equal(pd, pd_on_t1)


def test_own_volumes_take_several_sources_too(ixi_root):
    files = {c: next(ixi_root.glob(f"*-{c}.nii.gz")) for c in ("T1", "T2", "PD")}
    spec = SliceSpec(image_size=SIZE, slices=range(10, 14))
    both, pd, info = load_paired_volumes(
        [([files["T1"], files["T2"]], files["PD"])], spec
    )
    assert both.shape == (4, SIZE, SIZE, 2) and pd.shape == (4, SIZE, SIZE, 1)
    assert info.source_contrasts == ()
    with pytest.raises(DataError, match="same number of source volumes"):
        load_paired_volumes(
            [([files["T1"], files["T2"]], files["PD"]), (files["T1"], files["PD"])],
            spec,
        )
    with pytest.raises(DataError, match="Each entry of `pairs`"):
        load_paired_volumes([([], files["PD"])], spec)


def test_direction_errors_name_what_is_expected(ixi_root, tmp_path):
    with pytest.raises(DataError, match=r"IXI contrasts from \('T1', 'T2', 'PD'\)"):
        load_ixi_pairs(ixi_root, source="FLAIR", target="T2")
    with pytest.raises(DataError, match="must differ from the sources"):
        load_ixi_pairs(ixi_root, source=("T1", "T2"), target="T2")
    with pytest.raises(DataError, match="T1 -> T2 only"):
        load_ixi_pairs(ixi_root, source="T2", target="PD", pairing="paper")
    for path in ixi_root.glob("*-T[12].nii.gz"):
        (tmp_path / path.name).symlink_to(path)
    with pytest.raises(DatasetNotFoundError, match="T2/PD"):
        load_ixi_pairs(tmp_path, source="T2", target="PD")


def test_each_direction_has_its_own_cache_folder(ixi_root, tmp_path):
    spec = SliceSpec(image_size=SIZE, slices=range(10, 14))
    _, _, default = load_ixi_pairs(ixi_root, spec, cache_dir=tmp_path)
    _, _, other = load_ixi_pairs(
        ixi_root, spec, source=("T1", "T2"), target="PD", cache_dir=tmp_path
    )
    assert default.cache_dir.endswith("all") and other.cache_dir.endswith(
        "all-T1+T2-to-PD"
    )
    again, _, _ = load_ixi_pairs(
        ixi_root, spec, source=("T1", "T2"), target="PD", cache_dir=tmp_path
    )
    assert again.shape[-1] == 2
