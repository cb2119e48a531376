"""Sample grids: one titled row per example, titled columns, enlarged tiles, PSNR."""

import numpy as np
import pytest
from PIL import Image, ImageFont

from keras_pix2pix.metrics import psnr
from keras_pix2pix.utils import render_sample_grid, save_sample_grid
from keras_pix2pix.utils.sample_grids import sample_psnrs

# Colours the black-on-white titles never take: text pixels are gray (r = g = b).
SOURCE_RGB = np.array([0.5, -0.5, 0.2], "float32")  # drawn as (191, 64, 153)


def _constant(count, value, size=8):
    value = np.asarray(value, "float32")
    return np.broadcast_to(value, (count, size, size, value.size)).copy()


def _mask(grid, colour):
    return np.all(grid == colour, axis=-1)


def _box(mask):
    """(top, bottom, left, right) of the True pixels."""
    rows, columns = np.nonzero(mask)
    return rows.min(), rows.max() + 1, columns.min(), columns.max() + 1


def test_tiles_are_enlarged_by_repeating_pixels():
    source = _constant(2, SOURCE_RGB)
    gray = _constant(2, 0.0)
    colour = (191, 64, 153)
    for tile_size, side in ((128, 128), (20, 24), (1, 8)):  # 8 px x 16, x 3, x 1
        grid = render_sample_grid(source, gray, gray, tile_size=tile_size)
        assert grid.dtype == np.uint8 and grid.shape[-1] == 3
        assert np.count_nonzero(_mask(grid, colour)) == 2 * side * side
        top, bottom, left, right = _box(_mask(grid, colour))
        assert right - left == side and bottom - top > 2 * side  # one tile a row
    wide = np.random.default_rng(0).uniform(-1, 1, (1, 4, 8, 3)).astype("float32")
    grid = render_sample_grid(wide, gray[:1, :4], gray[:1, :4])
    expected = np.round((wide[0] + 1) * 127.5).astype("uint8").repeat(16, 0)
    expected = expected.repeat(16, 1)  # the longer side, 8, reaches 128
    top, left = np.argwhere(_mask(grid, expected[0, 0]))[0]
    np.testing.assert_array_equal(grid[top : top + 64, left : left + 128], expected)


def test_grid_grows_by_one_row_per_example():
    grids = [
        render_sample_grid(
            _constant(n, SOURCE_RGB), _constant(n, 1.0), _constant(n, 0.0)
        )
        for n in (1, 2, 3)
    ]
    heights = [grid.shape[0] for grid in grids]
    assert heights[1] - heights[0] == heights[2] - heights[1] > 128
    assert grids[0].shape[1] == grids[1].shape[1] == grids[2].shape[1]


def test_one_channel_columns_source_target_generated_difference():
    count = 2
    grid = render_sample_grid(
        _constant(count, -0.6), _constant(count, 0.6), _constant(count, 0.0)
    )
    centres = []
    # -0.6, 0.6 and 0.0 in [-1, 1]; the difference 0.6 in [0, 1] (white = 1).
    for level in (51, 204, 128, 153):
        mask = _mask(grid, (level, level, level))
        assert np.count_nonzero(mask.sum(axis=0) >= count * 128) == 128
        assert np.count_nonzero(mask.sum(axis=1) >= 128) == count * 128
        centres.append(np.nonzero(mask.sum(axis=0) >= count * 128)[0].mean())
    assert centres == sorted(centres)  # left to right in that order
    narrower = render_sample_grid(
        _constant(count, -0.6),
        _constant(count, 0.6),
        _constant(count, 0.0),
        difference=False,
    )
    assert narrower.shape[1] <= grid.shape[1] - 128
    assert not np.any(_mask(narrower, (153, 153, 153)).sum(axis=0) >= count * 128)


