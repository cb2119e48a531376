"""Paired 2-D images from the user's own folders, and saving generated images.

Two layouts are read, both with Pillow:

- Two folders, one of source images and one of target images, paired by file
  stem (the name without its extension: `a/0001.png` pairs with
  `b/0001.jpg`). `load_paired_folders` reads them.
- The "aligned" format of the reference pix2pix implementation
  (junyanz/pytorch-CycleGAN-and-pix2pix, `datasets/combine_A_and_B.py`): each
  file holds image A and image B side by side, `2W` pixels wide, A on the
  left. `load_aligned_images` splits each file at the middle.

Images are 8-bit (Pillow modes `1`, `L`, `LA`, `P`, `RGB`, `RGBA`, `RGBX`,
`CMYK`, `YCbCr`; palette images count as colour): 16-bit and floating-point
images are refused, as the [0, 255] -> [-1, 1] scaling would be wrong for them.
Alpha channels are dropped. The arrays are channels-last, `(N, H, W, C)`,
float32 in [-1, 1]: `value / 127.5 - 1`. `save_image` inverts the scaling and
writes an 8-bit PNG.

Example:
```python
from keras_pix2pix.datasets.paired_images import load_paired_folders

sketches, photos = load_paired_folders("data/sketches", "data/photos", image_size=256)
sketches.shape  # (N, 256, 256, C), float32 in [-1, 1]
```
"""

import os
import pathlib
import warnings

import numpy as np
from PIL import Image

from keras_pix2pix.errors import (
    DataError,
    DatasetNotFoundError,
    ImageFileError,
    ImageTooLargeError,
)
from keras_pix2pix.utils.atomic_files import atomic_path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DIRECTIONS = ("AtoB", "BtoA")

# Pillow modes that hold 8-bit samples, and the channels they become.
# Palette images ("P") count as colour.
_GRAYSCALE_MODES = {"1", "L", "LA"}
_COLOUR_MODES = {"P", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"}


def _folder(path, argument):
    folder = pathlib.Path(path).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DatasetNotFoundError(f"`{argument}` {folder} {what}.")
    return folder


def _check_extensions(extensions):
    if isinstance(extensions, str):
        extensions = (extensions,)
    try:
        extensions = tuple(extensions)
    except TypeError:
        extensions = ()
    if not extensions or not all(isinstance(e, str) and e for e in extensions):
        raise DataError(
            "`extensions` must be a non-empty sequence of file extensions such as "
            f"('.png', '.jpg'). Received: {extensions!r}"
        )
    return {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}


def _image_files(folder, extensions):
    """The image files of a folder (not its sub-folders), sorted by name."""
    files = sorted(
        path
        for path in folder.iterdir()
        if path.suffix.lower() in extensions
        and not path.name.startswith(".")
        and path.is_file()
    )
    if not files:
        raise DatasetNotFoundError(
            f"No images in {folder}: no file ends with one of {sorted(extensions)}."
        )
    return files


def _by_stem(files):
    stems = {}
    for path in files:
        if path.stem in stems:
            raise DataError(
                f"Two images share the name {path.stem!r}: {stems[path.stem]} and "
                f"{path}. Pairs are matched by file name without extension, so "
                "each name must be unique in its folder."
            )
        stems[path.stem] = path
    return stems


def _check_channels(channels):
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise DataError(f"`channels` must be 1, 3 or None. Received: {channels!r}")


def _check_image_size(image_size):
    """Returns `image_size` as (height, width), or None."""
    if image_size is None:
        return None
    size = (
        (image_size, image_size)
        if isinstance(image_size, int | np.integer)
        else image_size
    )
    try:
        height, width = size
    except (TypeError, ValueError):
        height = width = None
    if not all(
        isinstance(n, int | np.integer) and not isinstance(n, bool) and n > 0
        for n in (height, width)
    ):
        raise DataError(
            "`image_size` must be a positive integer or a (height, width) pair of "
            f"positive integers. Received: {image_size!r}"
        )
    return int(height), int(width)


def _load_image(path):
    """Reads an image file fully with Pillow and returns the image.

    An image of more pixels than `PIL.Image.MAX_IMAGE_PIXELS` (Pillow's
    decompression-bomb limit, which Pillow only warns about up to twice that)
    is refused from its header, before its pixels are decoded.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                image.load()
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise ImageTooLargeError(
                f"The image {path} is too large to load: {error} The limit is "
                f"`PIL.Image.MAX_IMAGE_PIXELS` = {Image.MAX_IMAGE_PIXELS:,} pixels; "
                "if the image is genuine, raise it (or set it to None)."
            ) from error
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageFileError(f"Cannot read the image {path}: {error}") from error
    return image


def _open(path):
    """Reads an image file fully; returns the Pillow image and its channels."""
    image = _load_image(path)
    if image.mode in _GRAYSCALE_MODES:
        return image, 1
    if image.mode in _COLOUR_MODES:
        if image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")
        return image, 3
    raise ImageFileError(
        f"{path} has Pillow mode {image.mode!r}: only 8-bit grayscale or colour "
        "images are supported. Convert 16-bit or floating-point images to 8 bits "
        "first."
    )


def _folder_channels(paths, images, channels):
    """The channels of a folder: `channels`, or its images' when consistent."""
    if channels is not None:
        return channels
    found = {}
    for path, (_, image_channels) in zip(paths, images, strict=True):
        found.setdefault(image_channels, path)
    if len(found) > 1:
        raise DataError(
            f"Grayscale and colour images are mixed: {found[1]} is grayscale but "
            f"{found[3]} is colour. Pass `channels=1` or `channels=3` to convert "
            "them all."
        )
    return next(iter(found))


def _check_same_size(paths, images):
    first_path, (first, _) = paths[0], images[0]
    for path, (image, _) in zip(paths, images, strict=True):
        if image.size != first.size:
            raise DataError(
                f"Images differ in size: {first_path} is {first.width}x"
                f"{first.height} (width x height) but {path} is {image.width}x"
                f"{image.height}. Pass `image_size` to resize them all."
            )


def _to_array(image, channels, size=None):
    """Converts a Pillow image to float32 (H, W, C) in [-1, 1]."""
    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.float32).reshape(image.height, image.width, -1)
    return array / np.float32(127.5) - np.float32(1.0)


