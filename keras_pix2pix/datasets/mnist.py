"""Image-to-image translation tasks built from MNIST handwritten digits.

MNIST (Yann LeCun, Corinna Cortes and Christopher J. C. Burges) holds 60,000
training and 10,000 test images of handwritten digits, 28x28 pixels, 8-bit
grey levels, white digits on a black background. It is small enough to train a
pix2pix model on a laptop in minutes, which makes it a good first test of the
whole pipeline. The digits are padded with 2 black pixels on each side to 32x32,
a size that a 5-level U-Net halves down to 1x1.

Each task turns a digit into a (source, target) pair; the target is always the
padded digit itself, scaled from [0, 255] to [-1, 1]:

- `"edges"`: the digit's outline -> the digit (like pix2pix's edges2shoes).
  The digit is binarized at half its full grey level and the outline is its
  morphological gradient with a 3x3 square: the pixels within one pixel of
  both the digit and the background, about 2 pixels thick, white (+1) on
  black (-1).
- `"inpainting"` (alias `"masked"`): the digit with a square hole -> the digit.
  A `MASK_SIZE` x `MASK_SIZE` square, placed uniformly at random inside the
  original 28x28 area, is filled with `MASK_VALUE` (0, mid grey, so the hole is
  visible even where it covers the background).
- `"denoising"` (alias `"noisy"`): the digit plus white Gaussian noise of
  standard deviation `NOISE_STD` (in [-1, 1] units), clipped to [-1, 1]
  -> the digit.
- `"label_map"` (alias `"segmentation"`): a class-label map -> the digit, like
  pix2pix's labels2facades. The label map is the binarized digit (as for
  `"edges"`) filled with a grey level that encodes the digit's class `k`:
  `-1 + 2 * (k + 1) / 10` (so 0 is -0.8 and 9 is +1.0) on a -1 background. The
  model must draw a plausible handwritten digit inside the given silhouette,
  and the map says which digit it is.

Everything random is drawn from a `numpy.random.default_rng(seed)` generator,
so a seed always gives the same pairs.

Data source. MNIST is not bundled. `load_mnist_pairs` reads, in this order:
a `mnist.npz` file in the Keras format (arrays `x_train`, `y_train`, `x_test`,
`y_test`), or a folder holding `mnist.npz` or the four original IDX files
(`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped,
`.gz`); with `path=None`, `keras.datasets.mnist.load_data()`, which downloads
`mnist.npz` once into `~/.keras/datasets/`. On a machine without internet
access, download https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz
elsewhere and pass its path.

Licence: MNIST is made available by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges under the Creative Commons Attribution-Share Alike 3.0
licence (CC BY-SA 3.0).

Example:
```python
from keras_pix2pix.datasets.mnist import load_mnist_pairs

edges, digits = load_mnist_pairs("edges", "data/mnist.npz", count=1000)
edges.shape  # (1000, 32, 32, 1), float32 in [-1, 1]
```
"""

import gzip
import os
import pathlib
import zipfile

import numpy as np

from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"

IMAGE_SIZE = 32  # the 28x28 digits padded by 2 pixels on each side
PADDING = 2
MASK_SIZE = 12  # side of the square hole of the "inpainting" task, in pixels
MASK_VALUE = 0.0  # grey level of the hole, in [-1, 1] units
NOISE_STD = 0.5  # noise standard deviation of the "denoising" task, [-1, 1] units

TASKS = ("edges", "inpainting", "denoising", "label_map")
_ALIASES = {"masked": "inpainting", "noisy": "denoising", "segmentation": "label_map"}
SPLITS = ("train", "test")

