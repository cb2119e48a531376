"""Bad input fails early with a typed error naming the input and the fix.

Property-based (hypothesis) where the space is large: every truncation point
of a NIfTI file, random bytes, random wrong shapes and values. The errors of
`keras_pix2pix.errors` are also the built-in ones callers expect
(`DataError` is a `ValueError`)."""

import gzip
import math

import keras
import nibabel as nib
import numpy as np
import pytest
from conftest import tiny_pix2pix, toy_pairs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_pix2pix.datasets import SliceSpec, nifti, slice_pairs
from keras_pix2pix.errors import DataError, ImageFileError, Pix2PixError
from keras_pix2pix.models import ResNetGenerator, UNetGenerator

FILES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def volume_files(tmp_path_factory):
    """A small valid volume saved as .nii and .nii.gz: name -> bytes."""
    folder = tmp_path_factory.mktemp("volumes")
    data = np.random.default_rng(0).normal(size=(6, 5, 4)).astype("float32")
    files = {}
    for suffix in (".nii", ".nii.gz"):
        path = folder / f"good{suffix}"
        nib.save(nib.Nifti1Image(data, np.eye(4)), path)
        files[suffix] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("bad")


def _expect_file_error(path, *patterns):
    with pytest.raises(ImageFileError) as info:
        nifti.load_volume(path)
    message = str(info.value)
    assert str(path) in message
    for pattern in patterns:
        assert pattern in message
    return message


# === Files ===


@FILES
@given(suffix=st.sampled_from([".nii", ".nii.gz"]), fraction=st.floats(0, 1))
def test_truncated_volume_names_the_file(volume_files, folder, suffix, fraction):
    data = volume_files[suffix]
    cut = min(int(fraction * len(data)), len(data) - 1)
    path = folder / f"cut-{cut}{suffix}"
    path.write_bytes(data[:cut])
    _expect_file_error(path, "again")  # the message says how to fix it


@FILES
@given(
    suffix=st.sampled_from([".nii", ".nii.gz"]),
    garbage=st.binary(max_size=1500),
    compress=st.booleans(),
)
def test_garbage_bytes_name_the_file(folder, suffix, garbage, compress):
    path = folder / f"junk{suffix}"
    path.write_bytes(gzip.compress(garbage) if compress else garbage)
    _expect_file_error(path)


@FILES
@given(magic=st.binary(min_size=4, max_size=4).filter(lambda m: m[:3] != b"ni1"))
def test_wrong_magic_names_the_file(volume_files, folder, magic):
    data = bytearray(volume_files[".nii"])
    if magic == bytes(data[344:348]):  # the valid single-file magic n+1
        return
    data[344:348] = magic
    path = folder / "magic.nii"
    path.write_bytes(bytes(data))
    _expect_file_error(path, "NIfTI")


@FILES
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=5).filter(
        lambda s: len(s) != 3 or 0 in s
    )
)
def test_volumes_that_are_not_3d_or_are_empty(folder, shape):
    squeezed = list(shape)
    while len(squeezed) > 3 and squeezed[-1] == 1:
        squeezed.pop()
    if len(squeezed) == 3 and 0 not in squeezed:
        return  # a 3-D volume with trailing length-1 axes: valid
    path = folder / "shape.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), path)
    message = _expect_file_error(path)
    assert "3-D" in message or "empty" in message


