"""Small helpers shared across the package."""

from keras_pix2pix.utils.atomic_files import atomic_path
from keras_pix2pix.utils.sample_grids import render_sample_grid, save_sample_grid

__all__ = ["atomic_path", "render_sample_grid", "save_sample_grid"]
