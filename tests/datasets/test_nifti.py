"""Tests of the NIfTI volume tools: loading, alignment, normalization, slicing."""

import gzip
import json

import nibabel as nib
import numpy as np
import pytest

from keras_pix2pix.datasets import SliceSpec, nifti, slice_pairs, slicing
from keras_pix2pix.datasets.phantom import write_phantom_ixi
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError


def _save(path, data, affine=None):
    nib.save(
        nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine), path
    )
    return path


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    """One phantom subject on IXI-like T1 (PSR) and T2 (LAS) grids, with labels."""
    root = tmp_path_factory.mktemp("phantom")
    t1, t2, t1_labels, t2_labels = write_phantom_ixi(
        root, 1, shape=(64, 64, 40), seed=3, write_labels=True
    )
    return {"t1": t1, "t2": t2, "t1_labels": t1_labels, "t2_labels": t2_labels}


# Loading and validation.


def test_load_volume_returns_float32_3d_image(phantom):
    image = nifti.load_volume(phantom["t1"])
    assert isinstance(image, nib.Nifti1Image)
    assert image.shape == (64, 64, 40)
    assert image.get_data_dtype() == np.float32
    assert np.asanyarray(image.dataobj).dtype == np.float32
    np.testing.assert_allclose(image.affine, nib.load(phantom["t1"]).affine)
    np.testing.assert_array_equal(
        image.get_fdata(), nib.load(phantom["t1"]).get_fdata()
    )


def test_missing_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"absent\.nii\.gz"):
        nifti.load_volume(tmp_path / "absent.nii.gz")


def test_truncated_file_error_names_the_file(tmp_path, phantom):
    data = phantom["t1"].read_bytes()
    path = tmp_path / "cut-T1.nii.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=r"cut-T1\.nii\.gz.*truncated"):
        nifti.load_volume(path)


def test_wrong_magic_error_names_the_file(tmp_path):
    path = tmp_path / "junk.nii.gz"
    path.write_bytes(gzip.compress(b"not a nifti file at all" * 40))
    with pytest.raises(ImageFileError, match=r"junk\.nii\.gz"):
        nifti.load_volume(path)


def test_2d_file_is_rejected(tmp_path):
    path = _save(tmp_path / "flat.nii.gz", np.ones((8, 8), np.float32))
    with pytest.raises(ImageFileError, match=r"flat\.nii\.gz is not a 3-D volume"):
        nifti.load_volume(path)


def test_4d_with_singleton_axis_is_squeezed(tmp_path):
    data = np.arange(8 * 6 * 4, dtype=np.int16).reshape(8, 6, 4, 1)
    image = nifti.load_volume(_save(tmp_path / "four.nii.gz", data))
    assert image.shape == (8, 6, 4)
    np.testing.assert_array_equal(image.get_fdata(), data[..., 0])


def test_4d_time_series_is_rejected(tmp_path):
    path = _save(tmp_path / "series.nii.gz", np.ones((8, 6, 4, 3), np.float32))
    with pytest.raises(ImageFileError, match=r"series\.nii\.gz.*4 dimensions"):
        nifti.load_volume(path)


def test_nan_volume_error_counts_voxels(tmp_path):
    data = np.ones((8, 8, 8), np.float32)
    data[0, 0, :3] = np.nan
    data[1, 1, 1] = np.inf
    path = _save(tmp_path / "nan.nii.gz", data)
    with pytest.raises(ImageFileError, match=r"nan\.nii\.gz holds 4 NaN or infinite"):
        nifti.load_volume(path)


# Orientation and resampling.


def test_to_canonical_and_resample_realign_the_grids(phantom):
    t1 = nifti.to_canonical(nifti.load_volume(phantom["t1"]))
    assert nib.aff2axcodes(nib.load(phantom["t1"]).affine) == ("P", "S", "R")
    assert nib.aff2axcodes(t1.affine) == ("R", "A", "S")
    assert t1.shape == (40, 64, 64)
    t2 = nifti.load_volume(phantom["t2"])
    on_t1 = nifti.resample_to(t2, t1)
    assert on_t1.shape == t1.shape
    np.testing.assert_allclose(on_t1.affine, t1.affine)
    with pytest.raises(DataError, match="order"):
        nifti.resample_to(t2, t1, order=7)


# Intensity normalization.