# The IDX files of each split; the ".idx3-ubyte" spelling is common on mirrors.
_IDX_NAMES = {
    ("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    ("test", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
# IDX type codes (third byte of the magic number) -> big-endian numpy types.
_IDX_TYPES = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _where_to_put_it():
    return (
        "Download mnist.npz from "
        f"{MNIST_URL} (or the four IDX files, train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz) and pass its path, or the folder that holds "
        "them, as `path`; or put mnist.npz in ~/.keras/datasets/ for "
        "keras.datasets.mnist.load_data()."
    )


def _check_digits(images, labels, name):
    """Checks one split's arrays; returns them as uint8 images and int labels."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ImageFileError(
            f"{name}: expected MNIST images of shape (N, 28, 28). "
            f"Received shape {images.shape}."
        )
    if labels.shape != (len(images),):
        raise ImageFileError(
            f"{name}: expected {len(images)} labels, one per image, of shape "
            f"({len(images)},). Received shape {labels.shape}."
        )
    if not (
        np.issubdtype(images.dtype, np.number)
        and np.issubdtype(labels.dtype, np.number)
    ):
        raise ImageFileError(
            f"{name}: expected numeric images and labels. Received dtypes "
            f"{images.dtype} and {labels.dtype}."
        )
    if images.size and (
        not np.isfinite(images).all() or images.min() < 0 or images.max() > 255
    ):
        raise ImageFileError(f"{name}: image values must be finite and in [0, 255].")
    if labels.size and (
        not np.isfinite(labels).all()
        or (labels != np.round(labels)).any()
        or labels.min() < 0
        or labels.max() > 9
    ):
        raise ImageFileError(f"{name}: labels must be whole numbers from 0 to 9.")
    if images.dtype != np.uint8:
        images = np.round(images).astype(np.uint8)
    return images, labels.astype(np.int64)


def _read_npz(path, split):
    keys = (f"x_{split}", f"y_{split}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise ImageFileError(
                    f"{path} is not a Keras mnist.npz: it lacks the arrays "
                    f"{missing} (it holds {sorted(archive.files)})."
                )
            images, labels = archive[keys[0]], archive[keys[1]]
    except ImageFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ImageFileError(
            f"Cannot read {path} as a Keras mnist.npz file: {error}"
        ) from error
    return _check_digits(images, labels, str(path))


def _read_idx(path):
    """Reads one IDX file (optionally gzipped) into a numpy array."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as file:
                data = file.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError) as error:
        raise ImageFileError(f"Cannot read the IDX file {path}: {error}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ImageFileError(
            f"{path} is not an IDX file: its first 4 bytes {data[:4].hex()} are not "
            "an IDX magic number (0x00 0x00, a type code, a number of dimensions)."
        )
    dtype = np.dtype(_IDX_TYPES[data[2]])
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ImageFileError(f"{path} is truncated: its IDX header is incomplete.")
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_size != expected:
        raise ImageFileError(
            f"{path} holds {len(data) - header_size} bytes of data but its IDX "
            f"header announces shape {shape} of {dtype.name}, {expected} bytes."
        )
    return np.frombuffer(data, dtype, offset=header_size).reshape(shape)


def _find_idx(folder, split, kind):
    for name in _IDX_NAMES[(split, kind)]:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DatasetNotFoundError(
        f"No MNIST {split} {kind} in {folder}: expected the IDX file "
        f"{_IDX_NAMES[(split, kind)][0]} (or .gz) or a mnist.npz file there. "
        + _where_to_put_it()
    )


def _read_idx_folder(folder, split):
    images_path = _find_idx(folder, split, "images")
    labels_path = _find_idx(folder, split, "labels")
    images = _read_idx(images_path)
    labels = _read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ImageFileError(
            f"{images_path}: expected MNIST images of shape (N, 28, 28). "
            f"Received shape {images.shape}."
        )
    if labels.shape != (len(images),):
        raise ImageFileError(
            f"{labels_path}: expected {len(images)} labels, one per image of "
            f"{images_path.name}. Received shape {labels.shape}."
        )
    return _check_digits(images, labels, f"{images_path} and {labels_path}")


def _read_keras(split):
    import keras  # Lazily: reading local files needs no deep learning library.

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:
        raise DatasetNotFoundError(
            f"Cannot load MNIST with keras.datasets.mnist.load_data() ({error}); "
            "it needs internet access the first time. " + _where_to_put_it()
        ) from error
    if split == "train":
        return _check_digits(x_train, y_train, "keras.datasets.mnist (train)")
    return _check_digits(x_test, y_test, "keras.datasets.mnist (test)")


def load_mnist_digits(
    path: str | os.PathLike | None = None, *, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Reads one split of MNIST as it is stored: 28x28 uint8 digits and labels.

    Args:
        path: a Keras `mnist.npz` file, or a folder holding `mnist.npz` or the
            four IDX files (optionally gzipped). `None` calls
            `keras.datasets.mnist.load_data()`, which needs internet access the
            first time.
        split: `"train"` (60,000 digits) or `"test"` (10,000).

    Returns:
        `(images, labels)`: uint8 `(N, 28, 28)` and int64 `(N,)`.

    Raises:
        DataError: `split` is not `"train"` or `"test"`.
        DatasetNotFoundError: `path` does not exist or lacks the files, or
            `path` is `None` and Keras cannot download MNIST.
        ImageFileError: a file is unreadable or not MNIST-shaped.

    Example:
    ```python
    images, labels = load_mnist_digits("data/mnist.npz", split="test")
    images.shape  # (10000, 28, 28)
    ```
    """
    if split not in SPLITS:
        raise DataError(f"`split` must be one of {SPLITS}. Received: {split!r}")
    if path is None:
        return _read_keras(split)
    path = pathlib.Path(path).expanduser()
    if path.is_dir():
        if (path / "mnist.npz").is_file():
            return _read_npz(path / "mnist.npz", split)
        return _read_idx_folder(path, split)
    if path.is_file():
        return _read_npz(path, split)
    raise DatasetNotFoundError(
        f"MNIST not found: {path} does not exist. " + _where_to_put_it()
    )


def _binarize(digits):
    return digits >= 0.0  # half the full grey level, in [-1, 1] units


def _shift_any(mask, combine):
    """Combines each pixel's 3x3 neighbourhood with `np.logical_or`/`_and`."""
    height, width = mask.shape[1:]
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    out = padded[:, 1 : height + 1, 1 : width + 1].copy()
    for dy in range(3):
        for dx in range(3):
            combine(out, padded[:, dy : dy + height, dx : dx + width], out=out)
    return out


def _edges(digits):
    mask = _binarize(digits)
    dilated = _shift_any(mask, np.logical_or)
    eroded = _shift_any(mask, np.logical_and)  # the padding counts as background
    edges = (dilated & ~eroded).astype(np.float32)
    edges *= np.float32(2.0)
    edges -= np.float32(1.0)
    return edges


def _inpainting(digits, rng):
    source = digits.copy()
    corners = rng.integers(
        PADDING, PADDING + 28 - MASK_SIZE, size=(len(digits), 2), endpoint=True
    )
    for image, (top, left) in zip(source, corners, strict=True):
        image[top : top + MASK_SIZE, left : left + MASK_SIZE] = MASK_VALUE
    return source


def _denoising(digits, rng):
    noise = rng.standard_normal(digits.shape, dtype=np.float32)
    noise *= np.float32(NOISE_STD)
    noise += digits
    return np.clip(noise, -1.0, 1.0, out=noise)


def _label_map(digits, labels):
    levels = (-1.0 + 2.0 * (labels + 1) / 10.0).astype(np.float32)
    return np.where(_binarize(digits), levels[:, None, None], np.float32(-1.0))


def load_mnist_pairs(
    task: str = "edges",
    path: str | os.PathLike | None = None,
    *,
    split: str = "train",
    count: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Builds (source, target) pairs of an image-to-image task from MNIST digits.

    The target is the digit padded to 32x32 and scaled to [-1, 1]; the source
    depends on `task` (see the module docstring for details):

    - `"edges"`: the binarized digit's outline (morphological gradient).
    - `"inpainting"` or `"masked"`: the digit with a random 12x12 square
      filled with mid grey (0).
    - `"denoising"` or `"noisy"`: the digit plus Gaussian noise of standard
      deviation 0.5, clipped to [-1, 1].
    - `"label_map"` or `"segmentation"`: the binarized digit filled with a
      grey level that encodes its class `k`, `-1 + 2 * (k + 1) / 10`.

    Args:
        task: one of the tasks above.
        path: a Keras `mnist.npz` file, or a folder holding `mnist.npz` or the
            four IDX files (`train-images-idx3-ubyte`, ..., optionally `.gz`).
            `None` calls `keras.datasets.mnist.load_data()`, which downloads
            MNIST the first time and fails at once without internet access.
        split: `"train"` or `"test"`.
        count: how many digits to use, the first `count` of the split; `None`
            for all of them.
        seed: seed of the random masks and noise; the same seed always gives
            the same pairs.

    Returns:
        `(source, target)`: two float32 arrays of shape `(N, 32, 32, 1)` with
        values in [-1, 1].

    Raises:
        DataError: `task`, `split` or `count` is not valid.
        DatasetNotFoundError: the files are not found, or `path` is `None` and
            Keras cannot download MNIST; the message says where to get them.
        ImageFileError: a file is unreadable or malformed.

    Example:
    ```python
    noisy, clean = load_mnist_pairs("denoising", "data/mnist.npz", count=512)
    noisy.shape, noisy.dtype  # ((512, 32, 32, 1), dtype('float32'))
    ```
    """
    name = _ALIASES.get(task, task) if isinstance(task, str) else task
    if name not in TASKS:
        raise DataError(
            f"`task` must be one of {TASKS} (or an alias: {sorted(_ALIASES)}). "
            f"Received: {task!r}"
        )
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1
    ):
        raise DataError(
            f"`count` must be a positive integer or None. Received: {count!r}"
        )
    images, labels = load_mnist_digits(path, split=split)
    if count is not None:
        if count > len(images):
            raise DataError(
                f"`count` is {count} but the MNIST {split} split has only "
                f"{len(images)} digits."
            )
        images, labels = images[:count], labels[:count]
    padding = ((0, 0), (PADDING, PADDING), (PADDING, PADDING))
    target = np.pad(images, padding).astype(np.float32)
    target /= np.float32(127.5)
    target -= np.float32(1.0)
    rng = np.random.default_rng(seed)
    if name == "edges":
        source = _edges(target)
    elif name == "inpainting":
        source = _inpainting(target, rng)
    elif name == "denoising":
        source = _denoising(target, rng)
    else:
        source = _label_map(target, labels)
    return source[..., None], target[..., None]
