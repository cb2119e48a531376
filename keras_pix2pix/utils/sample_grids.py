import pathlib

import numpy as np
from PIL import Image

from keras_pix2pix.utils.atomic_files import atomic_path


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


def render_sample_grid(source, target, generated, *, colormap=None, difference=True):
    """Arranges image pairs and generated images as one picture.

    Each column is one example; the rows are the source, the real target,
    the generated target and, with `difference=True`, the absolute
    difference between real and generated (black = equal, white = a
    difference of half the data range or more). Images are expected in
    [-1, 1], channels last; three channels are shown as RGB, one channel in
    grayscale or through a matplotlib `colormap` (e.g. `"viridis"`), and any
    other count by its first channel.

    Args:
        source: array (N, H, W, C). Source images.
        target: array (N, H, W, C'). Real target images.
        generated: array (N, H, W, C'). Generated target images.
        colormap: str or None. Matplotlib colour map for one-channel images.
        difference: bool. Whether to add the row of absolute differences.

    Returns:
        uint8 array (rows * H, N * W, 3).

    Example:
    ```python
    grid = render_sample_grid(t1, t2, model.predict(t1), colormap="magma")
    ```
    """
    table = None if colormap is None else _colour_table(colormap)
    rows = [source, target, generated]
    images = [_to_uint8(_displayed_channels(row), -1.0, 1.0) for row in rows]
    if difference:
        error = np.abs(np.asarray(target, "float32") - np.asarray(generated, "float32"))
        images.append(_to_uint8(error.mean(axis=-1, keepdims=True), 0.0, 1.0))
    rows = [np.concatenate(list(_as_rgb(row, table)), axis=1) for row in images]
    return np.concatenate(rows, axis=0)


def save_sample_grid(path, source, target, generated, **kwargs):
    """Renders a sample grid (see `render_sample_grid`) and writes it as PNG.

    The file is written atomically: a reader never sees a partial image.

    Args:
        path: str or `pathlib.Path` of the PNG file.
        source: array (N, H, W, C). Source images.
        target: array (N, H, W, C'). Real target images.
        generated: array (N, H, W, C'). Generated target images.
        **kwargs: `colormap`, `difference`, as in `render_sample_grid`.

    Returns:
        The path written, as a `pathlib.Path`.
    """
    grid = render_sample_grid(source, target, generated, **kwargs)
    with atomic_path(path) as temporary:
        Image.fromarray(grid, mode="RGB").save(temporary, format="PNG")
    return pathlib.Path(path)