def test_normalization_round_trip_and_json_params():
    rng = np.random.default_rng(0)
    volume = np.zeros((20, 20, 20), np.float32)
    volume[4:16, 4:16, 4:16] = rng.gamma(4.0, 100.0, (12, 12, 12))
    scaled, params = nifti.normalize_intensity(volume)
    assert scaled.dtype == np.float32
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    assert np.all(scaled[volume == 0] == -1.0)  # background below the head
    head = volume[volume > 0]
    assert params["lower"] == pytest.approx(np.percentile(head, 0.5))
    assert params["upper"] == pytest.approx(np.percentile(head, 99.5))
    params = json.loads(json.dumps(params))
    restored = nifti.denormalize_intensity(scaled, params)
    inside = (volume >= params["lower"]) & (volume <= params["upper"])
    np.testing.assert_allclose(restored[inside], volume[inside], rtol=1e-4)
    np.testing.assert_allclose(
        restored, np.clip(volume, params["lower"], params["upper"]), rtol=1e-4
    )


def test_normalization_with_mask_and_minmax():
    volume = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    scaled, params = nifti.normalize_intensity(
        volume, mask=np.ones(volume.shape, bool), low=0, high=100
    )
    assert (params["lower"], params["upper"]) == (0.0, 999.0)
    np.testing.assert_allclose(scaled, volume / 999.0 * 2 - 1, atol=1e-6)
    with pytest.raises(DataError, match="shape"):
        nifti.normalize_intensity(volume, mask=np.ones((2, 2), bool))
    with pytest.raises(DataError, match="Percentiles"):
        nifti.normalize_intensity(volume, low=50, high=10)


def test_constant_volume_error_names_it(tmp_path):
    with pytest.raises(DataError, match=r"my-volume.*zero range"):
        nifti.normalize_intensity(np.full((6, 6, 6), 7.0), name="my-volume")
    flat = _save(tmp_path / "flat-T1.nii.gz", np.full((8, 8, 8), 5, np.int16))
    other = _save(
        tmp_path / "ok-T2.nii.gz", np.arange(512, dtype=np.int16).reshape(8, 8, 8)
    )
    with pytest.raises(DataError, match=r"flat-T1\.nii\.gz.*zero range"):
        slice_pairs.paired_volume_slices(
            flat, other, SliceSpec(slices=[3], image_size=8)
        )


# Slicing.


def test_extract_slices_display_orientation():
    volume = np.zeros((4, 5, 6), np.float32)  # x (L->R), y (P->A), z (I->S)
    volume[3, 4, :] = 1.0  # right, anterior
    axial = slicing.extract_slices(volume, "axial", [0, 5])
    assert axial.shape == (2, 5, 4)
    assert axial[0, 0, 0] == 1.0  # anterior at the top, right on the left
    volume[:] = 0
    volume[3, :, 5] = 1.0  # right, superior
    coronal = slicing.extract_slices(volume, "coronal", [2])
    assert coronal.shape == (1, 6, 4)
    assert coronal[0, 0, 0] == 1.0 and coronal.sum() == 1
    volume[:] = 0
    volume[:, 4, 5] = 1.0  # anterior, superior
    sagittal = slicing.extract_slices(volume, "sagittal")
    assert sagittal.shape == (4, 6, 5)
    assert np.all(sagittal[:, 0, 0] == 1.0) and sagittal.sum() == 4
    with pytest.raises(DataError, match="plane"):
        slicing.extract_slices(volume, "oblique")
    with pytest.raises(DataError, match="Slice indices"):
        slicing.extract_slices(volume, "axial", [6])


def test_crop_or_pad_centres_without_interpolation():
    slices = np.arange(2 * 3 * 10, dtype=np.float32).reshape(2, 3, 10)
    out = slicing.crop_or_pad(slices, 6, value=-1.0)
    assert out.shape == (2, 6, 6)
    np.testing.assert_array_equal(out[:, 1:4], slices[:, :, 2:8])
    assert np.all(out[:, [0, 4, 5]] == -1.0)
    assert slicing.crop_or_pad(slices, (3, 10)).shape == (2, 3, 10)
    with pytest.raises(DataError):
        slicing.crop_or_pad(slices[0], 4)


def test_brain_slice_range():
    mask = np.zeros((10, 10, 20), bool)
    mask[2:8, 2:8, 5:15] = True
    mask[4:5, 4:5, 3:5] = True  # thin tip: 1 voxel per slice, below the fraction
    assert slicing.brain_slice_range(mask, "axial") == range(5, 15)
    assert slicing.brain_slice_range(mask, "axial", fraction=0.01) == range(3, 15)
    assert slicing.brain_slice_range(
        mask.astype(np.float32) * 100, "sagittal"
    ) == range(2, 8)
    with pytest.raises(DataError, match="foreground"):
        slicing.brain_slice_range(np.zeros((4, 4, 4), bool))


