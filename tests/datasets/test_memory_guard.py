"""Files that would exhaust memory are refused from their headers (issue 32).

NIfTI volumes past a byte limit (`nifti.MAX_VOLUME_BYTES`, `max_bytes`, or
`KERAS_PIX2PIX_MAX_VOLUME_BYTES`) and images past Pillow's decompression-bomb
limit (`PIL.Image.MAX_IMAGE_PIXELS`) fail with `ImageTooLargeError` before their
voxels or pixels are read.
"""

import gzip
import zlib

import keras
import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from keras_pix2pix.datasets import nifti
from keras_pix2pix.datasets.paired_images import (
    load_aligned_images,
    load_paired_folders,
)
from keras_pix2pix.errors import DataError, ImageFileError, ImageTooLargeError
from keras_pix2pix.synthesis import synthesize_images

MiB = 1024**2


def _write_header_only(path, shape, dtype, extension_bytes=0):
    """A .nii.gz whose header claims `shape` and `dtype` but holds 16 voxel bytes.

    With `extension_bytes`, one header extension of that many zero bytes comes
    between the header and the voxels, as `vox_offset` says.
    """
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header["vox_offset"] = 352 + extension_bytes
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(header.binaryblock)
        if extension_bytes:
            file.write(b"\x01\x00\x00\x00")
            sizes = np.array([extension_bytes, 0], header.endianness + "i4")
            file.write(sizes.tobytes())
            file.write(bytes(extension_bytes - 8))
        else:
            file.write(bytes(4))
        file.write(bytes(16))
    return path


def _save(path, data):
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


# NIfTI volumes.


def test_default_limit_is_two_gib():
    assert nifti.MAX_VOLUME_BYTES == 2 * 1024**3


def test_header_claiming_a_huge_volume_is_refused_before_reading(tmp_path):
    path = _write_header_only(tmp_path / "bomb.nii.gz", (4096,) * 3, np.float32)
    assert path.stat().st_size < 1024
    with pytest.raises(ImageTooLargeError) as caught:
        nifti.load_volume(path)
    message = str(caught.value)
    assert str(path) in message
    assert "(4096, 4096, 4096)" in message
    assert "float32" in message
    assert "274,877,906,944 bytes (256.0 GiB)" in message
    assert "limit of 2,147,483,648 bytes (2.0 GiB)" in message
    assert nifti.MAX_VOLUME_BYTES_ENV in message
    assert isinstance(caught.value, ImageFileError)
    assert isinstance(caught.value, ValueError)


def test_limit_counts_the_float32_copy_of_narrower_voxels(tmp_path):
    # int16 voxels take 8 MiB on disk but 16 MiB once converted to float32.
    path = _write_header_only(tmp_path / "int16.nii.gz", (256, 256, 64), np.int16)
    with pytest.raises(ImageTooLargeError, match=r"int16.*16\.0 MiB"):
        nifti.load_volume(path, max_bytes=12 * MiB)


def test_small_gzip_bomb_is_refused_by_a_small_limit(tmp_path):
    path = _save(tmp_path / "zeros.nii.gz", np.zeros((256, 256, 64), np.int16))
    assert path.stat().st_size < 64 * 1024  # 8 MiB of voxels, compressed
    with pytest.raises(ImageTooLargeError, match=r"\(256, 256, 64\).*int16"):
        nifti.load_volume(path, max_bytes=MiB)


def test_limit_from_the_environment(tmp_path, monkeypatch):
    path = _save(tmp_path / "zeros.nii.gz", np.zeros((256, 256, 64), np.int16))
    monkeypatch.setenv(nifti.MAX_VOLUME_BYTES_ENV, str(MiB))
    with pytest.raises(ImageTooLargeError, match="1,048,576 bytes"):
        nifti.load_volume(path)
    # The argument takes precedence over the environment.
    assert nifti.load_volume(path, max_bytes=16 * MiB).shape == (256, 256, 64)