def _check_direction(direction):
    if direction not in DIRECTIONS:
        raise DataError(
            f"`direction` must be one of {DIRECTIONS}. Received: {direction!r}"
        )


def load_paired_folders(
    source_dir: str | os.PathLike,
    target_dir: str | os.PathLike,
    *,
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    on_unmatched: str = "error",
) -> tuple[np.ndarray, np.ndarray]:
    """Reads pairs of 2-D images from two folders, matched by file name.

    A source image and a target image form a pair when their file names
    without extension are equal (`source/0001.png` and `target/0001.jpg`).
    Pairs are returned sorted by that name. Sub-folders and hidden files are
    ignored; extensions are compared without regard to case.

    Args:
        source_dir: the folder of source (input) images.
        target_dir: the folder of target (ground truth) images.
        image_size: `None` to keep the images' size, which must then be the
            same for all of them; or an integer (square) or `(height, width)`
            to resize every image to, with bicubic interpolation (Pillow's
            `Image.Resampling.BICUBIC`, results clipped to [0, 255]).
        channels: 1 to convert every image to grayscale, 3 to RGB; `None`
            keeps each folder's own: all its images must then be grayscale or
            all colour (the two folders may differ).
        extensions: the file extensions of the images to read.
        on_unmatched: what to do with a file that has no partner in the other
            folder: `"error"` raises a `DataError` listing them, `"skip"`
            leaves them out with a warning listing them.

    Returns:
        `(source, target)`: float32 arrays of shape `(N, H, W, C)`, with the
        8-bit values scaled from [0, 255] to [-1, 1].

    Raises:
        DatasetNotFoundError: a folder does not exist or holds no images.
        DataError: a file is unmatched (with `on_unmatched="error"`), no file
            names match, two files of a folder share a name, sizes or
            grayscale/colour modes differ, or an argument is not valid.
        ImageFileError: an image cannot be read or is not 8-bit.

    Example:
    ```python
    labels, photos = load_paired_folders(
        "facades/labels", "facades/photos", image_size=256, channels=3
    )
    labels.shape  # (N, 256, 256, 3), float32 in [-1, 1]
    ```
    """
    size = _check_image_size(image_size)
    _check_channels(channels)
    extensions = _check_extensions(extensions)
    if on_unmatched not in ("error", "skip"):
        raise DataError(
            f"`on_unmatched` must be 'error' or 'skip'. Received: {on_unmatched!r}"
        )
    source_dir = _folder(source_dir, "source_dir")
    target_dir = _folder(target_dir, "target_dir")
    sources = _by_stem(_image_files(source_dir, extensions))
    targets = _by_stem(_image_files(target_dir, extensions))
    stems = sorted(sources.keys() & targets.keys())
    unmatched = sorted(
        [str(path) for stem, path in sources.items() if stem not in targets]
        + [str(path) for stem, path in targets.items() if stem not in sources]
    )
    if not stems:
        raise DataError(
            f"No file name of {source_dir} matches one of {target_dir} "
            f"(names are compared without extension), e.g. {unmatched[:2]}."
        )
    if unmatched:
        listing = ", ".join(unmatched[:20])
        if len(unmatched) > 20:
            listing += f" and {len(unmatched) - 20} more"
        message = (
            f"{len(unmatched)} image(s) have no partner with the same name "
            f"(without extension) in the other folder: {listing}."
        )
        if on_unmatched == "error":
            raise DataError(message + " Pass on_unmatched='skip' to leave them out.")
        warnings.warn(message + " They are left out.", stacklevel=2)

    source_images = [_open(sources[stem]) for stem in stems]
    target_images = [_open(targets[stem]) for stem in stems]
    source_paths = [sources[stem] for stem in stems]
    target_paths = [targets[stem] for stem in stems]
    source_channels = _folder_channels(source_paths, source_images, channels)
    target_channels = _folder_channels(target_paths, target_images, channels)
    if size is None:
        _check_same_size(source_paths + target_paths, source_images + target_images)
    source = np.stack(
        [_to_array(image, source_channels, size) for image, _ in source_images]
    )
    target = np.stack(
        [_to_array(image, target_channels, size) for image, _ in target_images]
    )
    return source, target


