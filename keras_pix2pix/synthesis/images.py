"""Synthesis of 2-D images: every image of a folder through a trained model.

`synthesize_images` reads the images as the paired-image loaders do (8-bit,
scaled to [-1, 1]), fits them to the model's input size, translates them and
writes the results as PNG files.

Example:
```python
from keras_pix2pix.synthesis import synthesize_images

paths = synthesize_images(model, "test/t1_png", "test/synthetic_t2_png")
```
"""

import os
import pathlib

import numpy as np
from PIL import Image

from keras_pix2pix.datasets.paired_images import (
    IMAGE_EXTENSIONS,
    _load_image,
    save_image,
)
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError
from keras_pix2pix.synthesis.prediction import (
    _check_batch_size,
    _model_image_shape,
    _predict,
)


def _read_image(path, channels):
    """Reads an 8-bit image as float32 (H, W, channels) in [-1, 1]."""
    image = _load_image(path)
    try:
        converted = image.convert("L" if channels == 1 else "RGB")
    except (OSError, ValueError) as error:
        raise ImageFileError(f"Cannot read the image {path}: {error}") from error
    array = np.asarray(converted, np.float32).reshape(
        converted.height, converted.width, -1
    )
    return array / np.float32(127.5) - np.float32(1.0)


def _resize(image, size):
    """Resizes a float (H, W, C) image in [-1, 1] bicubically to (height, width)."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    channels = [
        np.asarray(
            Image.fromarray(image[..., c]).resize(
                (width, height), Image.Resampling.BICUBIC
            ),
            np.float32,
        )
        for c in range(image.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), -1.0, 1.0)


def _list_images(input_dir, extensions):
    """The image files of `input_dir`, in name order, their stems unique."""
    folder = pathlib.Path(input_dir).expanduser()
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Input folder {folder} does not exist.")
    suffixes = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )
    if not files:
        raise DatasetNotFoundError(
            f"No images in {folder}: no file ends with one of {sorted(suffixes)}."
        )
    stems = [p.stem for p in files]
    if len(set(stems)) != len(stems):
        raise DataError(
            f"Two images of {folder} share a name without extension; their "
            "outputs would overwrite each other."
        )
    return files


def synthesize_images(
    model,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    batch_size: int = 16,
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    keep_size: bool = True,
) -> list[pathlib.Path]:
    """Translates every 2-D image of a folder and writes the results as PNG.

    Images are read like the paired-image loaders read them (8-bit, scaled to
    [-1, 1]), converted to the model's channel count, resized bicubically to
    the model's input size when they differ, translated, and (with
    `keep_size`) resized back to their own size. Each result is written
    atomically as `output_dir/{name}.png` by `save_image`.

    Args:
        model: a `Pix2Pix` model or any Keras model taking and returning
            images in [-1, 1].
        input_dir: folder of source images (sub-folders and hidden files are
            ignored).
        output_dir: folder of the results, created if needed.
        batch_size: images per prediction batch.
        extensions: file extensions of the images to read.
        keep_size: resize each result back to its input's size; `False`
            keeps the model's output size.

    Returns:
        The paths written, in name order.

    Raises:
        DatasetNotFoundError: if `input_dir` does not exist or holds no image.
        ImageFileError: if an image cannot be read.
        DataError: if two inputs would write the same output name, or an
            argument is invalid.

    Example:
    ```python
    paths = synthesize_images(model, "test/t1_png", "test/synthetic_t2_png")
    ```
    """
    _check_batch_size(batch_size)
    files = _list_images(input_dir, extensions)
    height, width, channels = _model_image_shape(model)
    if channels not in (1, 3):
        raise DataError(f"The model takes {channels}-channel images; expected 1 or 3.")
    output_dir = pathlib.Path(output_dir).expanduser()
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        images = [_read_image(path, channels) for path in chunk]
        sizes = [image.shape[:2] for image in images]
        target_size = (height or sizes[0][0], width or sizes[0][1])
        batch = np.stack([_resize(image, target_size) for image in images])
        outputs = _predict(model, batch, batch_size)
        for path, size, output in zip(chunk, sizes, outputs, strict=True):
            result = _resize(output, size) if keep_size else output
            written.append(save_image(output_dir / f"{path.stem}.png", result))
    return written
