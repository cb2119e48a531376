"""Synthesis: NIfTI volumes back on the input's grid, and folders of images."""

import json
import warnings

import keras
import nibabel as nib
import numpy as np
import pytest
from conftest import BACKEND, tiny_pix2pix
from PIL import Image
from processes import other_backend, run_python

from keras_pix2pix import Pix2Pix
from keras_pix2pix.datasets import load_ixi_pairs, nifti, slicing
from keras_pix2pix.datasets.phantom import write_phantom_ixi
from keras_pix2pix.datasets.slice_spec import PLANES, SliceSpec
from keras_pix2pix.errors import DataError, DatasetNotFoundError
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator
from keras_pix2pix.synthesis import (
    stack_slices,
    synthesize_images,
    synthesize_volume,
)


def identity_model(size=48, channels=1):
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


# How `identity_model()` (48 x 48, one channel) cuts a volume: a plain Keras
# model carries no SliceSpec, so the tests give it one.
SPEC = SliceSpec(image_size=48)


@pytest.fixture(scope="module")
def phantom_t1(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi")
    return write_phantom_ixi(root, 1, shape=(40, 40, 24))[0]


@pytest.mark.parametrize("plane", PLANES)
def test_stack_slices_inverts_extract_slices(plane):
    volume = np.random.default_rng(0).normal(size=(5, 6, 7))
    slices = slicing.extract_slices(volume, plane)
    np.testing.assert_array_equal(stack_slices(slices, plane), volume)


@pytest.mark.parametrize("plane", PLANES)
def test_identity_round_trip_on_the_input_grid(phantom_t1, tmp_path, plane):
    output = tmp_path / "synthetic.nii.gz"
    spec = SPEC.replace(plane=plane)
    image = synthesize_volume(identity_model(), phantom_t1, output, spec=spec)
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

    spec = SPEC.replace(bias_correction="source")
    image = synthesize_volume(identity_model(), phantom_t1, spec=spec)
    # Identity generator, the source's own parameters: the corrected source
    # comes back (clipped to its percentiles), in the canonical orientation.
    corrected, _ = correct_bias(nifti.to_canonical(nib.load(phantom_t1)))
    scaled, params = nifti.normalize_intensity(corrected.get_fdata(dtype=np.float32))
    expected = nifti.denormalize_intensity(scaled, params)
    written = nifti.to_canonical(image).get_fdata()
    np.testing.assert_allclose(written, expected, atol=1e-3)
    plain = synthesize_volume(identity_model(), phantom_t1, spec=SPEC)
    plain = nifti.to_canonical(plain)
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
    spec = SPEC.replace(plane=plane)
    plain = synthesize_volume(identity_model(), phantom_t1, spec=spec)
    spec = spec.replace(context=1)
    middle = synthesize_volume(channel_model(1), phantom_t1, spec=spec)
    np.testing.assert_array_equal(middle.get_fdata(), plain.get_fdata())
    # Channel 0 holds the slice below (the first slice repeats at the edge).
    below = synthesize_volume(channel_model(0), phantom_t1, spec=spec)
    axis = slicing._PLANE_AXIS[plane]
    canonical = nifti.to_canonical(plain).get_fdata()
    shifted = nifti.to_canonical(below).get_fdata()
    count = canonical.shape[axis]
    expected = np.concatenate(
        [np.take(canonical, [0], axis), np.take(canonical, range(count - 1), axis)],
        axis,
    )
    np.testing.assert_allclose(shifted, expected, atol=1e-4)
    record = json.loads(below.header.extensions[0].get_content())
    assert record["slice_spec"]["context"] == 1


@pytest.fixture(scope="module")
def phantom_t1_t2(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi-pair")
    return write_phantom_ixi(root, 1, shape=(40, 40, 24), seed=2)


def test_several_sources_are_channels_on_the_first_ones_grid(phantom_t1_t2):
    t1, t2 = phantom_t1_t2
    raw = {"lower": -1.0, "upper": 1.0}  # the model's outputs, unscaled
    options = {"spec": SPEC, "normalization": raw}
    alone = synthesize_volume(identity_model(), t1, **options)
    first = synthesize_volume(channel_model(0, channels=2), [t1, t2], **options)
    np.testing.assert_array_equal(first.get_fdata(), alone.get_fdata())
    second = synthesize_volume(
        channel_model(1, channels=2),
        [t1, t2],
        **options,
        source_modality=("T1", "T2"),
        target_modality="PD",
    )
    assert second.shape == nib.load(t1).shape
    np.testing.assert_array_equal(second.affine, nib.load(t1).affine)
    t2_on_t1 = nifti.resample_to(nib.load(t2), nib.load(t1))
    expected = synthesize_volume(identity_model(), t2_on_t1, **options)
    # The same positions; the int16 voxels round each interpolation to whole
    # units (1 unit: ~0.002 here), on slightly different grids' round-off.
    np.testing.assert_allclose(second.get_fdata(), expected.get_fdata(), atol=3e-3)
    header = second.header
    assert header["descrip"].tobytes().startswith(b"SYNTHETIC: keras-pix2pix T1+T2->PD")
    record = json.loads(header.extensions[0].get_content())
    assert record["source"] == t1.name
    assert [s["source"] for s in record["additional_sources"]] == [t2.name]
    with pytest.raises(DataError, match=r"takes 2 source volume\(s\)\. Received 1"):
        synthesize_volume(channel_model(0, channels=2), t1, spec=SPEC)


def test_header_marks_the_volume_as_synthetic(phantom_t1, tmp_path):
    output = tmp_path / "syn.nii"
    synthesize_volume(
        identity_model(), phantom_t1, output, spec=SPEC, target_modality="T2"
    )
    header = nib.load(output).header
    assert header["descrip"].tobytes().startswith(b"SYNTHETIC: keras-pix2pix T1->T2")
    code, _, name = header.get_intent()
    assert code == "estimate" and name == "SYNTHETIC"
    record = json.loads(header.extensions[0].get_content())
    assert record["synthetic"] is True
    assert record["slice_spec"] == SPEC.get_config()
    assert record["slice_spec_from"] == "given"
    assert header.get_data_dtype() == np.float32


def test_target_parameters_set_the_intensity_range(phantom_t1, tmp_path):
    model = tiny_pix2pix(size=32, filters=4)  # crops the 40-voxel slices
    params = {"lower": 0.0, "upper": 1000.0}
    output = tmp_path / "t2.nii.gz"
    spec = SliceSpec(image_size=32)
    image = synthesize_volume(
        model, phantom_t1, output, spec=spec, normalization=params
    )
    source = nib.load(phantom_t1)
    assert image.shape == source.shape
    np.testing.assert_array_equal(nib.load(output).affine, source.affine)
    data = nib.load(output).get_fdata()
    assert data.min() >= 0.0 and data.max() <= 1000.0
    # Identity model: -1 and 1 of the scaled source land on 0 and 1000.
    data = synthesize_volume(
        identity_model(), phantom_t1, spec=SPEC, normalization=params
    )
    assert data.get_fdata().min() == pytest.approx(0.0, abs=1e-3)
    assert data.get_fdata().max() == pytest.approx(1000.0, abs=1e-3)


def test_volume_errors(phantom_t1, tmp_path):
    with pytest.raises(DatasetNotFoundError):
        synthesize_volume(identity_model(), tmp_path / "missing.nii.gz", spec=SPEC)
    with pytest.raises(DataError, match="plane"):
        synthesize_volume(
            identity_model(), phantom_t1, spec=SPEC.replace(plane="oblique")
        )
    with pytest.raises(DataError, match="must be a SliceSpec"):
        synthesize_volume(identity_model(), phantom_t1, spec={"plane": "axial"})
    with pytest.raises(DataError, match="lower"):
        synthesize_volume(
            identity_model(), phantom_t1, spec=SPEC, normalization={"low": 1}
        )
    # An even channel count is no slice with its neighbours on each side.
    with pytest.raises(DataError, match=r"2 \* context \+ 1"):
        synthesize_volume(identity_model(channels=2), phantom_t1, spec=SPEC)
    with pytest.raises(DataError, match="input size"):
        synthesize_volume(identity_model(), phantom_t1, spec=SliceSpec(image_size=32))
    with pytest.raises(DataError, match=r"\.nii"):
        synthesize_volume(identity_model(), phantom_t1, tmp_path / "out.png", spec=SPEC)


# The model knows how to be applied (issue 28): a Pix2Pix trained on NIfTI
# slices keeps its SliceSpec and the targets' intensity parameters in its
# .keras file, and synthesize_volume needs nothing else.


@pytest.fixture(scope="module")
def trained_on_volumes(tmp_path_factory):
    """A tiny Pix2Pix trained a step on phantom IXI slices, saved.

    Returns `(model_path, t1_path, expected)`: `expected` is the volume that
    `synthesize_volume(model, t1_path)` gives in this process.
    """
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("ixi-two")
    t1_path = write_phantom_ixi(root, 2, shape=(40, 40, 24))[0]
    spec = SliceSpec(image_size=32, context=1, frame="head")
    t1, t2, info = load_ixi_pairs(root, spec)
    assert t1.shape[1:] == (32, 32, 3) and info.spec == spec
    generator = UNetGenerator(
        input_shape=(32, 32, 3), output_channels=1, filters=4, num_downsampling_blocks=5
    )
    discriminator = PatchGANDiscriminator(
        input_shape=(32, 32, 3), target_channels=1, filters=4, num_layers=2
    )
    model = Pix2Pix(
        generator,
        discriminator,
        slice_spec=info.spec,
        target_normalization=info.target_normalization(),
    )
    model.compile()
    model.fit(t1[:2], t2[:2], batch_size=2, epochs=1, verbose=0)
    model_path = root / "model.keras"
    model.save(model_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # it carries its spec
        expected = synthesize_volume(model, t1_path)
    return model_path, t1_path, expected


# Only the package and keras: the model's classes, its SliceSpec and its
# intensity parameters all come from the .keras file.
FRESH_PROCESS = """
import sys
import warnings

import keras_pix2pix, keras

warnings.simplefilter("error", UserWarning)  # no "carries no SliceSpec"
model = keras.saving.load_model(sys.argv[1])
keras_pix2pix.synthesis.synthesize_volume(model, sys.argv[2], sys.argv[3])
"""


@pytest.mark.parametrize("where", ["same backend", "other backend"])
def test_a_saved_model_synthesizes_in_a_fresh_process_with_no_arguments(
    trained_on_volumes, tmp_path, where
):
    model_path, t1_path, expected = trained_on_volumes
    backend = BACKEND
    if where == "other backend":
        backend = other_backend()
        if backend is None:
            pytest.skip(
                f"no Keras backend other than {BACKEND} is installed (each nox "
                "session installs one): the cross-backend case needs two"
            )
    output = tmp_path / "synthetic-T2.nii.gz"
    run_python(
        "-c", FRESH_PROCESS, model_path, t1_path, output, cwd=tmp_path, backend=backend
    )
    written = nib.load(output)
    source = nib.load(t1_path)
    assert written.shape == source.shape
    np.testing.assert_array_equal(written.affine, source.affine)
    assert written.header["descrip"].tobytes().startswith(b"SYNTHETIC")
    record = json.loads(written.header.extensions[0].get_content())
    assert record["slice_spec_from"] == "model"
    assert (
        record["slice_spec"]
        == SliceSpec(image_size=32, context=1, frame="head").get_config()
    )
    assert record["intensity_mapping"] == "target parameters"
    data, reference = written.get_fdata(), expected.get_fdata()
    scale = reference.max() - reference.min()
    assert scale > 0
    np.testing.assert_allclose(data, reference, rtol=0, atol=1e-4 * scale)


def test_a_model_without_a_spec_warns_and_still_synthesizes(phantom_t1):
    # Trained on arrays, or saved before models kept their SliceSpec: cut
    # with the defaults, in the model's own input size, and said so.
    with pytest.warns(UserWarning, match="carries no SliceSpec"):
        image = synthesize_volume(identity_model(), phantom_t1)
    source = nib.load(phantom_t1)
    assert image.shape == source.shape
    np.testing.assert_array_equal(image.affine, source.affine)
    scaled, params = nifti.normalize_intensity(source.get_fdata(dtype=np.float32))
    expected = nifti.denormalize_intensity(scaled, params)
    np.testing.assert_allclose(image.get_fdata(), expected, atol=1e-3)
    record = json.loads(image.header.extensions[0].get_content())
    assert record["slice_spec_from"] == "defaults"
    assert record["slice_spec"]["plane"] == "axial"
    assert record["slice_spec"]["context"] == 0
    # A 3-channel model gets one neighbouring slice on each side.
    model = tiny_pix2pix(size=32, channels=3, output_channels=1, filters=4)
    with pytest.warns(UserWarning, match="carries no SliceSpec"):
        image = synthesize_volume(model, phantom_t1)
    assert image.shape == source.shape
    record = json.loads(image.header.extensions[0].get_content())
    assert record["slice_spec"]["context"] == 1


def test_a_spec_that_does_not_match_the_model_is_refused(
    trained_on_volumes, phantom_t1
):
    model = keras.saving.load_model(trained_on_volumes[0])
    with pytest.raises(DataError, match=r"takes 3 source volume\(s\)\. Received 1"):
        synthesize_volume(model, phantom_t1, spec=model.slice_spec.replace(context=0))
    with pytest.raises(DataError, match="1-channel images; the SliceSpec gives 5"):
        synthesize_volume(identity_model(), phantom_t1, spec=SPEC.replace(context=2))


def test_the_head_frame_puts_each_pixel_back_in_its_place(tmp_path):
    # A head off the grid's centre: a 24 x 24 frame centred on the grid cuts
    # it, one centred on the head keeps all of it.
    rng = np.random.default_rng(0)
    data = np.zeros((40, 48, 12), np.float32)
    data[4:20, 26:44, 2:10] = rng.uniform(100, 1000, (16, 18, 8))
    image = nib.Nifti1Image(data, np.diag([-1.0, 1.0, 1.2, 1.0]))  # LAS
    scaled, params = nifti.normalize_intensity(data)
    expected = nifti.denormalize_intensity(scaled, params)
    # Returns the middle of its three channels: the slice itself.
    model = channel_model(1, channels=3, size=24)
    spec = SliceSpec(image_size=(24, 24), frame="head", context=1)
    head = synthesize_volume(model, image, spec=spec)
    assert head.shape == data.shape
    np.testing.assert_array_equal(head.affine, image.affine)
    np.testing.assert_allclose(head.get_fdata(), expected, atol=1e-3)
    grid = synthesize_volume(model, image, spec=spec.replace(frame="grid"))
    lost = np.abs(grid.get_fdata() - expected) > 1e-3
    assert lost.any() and (data[lost] > 0).all()  # head voxels outside the frame
    np.testing.assert_allclose(grid.get_fdata()[lost], params["lower"], atol=1e-3)


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
