"""Titled sample grids of source, target, generated and difference images."""

import math
import os
import pathlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageDraw, ImageFont

from keras_pix2pix.utils.atomic_files import atomic_path

GAP = 6  # pixels between tiles, around the titles and at the border
FONT_SIZE = 14
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


def _to_uint8(images, low, high):
    scaled = (np.asarray(images, "float32") - low) / (high - low)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype("uint8")


def _colour_table(colormap):
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            f"colormap={colormap!r} needs matplotlib: "
            "`pip install keras-pix2pix[plots]` (or `pip install matplotlib`)."
        ) from error
    table = matplotlib.colormaps[colormap](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(table * 255.0).astype("uint8")


def _displayed_channels(images):
    images = np.asarray(images)
    return images if images.shape[-1] == 3 else images[..., :1]


def _as_rgb(images, table):
    """(N, H, W, C) uint8 -> (N, H, W, 3): RGB kept, one channel mapped."""
    if images.shape[-1] == 3:
        return images
    gray = images[..., 0]
    return table[gray] if table is not None else np.repeat(gray[..., None], 3, -1)


def _font():
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except TypeError:  # Pillow < 10.1: only the fixed-size bitmap font
        return ImageFont.load_default()


def _text_size(font, text):
    """(width, height) of one line drawn at (0, 0); height counts from y = 0."""
    if hasattr(font, "getbbox"):
        _, _, right, bottom = font.getbbox(text)
        return right, bottom
    return font.getsize(text)  # Pillow < 9.2 bitmap fonts have no getbbox


def sample_psnrs(target: ArrayLike, generated: ArrayLike) -> np.ndarray:
    """PSNR in decibels of each generated image against its target.

    Images are in [-1, 1], so the data range is 2: `10 * log10(4 / MSE)`,
    the mean squared error taken over height, width and channels, as
    `keras_pix2pix.metrics.psnr(target, generated, data_range=2.0)`.
    Identical images give `inf`.

    Args:
        target: array (N, H, W, C). Real target images in [-1, 1].
        generated: array (N, H, W, C). Generated images in [-1, 1].

    Returns:
        float64 array (N,): one PSNR per image pair.

    Example:
    ```python
    sample_psnrs(t2, model.predict(t1))  # e.g. array([24.1, 23.7, 25.0])
    ```
    """
    error = np.asarray(target, "float64") - np.asarray(generated, "float64")
    mse = np.mean(np.square(error), axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(4.0 / mse)


def render_sample_grid(
    source: ArrayLike,
    target: ArrayLike,
    generated: ArrayLike,
    *,
    colormap: str | None = None,
    difference: bool = True,
    tile_size: int = 128,
    row_titles: Sequence[str] | None = None,
) -> np.ndarray:
    """Arranges image pairs and generated images as one titled picture.

    Each row is one example, titled "sample i" (or its `row_titles` entry)
    with the PSNR of its generated image (see `sample_psnrs`). The titled
    columns are the source, the real target, the generated target and, with
    `difference=True`, the absolute difference `|generated - target|`
    averaged over channels: black = equal, white = a difference of 1 (half
    the data range) or more; with a `colormap`, its lowest to its highest
    colour. That mapping is written under the column's title.

    Images are expected in [-1, 1], channels last; three channels are shown
    as RGB, one channel in grayscale or through a matplotlib `colormap`
    (e.g. `"viridis"`), and any other count by its first channel. Images
    smaller than `tile_size` are enlarged by repeating pixels (nearest
    neighbour, an integer factor), so none is smoothed.

    Args:
        source: array (N, H, W, C). Source images.
        target: array (N, H, W, C'). Real target images.
        generated: array (N, H, W, C'). Generated target images.
        colormap: str or None. Matplotlib colour map for one-channel images.
        difference: bool. Whether to add the column of absolute differences.
        tile_size: int. Images are enlarged by the smallest integer factor
            that makes their longer side at least this many pixels; 1 keeps
            them as they are.
        row_titles: one title per row instead of "sample i".

    Returns:
        uint8 array (height, width, 3): white background, black titles.

    Example:
    ```python
    grid = render_sample_grid(t1, t2, model.predict(t1), colormap="magma")
    ```
    """
    table = None if colormap is None else _colour_table(colormap)
    columns = [
        _to_uint8(_displayed_channels(x), -1.0, 1.0)
        for x in (source, target, generated)
    ]
    titles = [("source",), ("target",), ("generated",)]
    if difference:
        error = np.abs(np.asarray(target, "float32") - np.asarray(generated, "float32"))
        columns.append(_to_uint8(error.mean(axis=-1, keepdims=True), 0.0, 1.0))
        shades = "black 0, white >= 1" if table is None else f"{colormap}: 0 to >= 1"
        titles.append(("|generated - target|", shades))
    count, height, width = columns[0].shape[:3]
    scale = max(1, math.ceil(tile_size / max(height, width)))
    tiles = [
        _as_rgb(column, table).repeat(scale, 1).repeat(scale, 2) for column in columns
    ]
    tile_height, tile_width = height * scale, width * scale
    if row_titles is None:
        row_titles = [f"sample {i + 1}" for i in range(count)]
    elif len(row_titles) != count:
        raise ValueError(
            f"`row_titles` needs one title per row ({count}). Received "
            f"{len(row_titles)}."
        )
    labels = [
        (title, f"PSNR {value:.2f} dB")
        for title, value in zip(
            row_titles, sample_psnrs(target, generated), strict=True
        )
    ]

    font = _font()
    line_height = _text_size(font, "Ag|")[1] + 2
    label_width = max(_text_size(font, line)[0] for label in labels for line in label)
    column_widths = [
        max(tile_width, *(_text_size(font, line)[0] for line in title))
        for title in titles
    ]
    top = 2 * GAP + max(map(len, titles)) * line_height
    label_height = len(labels[0]) * line_height
    row_height = max(tile_height, label_height)
    row_step = row_height + GAP
    canvas = Image.new(
        "RGB",
        (
            2 * GAP + label_width + sum(w + GAP for w in column_widths),
            top + count * row_step,
        ),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        y = top + i * row_step + (row_height - label_height) // 2
        for j, line in enumerate(label):
            draw.text((GAP, y + j * line_height), line, fill=INK, font=font)
    left = 2 * GAP + label_width
    for column_width, title, column in zip(column_widths, titles, tiles, strict=True):
        y = top - GAP - len(title) * line_height  # titles end just above the tiles
        for j, line in enumerate(title):
            x = left + (column_width - _text_size(font, line)[0]) // 2
            draw.text((x, y + j * line_height), line, fill=INK, font=font)
        x = left + (column_width - tile_width) // 2
        y = top + (row_height - tile_height) // 2
        for i, tile in enumerate(column):
            canvas.paste(Image.fromarray(tile), (x, y + i * row_step))
        left += column_width + GAP
    return np.asarray(canvas)


def save_sample_grid(
    path: str | os.PathLike,
    source: ArrayLike,
    target: ArrayLike,
    generated: ArrayLike,
    **kwargs,
) -> pathlib.Path:
    """Renders a sample grid (see `render_sample_grid`) and writes it as PNG.

    The file is written atomically: a reader never sees a partial image.

    Args:
        path: str or `pathlib.Path` of the PNG file.
        source: array (N, H, W, C). Source images.
        target: array (N, H, W, C'). Real target images.
        generated: array (N, H, W, C'). Generated target images.
        **kwargs: `colormap`, `difference`, `tile_size`, `row_titles`, as in
            `render_sample_grid`.

    Returns:
        The path written, as a `pathlib.Path`.

    Example:
    ```python
    save_sample_grid("samples.png", t1[:4], t2[:4], model.predict(t1[:4]))
    ```
    """
    grid = render_sample_grid(source, target, generated, **kwargs)
    with atomic_path(path) as temporary:
        Image.fromarray(grid, mode="RGB").save(temporary, format="PNG")
    return pathlib.Path(path)
