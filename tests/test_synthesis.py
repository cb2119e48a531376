"""Synthesis: NIfTI volumes back on the input's grid, and folders of images."""

import json

import keras
import nibabel as nib
import numpy as np
import pytest
from conftest import tiny_pix2pix
from PIL import Image

from keras_pix2pix.datasets import nifti
from keras_pix2pix.datasets.phantom import write_phantom_ixi
from keras_pix2pix.errors import DataError, DatasetNotFoundError
from keras_pix2pix.synthesis import (
    stack_slices,
    synthesize_images,
    synthesize_volume,
)


def identity_model(size=48, channels=1):
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


@pytest.fixture(scope="module")
def phantom_t1(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi")
    return write_phantom_ixi(root, 1, shape=(40, 40, 24))[0]


@pytest.mark.parametrize("plane", nifti.PLANES)
def test_stack_slices_inverts_extract_slices(plane):
    volume = np.random.default_rng(0).normal(size=(5, 6, 7))
    slices = nifti.extract_slices(volume, plane)
    np.testing.assert_array_equal(stack_slices(slices, plane), volume)


@pytest.mark.parametrize("plane", nifti.PLANES)
def test_identity_round_trip_on_the_input_grid(phantom_t1, tmp_path, plane):
    output = tmp_path / "synthetic.nii.gz"
    image = synthesize_volume(identity_model(), phantom_t1, output, plane=plane)
    source = nib.load(phantom_t1)
    written = nib.load(output)
    assert written.shape == source.shape
    np.testing.assert_array_equal(written.affine, source.affine)
    assert nib.aff2axcodes(written.affine) == ("P", "S", "R")  # as stored
    assert int(written.header["sform_code"]) == int(source.header["sform_code"])
    # Identity generator + the source's own parameters: the input comes back
    # (clipped to its percentiles), voxel for voxel, in the input's array order.
    data = source.get_fdata(dtype=np.float32)
    scaled, params = nifti.normalize_intensity(data)
    expected = nifti.denormalize_intensity(scaled, params)
    np.testing.assert_allclose(written.get_fdata(), expected, atol=1e-3)
    np.testing.assert_allclose(image.get_fdata(), expected, atol=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic.nii.gz"]


def test_bias_correction_corrects_the_source_first(phantom_t1):
    pytest.importorskip("SimpleITK", reason="bias correction needs SimpleITK")
    from keras_pix2pix.datasets.bias_correction import correct_bias

    image = synthesize_volume(identity_model(), phantom_t1, bias_correction=True)
    # Identity generator, the source's own parameters: the corrected source
    # comes back (clipped to its percentiles), in the canonical orientation.
    corrected, _ = correct_bias(nifti.to_canonical(nib.load(phantom_t1)))
    scaled, params = nifti.normalize_intensity(corrected.get_fdata(dtype=np.float32))
    expected = nifti.denormalize_intensity(scaled, params)
    written = nifti.to_canonical(image).get_fdata()
    np.testing.assert_allclose(written, expected, atol=1e-3)
    plain = nifti.to_canonical(synthesize_volume(identity_model(), phantom_t1))
    assert np.abs(plain.get_fdata() - written).mean() > 1.0
    record = json.loads(image.header.extensions[0].get_content())
    assert record["source_bias_correction"]["method"] == "n4"
    record = json.loads(plain.header.extensions[0].get_content())
    assert record["source_bias_correction"] is None


def channel_model(channel, channels=3, size=48):
    """A model returning one channel of its input."""
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, inputs[..., channel : channel + 1])


@pytest.mark.parametrize("plane", ["axial", "sagittal"])
def test_context_channels_give_each_slice_with_its_neighbours(phantom_t1, plane):
    plain = synthesize_volume(identity_model(), phantom_t1, plane=plane)
    middle = synthesize_volume(channel_model(1), phantom_t1, plane=plane)
    np.testing.assert_array_equal(middle.get_fdata(), plain.get_fdata())
    # Channel 0 holds the slice below (the first slice repeats at the edge).
    below = synthesize_volume(channel_model(0), phantom_t1, plane=plane)
    axis = nifti._PLANE_AXIS[plane]
    canonical = nifti.to_canonical(plain).get_fdata()
    shifted = nifti.to_canonical(below).get_fdata()
    count = canonical.shape[axis]
    expected = np.concatenate(
        [np.take(canonical, [0], axis), np.take(canonical, range(count - 1), axis)],
        axis,
    )
    np.testing.assert_allclose(shifted, expected, atol=1e-4)
    record = json.loads(below.header.extensions[0].get_content())
    assert record["context_slices"] == 1


def test_header_marks_the_volume_as_synthetic(phantom_t1, tmp_path):
    output = tmp_path / "syn.nii"
    synthesize_volume(identity_model(), phantom_t1, output, target_modality="T2")
    header = nib.load(output).header
    assert header["descrip"].tobytes().startswith(b"SYNTHETIC: keras-pix2pix T1->T2")
    code, _, name = header.get_intent()
    assert code == "estimate" and name == "SYNTHETIC"
    record = json.loads(header.extensions[0].get_content())
    assert record["synthetic"] is True and record["plane"] == "axial"
    assert header.get_data_dtype() == np.float32


def test_target_parameters_set_the_intensity_range(phantom_t1, tmp_path):
    model = tiny_pix2pix(size=32, filters=4)  # crops the 40-voxel slices
    params = {"lower": 0.0, "upper": 1000.0}
    output = tmp_path / "t2.nii.gz"
    image = synthesize_volume(model, phantom_t1, output, normalization=params)
    source = nib.load(phantom_t1)
    assert image.shape == source.shape
    np.testing.assert_array_equal(nib.load(output).affine, source.affine)
    data = nib.load(output).get_fdata()
    assert data.min() >= 0.0 and data.max() <= 1000.0
    # Identity model: -1 and 1 of the scaled source land on 0 and 1000.
    data = synthesize_volume(identity_model(), phantom_t1, normalization=params)
    assert data.get_fdata().min() == pytest.approx(0.0, abs=1e-3)
    assert data.get_fdata().max() == pytest.approx(1000.0, abs=1e-3)


def test_volume_errors(phantom_t1, tmp_path):
    with pytest.raises(DatasetNotFoundError):
        synthesize_volume(identity_model(), tmp_path / "missing.nii.gz")
    with pytest.raises(DataError, match="plane"):
        synthesize_volume(identity_model(), phantom_t1, plane="oblique")
    with pytest.raises(DataError, match="lower"):
        synthesize_volume(identity_model(), phantom_t1, normalization={"low": 1})
    with pytest.raises(DataError, match="odd"):
        synthesize_volume(identity_model(channels=2), phantom_t1)
    with pytest.raises(DataError, match=r"\.nii"):
        synthesize_volume(identity_model(), phantom_t1, tmp_path / "out.png")


def test_synthesize_images(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 48), np.uint8)).save(inputs / "a.png")
    Image.fromarray(rng.integers(0, 256, (30, 40), np.uint8)).save(inputs / "b.jpg")
    (inputs / "notes.txt").write_text("not an image")
    written = synthesize_images(identity_model(), inputs, tmp_path / "out")
    assert [p.name for p in written] == ["a.png", "b.png"]
    same = np.asarray(Image.open(written[0]))
    np.testing.assert_array_equal(same, np.asarray(Image.open(inputs / "a.png")))
    assert Image.open(written[1]).size == (40, 30)  # resized back
    with pytest.raises(DatasetNotFoundError):
        synthesize_images(identity_model(), tmp_path / "nowhere", tmp_path / "x")