def test_volume_under_the_limit_loads(tmp_path):
    data = np.arange(512, dtype=np.float32).reshape(8, 8, 8)
    path = _save(tmp_path / "small.nii.gz", data)
    image = nifti.load_volume(path, max_bytes=data.nbytes)  # exactly at the limit
    np.testing.assert_array_equal(image.get_fdata(dtype=np.float32), data)
    with pytest.raises(ImageTooLargeError, match="2,048 bytes"):
        nifti.load_volume(path, max_bytes=data.nbytes - 1)


def test_header_extensions_past_the_limit_are_refused_before_reading(tmp_path):
    # nibabel reads every header extension into memory when it opens the file.
    path = _write_header_only(
        tmp_path / "ext.nii.gz", (2, 2, 1), np.float32, extension_bytes=2 * MiB
    )
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(
        ImageTooLargeError, match=r"ext\.nii\.gz.* 2,097,152 bytes .*extensions"
    ):
        nifti.load_volume(path, max_bytes=MiB)
    assert nifti.load_volume(path, max_bytes=4 * MiB).shape == (2, 2, 1)
    # The header itself (352 bytes) is not counted: 16 bytes of voxels fit 16.
    plain = _save(tmp_path / "plain.nii.gz", np.ones((2, 2, 1), np.float32))
    assert nifti.load_volume(plain, max_bytes=16).shape == (2, 2, 1)


@pytest.mark.parametrize("max_bytes", [0, -1, 1.5, True, "1024"])
def test_bad_limit_argument(tmp_path, max_bytes):
    with pytest.raises(DataError, match="`max_bytes` must be a positive whole"):
        nifti.load_volume(tmp_path / "any.nii.gz", max_bytes=max_bytes)


@pytest.mark.parametrize("value", ["lots", "0", "2.5e9"])
def test_bad_limit_in_the_environment(tmp_path, monkeypatch, value):
    monkeypatch.setenv(nifti.MAX_VOLUME_BYTES_ENV, value)
    with pytest.raises(DataError, match=nifti.MAX_VOLUME_BYTES_ENV):
        nifti.load_volume(tmp_path / "any.nii.gz")


# 2-D images.


def _png_claiming(path, width, height):
    """A 1x1 PNG whose header (IHDR) is patched to claim width x height."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def _folders(tmp_path, target):
    """Source and target folders of one pair, `0.png`; the target is `target`."""
    source_dir, target_dir = tmp_path / "A", tmp_path / "B"
    source_dir.mkdir()
    target_dir.mkdir()
    Image.new("L", (32, 32)).save(source_dir / "0.png")
    target(target_dir / "0.png")
    return source_dir, target_dir


def test_png_header_claiming_30000_squared_is_refused(tmp_path):
    source_dir, target_dir = _folders(
        tmp_path, lambda path: _png_claiming(path, 30000, 30000)
    )
    with pytest.raises(ImageTooLargeError, match=r"B/0\.png.*MAX_IMAGE_PIXELS"):
        load_paired_folders(source_dir, target_dir)


@pytest.mark.parametrize(
    "max_pixels",
    # The 64x32 image has 2048 pixels: Pillow warns past its limit and raises
    # past twice its limit; both are refused.
    [2047, 1023],
    ids=["past-limit", "past-twice-limit"],
)
def test_image_past_pillows_limit_is_refused(tmp_path, monkeypatch, max_pixels):
    Image.new("RGB", (64, 32)).save(tmp_path / "ab.png")  # A and B, 32x32 each
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2048)
    assert load_aligned_images(tmp_path)[0].shape == (1, 32, 32, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", max_pixels)
    with pytest.raises(ImageTooLargeError, match=r"ab\.png"):
        load_aligned_images(tmp_path)


def test_synthesize_images_refuses_an_image_past_pillows_limit(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _png_claiming(folder / "bomb.png", 30000, 30000)
    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png"):
        synthesize_images(model, folder, tmp_path / "out")