def test_colour_map_for_one_channel_and_rgb_kept():
    pytest.importorskip("matplotlib")
    gray = np.linspace(-1, 1, 2 * 4 * 4).reshape(2, 4, 4, 1).astype("float32")
    coloured = render_sample_grid(gray, gray, gray, colormap="viridis")
    assert np.any(coloured[..., 0] != coloured[..., 1])
    plain = render_sample_grid(gray, gray, gray)
    top = np.argmax(np.any(plain != 255, axis=-1).sum(axis=1) > 300)  # the tiles
    assert coloured.shape == plain.shape
    # The difference's title names the colour map instead of black and white.
    assert np.any(coloured[:top, -128:] != plain[:top, -128:])
    rgb = np.random.default_rng(0).uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    grid = render_sample_grid(gray, rgb, rgb, difference=False, tile_size=1)
    expected = np.round((rgb[1] + 1) * 127.5).astype("uint8")
    top, left = np.argwhere(_mask(grid, expected[0, 0]))[0]
    np.testing.assert_array_equal(grid[top : top + 4, left : left + 4], expected)


def test_every_column_and_row_has_a_title():
    count = 3
    grid = render_sample_grid(
        _constant(count, -0.6), _constant(count, 0.6), _constant(count, 0.0)
    )
    background = np.all(grid == 255, axis=-1)
    lefts = []
    for level in (51, 204, 128, 153):  # source, target, generated, difference
        mask = _mask(grid, (level, level, level))
        columns = np.nonzero(mask.sum(axis=0) >= count * 128)[0]
        rows = np.nonzero(mask.sum(axis=1) >= 128)[0]
        assert not background[: rows[0], columns[0] : columns[-1] + 1].all()
        lefts.append(columns[0])
    first_rows = rows[np.diff(rows, prepend=-2) > 1]
    assert len(first_rows) == count
    for y in first_rows:  # left of the source tiles: "sample i", its PSNR
        assert not background[y : y + 128, : lefts[0]].all()


def test_psnrs_match_the_metric_and_rank_identical_above_noisy():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (3, 8, 8, 2)).astype("float32")
    noisy = np.clip(target + rng.normal(0, 0.1, target.shape), -1, 1)
    values = sample_psnrs(target, noisy)
    np.testing.assert_allclose(values, psnr(target, noisy, data_range=2.0), rtol=1e-5)
    mse = np.mean((target - noisy) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(values, 10 * np.log10(4.0 / mse), rtol=1e-6)
    identical = sample_psnrs(target, target)
    assert np.all(identical == np.inf) and np.all(identical > values)


def test_row_titles_show_the_psnr():
    source = _constant(2, SOURCE_RGB)
    target = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 8, 8, 1))
    target = target.astype("float32")

    def labels(generated):
        grid = render_sample_grid(source, target, generated)
        _, _, first_left, _ = _box(_mask(grid, (191, 64, 153)))
        return grid[:, :first_left]

    brighter, darker = labels(target + 0.1), labels(target - 0.1)  # same PSNR
    np.testing.assert_array_equal(brighter, darker)
    assert sample_psnrs(target, target + 0.2)[0] < sample_psnrs(target, target + 0.1)[0]
    changed = labels(target + 0.2)
    assert changed.shape != brighter.shape or np.any(changed != brighter)


def test_save_writes_the_rendered_grid(tmp_path):
    source = _constant(2, SOURCE_RGB)
    target, generated = _constant(2, 0.5), _constant(2, 0.25)
    path = save_sample_grid(tmp_path / "grid.png", source, target, generated)
    expected = render_sample_grid(source, target, generated)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), expected)


def test_older_pillow_falls_back_to_the_bitmap_font(monkeypatch):
    def load_default():  # Pillow < 10.1 has no `size`: the fixed bitmap font
        return ImageFont.load_default_imagefont()

    source = _constant(2, SOURCE_RGB)
    scalable = render_sample_grid(source, _constant(2, 0.5), _constant(2, 0.25))
    monkeypatch.setattr(ImageFont, "load_default", load_default)
    grid = render_sample_grid(source, _constant(2, 0.5), _constant(2, 0.25))
    assert grid.shape != scalable.shape
    top, _, left, _ = _box(_mask(grid, (191, 64, 153)))
    assert np.count_nonzero(_mask(grid, (191, 64, 153))) == 2 * 128 * 128
    background = np.all(grid == 255, axis=-1)
    assert not background[:top].all() and not background[:, :left].all()