@FILES
@given(
    positions=st.lists(st.integers(0, 6 * 5 * 4 - 1), min_size=1, unique=True),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_non_finite_voxels_are_counted(folder, positions, value):
    data = np.ones((6, 5, 4), np.float32)
    data.flat[positions] = value
    path = folder / "non-finite.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    _expect_file_error(path, f"holds {len(positions)} NaN or infinite")


@settings(max_examples=30, deadline=None)
@given(value=st.floats(-1e6, 1e6, allow_nan=False), name=st.sampled_from(["T1", "x"]))
def test_constant_volume_cannot_be_normalized(value, name):
    volume = np.full((5, 5, 5), value, np.float32)
    with pytest.raises(DataError, match=rf"{name}.*zero range"):
        nifti.normalize_intensity(volume, mask=np.ones(volume.shape, bool), name=name)


def test_constant_volume_file_names_the_file(folder):
    paths = []
    for role, value in (("source", 0.0), ("target", 7.0)):
        path = folder / f"constant-{role}.nii.gz"
        data = np.full((8, 8, 6), value, np.float32)
        if role == "source":
            data[2:6, 2:6, :] = np.arange(1, 7, dtype=np.float32)
        nib.save(nib.Nifti1Image(data, np.eye(4)), path)
        paths.append(path)
    with pytest.raises(DataError, match=r"constant-target\.nii\.gz.*zero range"):
        slice_pairs.paired_volume_slices(*paths, SliceSpec(image_size=8))


# === Arrays given to the model ===


@pytest.fixture(scope="module")
def model():
    model = tiny_pix2pix(filters=4)
    model.compile()
    return model


def _pairs(count=4, dtype="float32"):
    source, target = toy_pairs(count=count)
    return source.astype(dtype), target.astype(dtype)


@pytest.mark.parametrize(
    ("source_shape", "target_shape", "pattern"),
    [
        ((4, 32, 32, 3), (4, 32, 32, 1), r"source images have shape \(4, 32, 32, 3\)"),
        ((4, 32, 32, 1), (4, 32, 32, 2), r"target images have shape \(4, 32, 32, 2\)"),
        ((4, 30, 30, 1), (4, 30, 30, 1), r"source .*\(N, 32, 32, 1\)"),
        ((4, 32, 32), (4, 32, 32), r"source .*Add the channel axis"),
        ((4, 32, 32, 1), (3, 32, 32, 1), r"hold 4 and 3 images"),
    ],
)
def test_arrays_of_the_wrong_shape(model, source_shape, target_shape, pattern):
    if keras.config.image_data_format() == "channels_first":
        pytest.skip("shapes written channels_last")
    source = np.zeros(source_shape, "float32")
    target = np.zeros(target_shape, "float32")
    for call in (model.fit, model.evaluate, model.train_on_batch):
        with pytest.raises(DataError, match=pattern):
            call(source, target, verbose=0) if call != model.train_on_batch else call(
                source, target
            )
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


@pytest.mark.parametrize("dtype", ["uint8", "int32", "bool", "complex64"])
def test_arrays_of_the_wrong_dtype(model, dtype):
    source, target = _pairs()
    with pytest.raises(
        DataError, match=rf"source images are of dtype {dtype}.*\[-1, 1\]"
    ):
        model.fit(source.astype(dtype), target, verbose=0)
    with pytest.raises(DataError, match=rf"dtype {dtype}"):
        model.predict(source.astype(dtype), verbose=0)


def test_validation_arrays_are_checked(model):
    source, target = _pairs()
    with pytest.raises(DataError, match="validation target images"):
        model.fit(source, target, validation_data=(source, target[..., :0]), verbose=0)


def test_backend_tensors_are_checked(model):
    source, _ = _pairs()
    tensor = keras.ops.convert_to_tensor(source[:, :16])
    with pytest.raises(DataError, match=r"source images have shape \(4, 16, 32, 1\)"):
        model.predict(tensor, verbose=0)


# === Arguments ===


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: UNetGenerator(input_shape=(32, 32, 1), filters=-4), "filters"),
        (lambda: UNetGenerator(input_shape=(32, 32, 1), filters=2.5), "filters"),
        (
            lambda: UNetGenerator(input_shape=(32, 32, 1), output_channels=0),
            "output_channels",
        ),
        (
            lambda: UNetGenerator(input_shape=(32, 32, 1), num_downsampling_blocks=99),
            "num_downsampling_blocks=99",
        ),
        (lambda: UNetGenerator(input_shape=(32, 32, 1), dropout=1.5), "dropout"),
        (
            lambda: UNetGenerator(input_shape=(32, 32, 1), num_dropout_blocks=-1),
            "num_dropout_blocks",
        ),
        (
            lambda: UNetGenerator(input_shape=(36, 36, 1), num_downsampling_blocks=3),
            "divisible",
        ),
        (
            lambda: ResNetGenerator(input_shape=(32, 32, 1), num_residual_blocks=-1),
            "num_residual_blocks",
        ),
        (lambda: ResNetGenerator(input_shape=(32, 32, 1), dropout=-0.1), "dropout"),
    ],
)
def test_absurd_network_arguments_are_named(make, argument):
    with pytest.raises(ValueError, match=f"`?{argument}"):
        make()


@settings(max_examples=20, deadline=None)
@given(
    argument=st.sampled_from(["reconstruction_weight", "discriminator_loss_weight"]),
    value=st.one_of(
        st.floats(max_value=-1e-9), st.sampled_from([math.nan, math.inf, "100"])
    ),
)
def test_absurd_loss_weights_are_named(model, argument, value):
    with pytest.raises(ValueError, match=f"`{argument}` must be a finite number"):
        model.compile(**{argument: value})


def test_data_errors_are_value_errors():
    assert issubclass(DataError, ValueError) and issubclass(DataError, Pix2PixError)
    assert issubclass(ImageFileError, DataError)
