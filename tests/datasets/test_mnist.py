"""Tests of the MNIST image-to-image tasks, on small fake MNIST files."""

import gzip
import struct
import time

import numpy as np
import pytest

from keras_pix2pix.datasets import mnist
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError

TASKS = ("edges", "inpainting", "denoising", "label_map")
ALIASES = {"masked": "inpainting", "noisy": "denoising", "segmentation": "label_map"}


def fake_digits(count, seed):
    """White strokes on black, 28x28 uint8: rings and bars with soft edges."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:28, 0:28].astype(np.float64)
    images = np.zeros((count, 28, 28), np.uint8)
    for index in range(count):
        centre_row, centre_column = rng.uniform(11, 17, size=2)
        radius = rng.uniform(5, 8)
        distance = np.hypot(rows - centre_row, columns - centre_column)
        stroke = np.clip(2.0 - np.abs(distance - radius), 0, 1)
        if index % 2:  # a vertical bar through the ring
            bar = np.clip(2.0 - np.abs(columns - centre_column), 0, 1)
            bar[(rows < 4) | (rows > 23)] = 0
            stroke = np.maximum(stroke, bar)
        images[index] = np.round(255 * stroke).astype(np.uint8)
    return images, (np.arange(count) % 10).astype(np.uint8)


def write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as file:
            file.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture(scope="module")
def digits():
    return {"train": fake_digits(20, seed=1), "test": fake_digits(8, seed=2)}


@pytest.fixture
def npz_path(tmp_path, digits):
    path = tmp_path / "mnist.npz"
    (x_train, y_train), (x_test, y_test) = digits["train"], digits["test"]
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def padded(images):
    return (np.pad(images, ((0, 0), (2, 2), (2, 2))) / 127.5 - 1)[..., None]


@pytest.mark.parametrize("task", TASKS + tuple(ALIASES))
def test_shapes_ranges_and_target(npz_path, digits, task):
    source, target = mnist.load_mnist_pairs(task, npz_path)
    assert source.shape == target.shape == (20, 32, 32, 1)
    assert source.dtype == target.dtype == np.float32
    for array in (source, target):
        assert np.isfinite(array).all()
        assert array.min() >= -1 and array.max() <= 1
    np.testing.assert_allclose(target, padded(digits["train"][0]), atol=1e-6)
    assert not np.array_equal(source, target)
    # The 2-pixel padding is black in the target.
    assert (target[:, :2] == -1).all() and (target[:, :, -2:] == -1).all()


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_pairs(npz_path, task):
    first = mnist.load_mnist_pairs(task, npz_path, seed=3)
    again = mnist.load_mnist_pairs(task, npz_path, seed=3)
    other = mnist.load_mnist_pairs(task, npz_path, seed=4)
    for one, two in zip(first, again, strict=True):
        np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(first[1], other[1])
    if task in ("inpainting", "denoising"):
        assert not np.array_equal(first[0], other[0])
    else:  # deterministic tasks do not depend on the seed
        np.testing.assert_array_equal(first[0], other[0])


@pytest.mark.parametrize(("alias", "task"), ALIASES.items())
def test_aliases_give_the_same_pairs(npz_path, alias, task):
    for one, two in zip(
        mnist.load_mnist_pairs(alias, npz_path),
        mnist.load_mnist_pairs(task, npz_path),
        strict=True,
    ):
        np.testing.assert_array_equal(one, two)


def _dilate(mask):
    padded_mask = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            out |= padded_mask[:, dy : dy + mask.shape[1], dx : dx + mask.shape[2]]
    return out


def test_edges_are_the_outline_of_the_digit(npz_path):
    source, target = mnist.load_mnist_pairs("edges", npz_path)
    edges, digit = source[..., 0] == 1, target[..., 0] >= 0
    assert set(np.unique(source)) == {-1.0, 1.0}  # binary
    # Every edge pixel lies within one pixel of the digit and of the background.
    assert not (edges & ~_dilate(digit)).any()
    assert not (edges & ~_dilate(~digit)).any()
    # Every boundary pixel of the digit is an edge; the inside is not.
    boundary = digit & _dilate(~digit)
    assert (edges[boundary]).all()
    inside = digit & ~_dilate(~digit)
    assert not edges[inside].any()
    for image in edges:
        assert image.any()


def test_inpainting_occludes_one_square(npz_path):
    source, target = mnist.load_mnist_pairs("inpainting", npz_path, seed=5)
    size = mnist.MASK_SIZE
    corners = set()
    for image, digit in zip(source[..., 0], target[..., 0], strict=True):
        hole = image != digit
        rows, columns = np.nonzero(image == mnist.MASK_VALUE)
        top, left = rows.min(), columns.min()
        assert (rows.max() - top, columns.max() - left) == (size - 1, size - 1)
        # Inside the original 28x28 area, not in the padding.
        assert 2 <= top <= 32 - 2 - size and 2 <= left <= 32 - 2 - size
        square = np.zeros_like(hole)
        square[top : top + size, left : left + size] = True
        assert not hole[~square].any()  # untouched outside the square
        assert (image[square] == mnist.MASK_VALUE).all()
        corners.add((top, left))
    assert len(corners) > 5  # the square moves


def test_denoising_adds_gaussian_noise(npz_path):
    source, target = mnist.load_mnist_pairs("denoising", npz_path, seed=1)
    residual = source - target
    assert 0.15 < np.abs(residual).mean() < 0.5
    # Clipping at -1 and +1: the background only gets brighter, full white
    # strokes only darker, each pixel with probability one half.
    background = residual[target == -1]
    assert background.min() >= 0 and residual[target == 1].max() <= 0
    assert abs((background > 0).mean() - 0.5) < 0.02
    # E[max(0, N(0, sigma))] = sigma / sqrt(2 pi).
    expected = mnist.NOISE_STD / np.sqrt(2 * np.pi)
    assert abs(background.mean() - expected) < 0.02


def test_label_map_encodes_the_class(npz_path, digits):
    source, target = mnist.load_mnist_pairs("label_map", npz_path)
    labels = digits["train"][1]
    for image, digit, label in zip(source[..., 0], target[..., 0], labels, strict=True):
        level = -1 + 2 * (label + 1) / 10
        np.testing.assert_allclose(image[digit >= 0], level, atol=1e-6)
        assert (image[digit < 0] == -1).all()
        assert len(np.unique(image)) == 2


def test_split_and_count(npz_path, digits):
    source, target = mnist.load_mnist_pairs("edges", npz_path, split="test")
    assert source.shape == (8, 32, 32, 1)
    np.testing.assert_allclose(target, padded(digits["test"][0]), atol=1e-6)
    few = mnist.load_mnist_pairs("denoising", npz_path, count=5)
    assert few[0].shape == (5, 32, 32, 1)
    np.testing.assert_allclose(few[1], padded(digits["train"][0][:5]), atol=1e-6)


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_files_raw_and_gzipped(tmp_path, npz_path, digits, compressed):
    folder = tmp_path / "idx"
    folder.mkdir()
    suffix = ".gz" if compressed else ""
    for prefix, split in (("train", "train"), ("t10k", "test")):
        images, labels = digits[split]
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    for split in ("train", "test"):
        images, labels = mnist.load_mnist_digits(folder, split=split)
        np.testing.assert_array_equal(images, digits[split][0])
        np.testing.assert_array_equal(labels, digits[split][1])
        for task in TASKS:
            from_idx = mnist.load_mnist_pairs(task, folder, split=split)
            from_npz = mnist.load_mnist_pairs(task, npz_path, split=split)
            for one, two in zip(from_idx, from_npz, strict=True):
                np.testing.assert_array_equal(one, two)


def test_folder_with_mnist_npz(npz_path):
    from_folder = mnist.load_mnist_pairs("edges", npz_path.parent)
    from_file = mnist.load_mnist_pairs("edges", npz_path)
    np.testing.assert_array_equal(from_folder[0], from_file[0])


def test_offline_keras_download_raises_at_once(monkeypatch):
    import keras

    def offline():
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match=r"mnist\.npz") as info:
        mnist.load_mnist_pairs("edges")
    assert time.perf_counter() - start < 1
    assert mnist.MNIST_URL in str(info.value)
    assert "IDX" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_keras_loader_used_when_path_is_none(monkeypatch, digits):
    import keras

    monkeypatch.setattr(
        keras.datasets.mnist, "load_data", lambda: (digits["train"], digits["test"])
    )
    source, target = mnist.load_mnist_pairs("label_map", split="test")
    assert source.shape == (8, 32, 32, 1)
    np.testing.assert_allclose(target, padded(digits["test"][0]), atol=1e-6)


def test_missing_path_and_missing_idx_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        mnist.load_mnist_pairs("edges", tmp_path / "nowhere.npz")
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte"):
        mnist.load_mnist_pairs("edges", tmp_path)
    with pytest.raises(DatasetNotFoundError, match=mnist.MNIST_URL):
        mnist.load_mnist_pairs("edges", tmp_path)


def test_malformed_files(tmp_path, digits):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ImageFileError, match=r"garbage\.npz"):
        mnist.load_mnist_pairs("edges", garbage)

    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, x_train=digits["train"][0], y_train=digits["train"][1])
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(ImageFileError, match=r"truncated\.npz"):
        mnist.load_mnist_pairs("edges", truncated)

    incomplete = tmp_path / "incomplete.npz"
    np.savez(incomplete, x_train=digits["train"][0])
    with pytest.raises(ImageFileError, match=r"incomplete\.npz.*y_train"):
        mnist.load_mnist_pairs("edges", incomplete)

    wrong_shape = tmp_path / "wrong_shape.npz"
    np.savez(wrong_shape, x_train=np.zeros((4, 30, 30), np.uint8), y_train=np.zeros(4))
    with pytest.raises(ImageFileError, match=r"wrong_shape\.npz.*\(N, 28, 28\)"):
        mnist.load_mnist_pairs("edges", wrong_shape)

    bad_labels = tmp_path / "bad_labels.npz"
    np.savez(bad_labels, x_train=digits["train"][0], y_train=np.full(20, 12))
    with pytest.raises(ImageFileError, match=r"bad_labels\.npz"):
        mnist.load_mnist_pairs("label_map", bad_labels)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, x_train=np.array([None] * 3, object), y_train=np.zeros(3))
    with pytest.raises(ImageFileError, match=r"pickled\.npz"):
        mnist.load_mnist_pairs("edges", pickled)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: b"\x01\x02" + data[2:], "not an IDX file"),
        (lambda data: data[:-5], "header announces"),
        (lambda data: data[:6], "truncated|header"),
    ],
)
def test_malformed_idx_files(tmp_path, digits, damage, message):
    images, labels = digits["train"]
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ImageFileError, match=message) as info:
        mnist.load_mnist_pairs("edges", tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_malformed_gzip_and_mismatched_idx_files(tmp_path, digits):
    images, labels = digits["train"]
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip data")
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(ImageFileError, match=r"train-images-idx3-ubyte\.gz"):
        mnist.load_mnist_pairs("edges", tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    write_idx(tmp_path / "train-images-idx3-ubyte", images[:10])
    with pytest.raises(ImageFileError, match="labels"):
        mnist.load_mnist_pairs("edges", tmp_path)


@pytest.mark.parametrize(
    "arguments",
    [
        {"task": "colorize"},
        {"task": None},
        {"split": "validation"},
        {"count": 0},
        {"count": 2.5},
        {"count": True},
        {"count": 21},
    ],
)
def test_bad_arguments(npz_path, arguments):
    arguments = {"task": "edges", **arguments}
    with pytest.raises(DataError):
        mnist.load_mnist_pairs(path=npz_path, **arguments)
