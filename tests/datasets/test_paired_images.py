"""Tests of the paired-image folders, the aligned format and `save_image`."""

import os
import re

import numpy as np
import pytest
from PIL import Image

from keras_pix2pix.datasets import paired_images as paired
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError

STEP = 1 / 127.5


def pixels(seed, height=12, width=16, channels=3):
    """Random 8-bit pixels, (H, W) for grayscale or (H, W, 3)."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def write(path, array, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


def scaled(array):
    array = array.astype(np.float32)
    return (array if array.ndim == 3 else array[..., None]) / 127.5 - 1


@pytest.fixture
def folders(tmp_path):
    """Three RGB sources and three grayscale targets, PNG, stems 0, 1, 2."""
    source_dir, target_dir = tmp_path / "source", tmp_path / "target"
    arrays = {}
    for index in range(3):
        arrays[index] = pixels(index), pixels(10 + index, channels=1)
        write(source_dir / f"{index:03d}.png", arrays[index][0])
        write(target_dir / f"{index:03d}.png", arrays[index][1])
    return source_dir, target_dir, arrays


def test_round_trip_values_and_modes(folders):
    source_dir, target_dir, arrays = folders
    source, target = paired.load_paired_folders(source_dir, target_dir)
    assert source.shape == (3, 12, 16, 3) and target.shape == (3, 12, 16, 1)
    assert source.dtype == target.dtype == np.float32
    assert source.min() >= -1 and source.max() <= 1
    for index in range(3):
        np.testing.assert_allclose(source[index], scaled(arrays[index][0]), atol=1e-6)
        np.testing.assert_allclose(target[index], scaled(arrays[index][1]), atol=1e-6)
    # 0 and 255 land exactly on -1 and +1.
    assert source.min() == -1 and source.max() == 1


def test_channels_conversion(folders):
    source_dir, target_dir, arrays = folders
    gray, gray_target = paired.load_paired_folders(source_dir, target_dir, channels=1)
    assert gray.shape == (3, 12, 16, 1) and gray_target.shape == (3, 12, 16, 1)
    expected = np.asarray(Image.fromarray(arrays[0][0]).convert("L"))
    np.testing.assert_allclose(gray[0], scaled(expected), atol=1e-6)
    colour, colour_target = paired.load_paired_folders(
        source_dir, target_dir, channels=3
    )
    assert colour.shape == colour_target.shape == (3, 12, 16, 3)
    for channel in range(3):  # grayscale -> RGB repeats the grey level
        np.testing.assert_array_equal(colour_target[..., channel], gray_target[..., 0])


def test_matching_by_stem_across_extensions_and_case(tmp_path):
    source_dir, target_dir = tmp_path / "a", tmp_path / "b"
    expected = {}
    for stem, source_name, target_name in [
        ("cat", "cat.png", "cat.JPG"),
        ("dog", "dog.bmp", "dog.tiff"),
        ("emu", "emu.tif", "emu.jpeg"),
    ]:
        array = pixels(len(expected), channels=1)
        write(source_dir / source_name, array)
        write(target_dir / target_name, array, quality=95)
        expected[stem] = array
    (source_dir / "notes.txt").write_text("not an image")
    (source_dir / ".hidden.png").write_bytes(b"ignored")
    (source_dir / "sub").mkdir()
    write(source_dir / "sub" / "cat.png", pixels(99, channels=1))
    source, target = paired.load_paired_folders(source_dir, target_dir)
    assert source.shape == target.shape == (3, 12, 16, 1)
    for index, stem in enumerate(sorted(expected)):  # sorted by stem
        np.testing.assert_allclose(source[index], scaled(expected[stem]), atol=1e-6)
    # Lossless formats are exact; the JPEG targets are close.
    assert np.abs(source[1] - target[1]).max() < 1e-6  # bmp -> tiff
    assert np.abs(source - target).mean() < 0.1
    only_png = paired.load_paired_folders(
        source_dir, target_dir, extensions=(".png", "jpg"), on_unmatched="skip"
    )
    assert only_png[0].shape[0] == 1


def test_resize_with_bicubic_interpolation(folders):
    source_dir, target_dir, arrays = folders
    write(target_dir / "000.png", pixels(50, height=24, width=20, channels=1))
    with pytest.raises(DataError, match="image_size"):
        paired.load_paired_folders(source_dir, target_dir)
    source, target = paired.load_paired_folders(
        source_dir, target_dir, image_size=(8, 10)
    )
    assert source.shape == (3, 8, 10, 3) and target.shape == (3, 8, 10, 1)
    expected = Image.fromarray(arrays[1][0]).resize((10, 8), Image.Resampling.BICUBIC)
    np.testing.assert_allclose(source[1], scaled(np.asarray(expected)), atol=1e-6)
    assert source.min() >= -1 and source.max() <= 1
    square, _ = paired.load_paired_folders(source_dir, target_dir, image_size=6)
    assert square.shape == (3, 6, 6, 3)


def test_size_mismatch_names_both_files(folders):
    source_dir, target_dir, _ = folders
    write(source_dir / "002.png", pixels(7, height=13))
    with pytest.raises(DataError) as info:
        paired.load_paired_folders(source_dir, target_dir)
    message = str(info.value)
    assert "000.png" in message and "16x12" in message
    assert "002.png" in message and "16x13" in message


def test_unmatched_files_error_or_skip(folders):
    source_dir, target_dir, arrays = folders
    write(source_dir / "lonely.png", pixels(20))
    write(target_dir / "alone.png", pixels(21, channels=1))
    with pytest.raises(DataError, match=r"lonely\.png") as info:
        paired.load_paired_folders(source_dir, target_dir)
    assert "alone.png" in str(info.value) and "on_unmatched" in str(info.value)
    with pytest.warns(UserWarning, match=r"lonely\.png.*alone\.png"):
        source, target = paired.load_paired_folders(
            source_dir, target_dir, on_unmatched="skip"
        )
    assert source.shape[0] == target.shape[0] == 3
    np.testing.assert_allclose(source[2], scaled(arrays[2][0]), atol=1e-6)


def test_no_matches(tmp_path):
    write(tmp_path / "a" / "x.png", pixels(0))
    write(tmp_path / "b" / "y.png", pixels(1))
    with pytest.raises(DataError, match="No file name"):
        paired.load_paired_folders(tmp_path / "a", tmp_path / "b", on_unmatched="skip")


def test_missing_and_empty_folders(folders, tmp_path):
    source_dir, target_dir, _ = folders
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        paired.load_paired_folders(tmp_path / "nowhere", target_dir)
    with pytest.raises(DatasetNotFoundError, match="is not a folder"):
        paired.load_paired_folders(source_dir, target_dir / "000.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(empty))):
        paired.load_paired_folders(source_dir, empty)
    with pytest.raises(DatasetNotFoundError, match="No images"):
        paired.load_aligned_images(empty)


def test_corrupt_and_unsupported_images(folders):
    source_dir, target_dir, _ = folders
    (target_dir / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ImageFileError, match=r"001\.png"):
        paired.load_paired_folders(source_dir, target_dir)
    good = (source_dir / "002.png").read_bytes()
    (target_dir / "001.png").unlink()
    (source_dir / "001.png").unlink()
    (source_dir / "002.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageFileError, match=r"002\.png"):
        paired.load_paired_folders(source_dir, target_dir)
    write(source_dir / "002.png", np.zeros((12, 16), np.uint16) + 1000)
    with pytest.raises(ImageFileError, match=r"002\.png.*8-bit"):
        paired.load_paired_folders(source_dir, target_dir)


def test_mixed_modes_need_channels(folders):
    source_dir, target_dir, _ = folders
    write(source_dir / "001.png", pixels(5, channels=1))
    with pytest.raises(DataError, match=r"001\.png.*grayscale.*000\.png.*colour"):
        paired.load_paired_folders(source_dir, target_dir)
    source, _ = paired.load_paired_folders(source_dir, target_dir, channels=3)
    assert source.shape == (3, 12, 16, 3)


def test_duplicate_stems(folders):
    source_dir, target_dir, _ = folders
    write(source_dir / "001.jpg", pixels(1))
    with pytest.raises(DataError, match=r"001\.jpg|001\.png"):
        paired.load_paired_folders(source_dir, target_dir)


@pytest.mark.parametrize(
    "arguments",
    [
        {"channels": 2},
        {"channels": True},
        {"image_size": 0},
        {"image_size": (8,)},
        {"image_size": (8, 8.5)},
        {"image_size": "big"},
        {"extensions": ()},
        {"extensions": (3,)},
        {"on_unmatched": "ignore"},
    ],
)
def test_bad_arguments(folders, arguments):
    source_dir, target_dir, _ = folders
    with pytest.raises(DataError):
        paired.load_paired_folders(source_dir, target_dir, **arguments)


@pytest.fixture
def aligned(tmp_path):
    """Two RGB files, A (left) and B (right) side by side, 10x16 each half."""
    folder = tmp_path / "aligned"
    halves = []
    for index in range(2):
        a, b = pixels(index, height=10), pixels(5 + index, height=10)
        write(folder / f"{index}.png", np.concatenate([a, b], axis=1))
        halves.append((a, b))
    return folder, halves


def test_aligned_a_to_b_and_b_to_a(aligned):
    folder, halves = aligned
    source, target = paired.load_aligned_images(folder)
    assert source.shape == target.shape == (2, 10, 16, 3)
    for index, (a, b) in enumerate(halves):
        np.testing.assert_allclose(source[index], scaled(a), atol=1e-6)
        np.testing.assert_allclose(target[index], scaled(b), atol=1e-6)
    reverse_source, reverse_target = paired.load_aligned_images(
        folder, direction="BtoA"
    )
    np.testing.assert_array_equal(reverse_source, target)
    np.testing.assert_array_equal(reverse_target, source)


def test_aligned_resize_channels_and_errors(aligned):
    folder, halves = aligned
    source, target = paired.load_aligned_images(folder, image_size=8, channels=1)
    assert source.shape == target.shape == (2, 8, 8, 1)
    expected = Image.fromarray(halves[1][1]).convert("L").resize((8, 8), Image.BICUBIC)
    np.testing.assert_allclose(target[1], scaled(np.asarray(expected)), atol=1e-6)

    write(folder / "2.png", pixels(9, height=10, width=30))
    with pytest.raises(DataError, match=r"0\.png.*32x10.*2\.png.*30x10"):
        paired.load_aligned_images(folder)
    write(folder / "2.png", pixels(9, height=10, width=31))
    with pytest.raises(DataError, match=r"2\.png.*31.*odd"):
        paired.load_aligned_images(folder, image_size=8)
    (folder / "2.png").write_bytes(b"garbage")
    with pytest.raises(ImageFileError, match=r"2\.png"):
        paired.load_aligned_images(folder)
    with pytest.raises(DataError, match="direction"):
        paired.load_aligned_images(folder, direction="AB")


def test_save_image_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    for channels, shape in ((1, (12, 16)), (1, (12, 16, 1)), (3, (12, 16, 3))):
        image = rng.uniform(-1, 1, shape).astype(np.float32)
        path = paired.save_image(tmp_path / "out" / f"image{channels}.png", image)
        assert path.is_file()
        with Image.open(path) as written:
            assert written.format == "PNG"
            assert written.mode == ("L" if channels == 1 else "RGB")
            values = scaled(np.asarray(written))
        np.testing.assert_allclose(
            values, image.reshape(values.shape), atol=STEP / 2 + 1e-6
        )
    # Exactly representable values come back exactly; out-of-range is clipped.
    levels = np.arange(256, dtype=np.float32).reshape(16, 16) / 127.5 - 1
    path = paired.save_image(tmp_path / "levels.png", levels)
    np.testing.assert_array_equal(
        np.asarray(Image.open(path)), np.arange(256).reshape(16, 16)
    )
    clipped = paired.save_image(tmp_path / "clipped.png", np.array([[-3.0, 2.0]]))
    np.testing.assert_array_equal(np.asarray(Image.open(clipped)), [[0, 255]])


def test_save_image_then_load_paired(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    for index, image in enumerate(images):
        paired.save_image(tmp_path / "a" / f"{index}.png", image)
        paired.save_image(tmp_path / "b" / f"{index}.png", -image)
    source, target = paired.load_paired_folders(tmp_path / "a", tmp_path / "b")
    np.testing.assert_allclose(source, images, atol=STEP / 2 + 1e-6)
    np.testing.assert_allclose(target, -images, atol=STEP / 2 + 1e-6)


def test_save_image_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "sample.png"
    paired.save_image(path, np.zeros((4, 4)))
    before = path.read_bytes()

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(paired.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        paired.save_image(path, np.ones((4, 4)))
    assert path.read_bytes() == before  # the old file is intact
    assert os.listdir(tmp_path) == ["sample.png"]


@pytest.mark.parametrize(
    ("name", "image", "message"),
    [
        ("x.jpg", np.zeros((4, 4)), r"\.png"),
        ("x.png", np.zeros((4, 4, 2)), "shape"),
        ("x.png", np.zeros((2, 4, 4, 3)), "shape"),
        ("x.png", np.zeros((0, 4)), "shape"),
        ("x.png", np.array([[np.nan, 0.0]]), "NaN"),
        ("x.png", [["a", "b"]], "numbers"),
    ],
)
def test_save_image_errors(tmp_path, name, image, message):
    with pytest.raises(DataError, match=message):
        paired.save_image(tmp_path / name, image)
    assert not list(tmp_path.iterdir())