# The anatomically aligned pairing.


def test_paired_volume_slices_shapes_and_info(phantom):
    source, target, info = slice_pairs.paired_volume_slices(
        phantom["t1"], phantom["t2"], SliceSpec(image_size=40)
    )
    assert source.shape == target.shape == (len(info["slices"]), 40, 40, 1)
    assert source.dtype == target.dtype == np.float32
    for array in (source, target):
        assert array.min() == -1.0 and array.max() == 1.0
    assert info["grid_shape"] == [40, 64, 64]
    json.dumps(info)
    t1 = nifti.to_canonical(nifti.load_volume(phantom["t1"])).get_fdata()
    assert info["slices"] == list(slicing.brain_slice_range(t1, "axial"))
    assert 10 < len(info["slices"]) < 64


def _labels_as_image(path):
    """A label volume + 10 as float, so that min-max scaling keeps labels apart."""
    image = nib.load(path)
    return nib.Nifti1Image(np.asarray(image.dataobj, np.float32) + 10.0, image.affine)


def test_aligned_pairing_puts_the_same_anatomy_at_the_same_pixel(phantom):
    t1_labels = nifti.to_canonical(nib.load(phantom["t1_labels"]))
    head = np.asarray(t1_labels.dataobj) > 0
    slices = list(slicing.brain_slice_range(head, "axial"))
    # The whole pipeline, run on label volumes (nearest-neighbour resampling).
    source, target, info = slice_pairs.paired_volume_slices(
        _labels_as_image(phantom["t1_labels"]),
        _labels_as_image(phantom["t2_labels"]),
        SliceSpec(
            slices=slices,
            image_size=56,
            interpolation_order=0,
            low_percentile=0,
            high_percentile=100,
        ),
    )

    def decode(scaled, params):
        return np.rint(nifti.denormalize_intensity(scaled[..., 0], params)) - 10

    source_labels = decode(source, info["source_normalizations"][0])
    target_labels = decode(target, info["target_normalization"])
    inside = source_labels > 0
    aligned = np.mean(source_labels[inside] == target_labels[inside])
    # The same check through the separate steps.
    t2_on_t1 = nifti.resample_to(nib.load(phantom["t2_labels"]), t1_labels, order=0)
    first = slicing.extract_slices(np.asarray(t1_labels.dataobj), "axial", slices)
    second = slicing.extract_slices(np.asarray(t2_on_t1.dataobj), "axial", slices)
    np.testing.assert_array_equal(slicing.crop_or_pad(first, 56), source_labels)
    steps = np.mean(first[first > 0] == second[first > 0])
    # The paper's pairing: slice k of each stored array, whatever it shows.
    raw_t1 = np.asarray(nib.load(phantom["t1_labels"]).dataobj)
    raw_t2 = np.asarray(nib.load(phantom["t2_labels"]).dataobj)
    depth = min(raw_t1.shape[-1], raw_t2.shape[-1])
    ks = range(depth // 4, 3 * depth // 4)
    by_index = np.mean(
        [
            np.mean(
                raw_t1[..., k][raw_t1[..., k] > 0] == raw_t2[..., k][raw_t1[..., k] > 0]
            )
            for k in ks
        ]
    )
    assert aligned > 0.75, aligned
    assert steps > 0.75, steps
    assert aligned > by_index + 0.35, (aligned, by_index)


def test_paired_volume_slices_bad_target_names_the_file(tmp_path, phantom):
    cut = tmp_path / "IXI009-Guys-0001-T2.nii.gz"
    data = phantom["t2"].read_bytes()
    cut.write_bytes(data[: len(data) - 200])
    with pytest.raises(ImageFileError, match="IXI009-Guys-0001-T2"):
        slice_pairs.paired_volume_slices(phantom["t1"], cut)


def test_crop_or_pad_centres_the_frame_on_a_given_point():
    slices = np.full((2, 8, 8), -1.0)
    slices[:, 1:3, 5:7] = 0.5
    centre = slicing.head_centre(slices, -1.0)
    assert centre == (1.5, 5.5)
    framed = slicing.crop_or_pad(slices, (4, 4), value=-1.0, centre=centre)
    # The 2x2 head lands in the middle of the frame, whole.
    np.testing.assert_array_equal(framed[0, 1:3, 1:3], 0.5)
    assert np.sum(framed > -1) == np.sum(slices > -1)
    # A frame reaching past the edge is padded with the fill value.
    edge = slicing.crop_or_pad(slices, (6, 6), value=-7.0, centre=(0.0, 7.0))
    assert edge[0, 0, 0] == -7.0 and edge[0, 3, 3] == -1.0


def test_head_frame_keeps_an_off_centre_head_that_a_grid_frame_cuts(tmp_path):
    t1, t2 = _off_centre_pair(tmp_path)
    grid, _, _ = slice_pairs.paired_volume_slices(
        t1, t2, SliceSpec(image_size=(16, 16))
    )
    head, target, info = slice_pairs.paired_volume_slices(
        t1, t2, SliceSpec(image_size=(16, 16), frame="head")
    )
    whole, _, _ = slice_pairs.paired_volume_slices(t1, t2, SliceSpec(image_size=None))
    inside = np.sum(whole > -1)
    assert np.sum(head > -1) == inside > np.sum(grid > -1)
    assert head.shape == target.shape == (len(info["slices"]), 16, 16, 1)
    assert info["frame"] == "head" and len(info["frame_centre"]) == 2


@pytest.mark.parametrize("size", [0, (4,), (4, -2), 2.5, "big", True])
def test_bad_image_size_names_the_argument(size):
    with pytest.raises(DataError, match="image_size"):
        SliceSpec(image_size=size)


def test_paired_volume_slices_takes_only_a_slice_spec(tmp_path):
    t1, t2 = _off_centre_pair(tmp_path)
    with pytest.raises(DataError, match="must be a SliceSpec"):
        slice_pairs.paired_volume_slices(t1, t2, {"image_size": 16})
    with pytest.raises(TypeError, match="image_size"):
        slice_pairs.paired_volume_slices(t1, t2, image_size=16)
    source, _, info = slice_pairs.paired_volume_slices(t1, t2)  # SliceSpec()
    assert source.shape == (6, 256, 256, 1) and info["plane"] == "axial"


def _off_centre_pair(tmp_path):
    """A 12x10 'head' near one corner of a 40x40x6 grid; the same for T2."""
    data = np.zeros((40, 40, 6), np.float32)
    data[2:14, 25:35, :] = np.linspace(1, 2, 12 * 10 * 6).reshape(12, 10, 6)
    t1 = _save(tmp_path / "t1.nii.gz", data)
    t2 = _save(tmp_path / "t2.nii.gz", data * 3)
    return t1, t2


def test_context_slices_stack_the_neighbours_with_edges_repeated():
    volume = np.random.default_rng(0).normal(size=(4, 5, 6))
    stack = slicing.context_slices(volume, "axial", [0, 3, 5], context=2)
    assert stack.shape == (3, 5, 4, 5)
    axial = slicing.extract_slices(volume, "axial")
    for n, index in enumerate([0, 3, 5]):
        for channel, offset in enumerate(range(-2, 3)):
            neighbour = min(max(index + offset, 0), 5)
            np.testing.assert_array_equal(stack[n, ..., channel], axial[neighbour])
    np.testing.assert_array_equal(
        slicing.context_slices(volume, "axial", [1], context=0)[..., 0], axial[1:2]
    )
    for bad in (-1, 1.5, True):
        with pytest.raises(DataError, match="context"):
            slicing.context_slices(volume, "axial", [1], context=bad)
    with pytest.raises(DataError, match="indices"):
        slicing.context_slices(volume, "axial", [6], context=1)


def test_paired_slices_with_context_keep_the_target_single_channel(phantom):
    plain, target, info = slice_pairs.paired_volume_slices(
        phantom["t1"], phantom["t2"], SliceSpec(image_size=64)
    )
    stacked, stacked_target, stacked_info = slice_pairs.paired_volume_slices(
        phantom["t1"], phantom["t2"], SliceSpec(image_size=64, context=1)
    )
    assert stacked.shape == (*plain.shape[:3], 3)
    np.testing.assert_array_equal(stacked[..., 1:2], plain)
    np.testing.assert_array_equal(stacked_target, target)
    # Channel 0 of slice k is slice k - 1, when both were taken.
    assert info["slices"][1] == info["slices"][0] + 1
    np.testing.assert_array_equal(stacked[1:, ..., 0], plain[:-1, ..., 0])
    assert stacked_info["context"] == 1