def load_aligned_images(
    folder: str | os.PathLike,
    *,
    direction: str = "AtoB",
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Reads pairs stored side by side, the reference pix2pix "aligned" format.

    Each file holds image A (left half) and image B (right half), so it is
    `2W` pixels wide for `W`-pixel-wide images; it is split at the middle.
    Files are read in name order.

    Args:
        folder: the folder of side-by-side images (sub-folders are ignored).
        direction: `"AtoB"` makes A (left) the source and B (right) the
            target; `"BtoA"` the reverse.
        image_size: `None` to keep the halves' size, which must then be the
            same for all files; or an integer (square) or `(height, width)` to
            resize each half to, with bicubic interpolation (Pillow's
            `Image.Resampling.BICUBIC`).
        channels: 1 to convert to grayscale, 3 to RGB; `None` keeps the
            files' own, which must then be all grayscale or all colour.
        extensions: the file extensions of the images to read.

    Returns:
        `(source, target)`: float32 arrays of shape `(N, H, W, C)` in [-1, 1].

    Raises:
        DatasetNotFoundError: the folder does not exist or holds no images.
        DataError: a file's width is odd, sizes or modes differ, or an
            argument is not valid.
        ImageFileError: an image cannot be read or is not 8-bit.

    Example:
    ```python
    photos, labels = load_aligned_images("facades/train", direction="BtoA")
    photos.shape  # (400, 256, 256, 3) for the pix2pix facades training set
    ```
    """
    _check_direction(direction)
    size = _check_image_size(image_size)
    _check_channels(channels)
    extensions = _check_extensions(extensions)
    files = _image_files(_folder(folder, "folder"), extensions)
    images = [_open(path) for path in files]
    channels = _folder_channels(files, images, channels)
    for path, (image, _) in zip(files, images, strict=True):
        if image.width % 2:
            raise DataError(
                f"{path} is {image.width} pixels wide, an odd number: an aligned "
                "image holds A and B side by side, so its width must be even."
            )
    if size is None:
        _check_same_size(files, images)
    left, right = [], []
    for image, _ in images:
        half = image.width // 2
        left.append(_to_array(image.crop((0, 0, half, image.height)), channels, size))
        right.append(
            _to_array(image.crop((half, 0, image.width, image.height)), channels, size)
        )
    a, b = np.stack(left), np.stack(right)
    return (a, b) if direction == "AtoB" else (b, a)


def save_image(path: str | os.PathLike, image: np.ndarray) -> pathlib.Path:
    """Writes an image with values in [-1, 1] as an 8-bit PNG file, atomically.

    The values are mapped to [0, 255] by `round((value + 1) * 127.5)`, the
    inverse of the loaders' scaling; values outside [-1, 1] are clipped. The
    file is written to a temporary file in the same folder and then renamed, so
    a reader never sees a partial file. Missing parent folders are created.

    Args:
        path: the file to write; its extension must be `.png`.
        image: an array (or a CPU tensor) of shape `(H, W)`, `(H, W, 1)` or
            `(H, W, 3)`, channels last.

    Returns:
        The path written, as a `pathlib.Path`.

    Raises:
        DataError: the extension is not `.png`, or `image` has the wrong shape
            or holds NaN or infinite values.

    Example:
    ```python
    fake = generator.predict(source[:1])[0]
    save_image("samples/epoch_010.png", fake)
    ```
    """
    path = pathlib.Path(path).expanduser()
    if path.suffix.lower() != ".png":
        raise DataError(f"`save_image` writes PNG files: {path} must end with .png.")
    try:
        array = np.asarray(image, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"`image` is not an array of numbers: {error}") from error
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)) or (
        0 in array.shape
    ):
        raise DataError(
            "`image` must have shape (H, W), (H, W, 1) or (H, W, 3), channels "
            f"last. Received shape {np.shape(image)}."
        )
    if not np.isfinite(array).all():
        raise DataError("`image` holds NaN or infinite values.")
    pixels = np.round((np.clip(array, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, format="PNG")
    return path
