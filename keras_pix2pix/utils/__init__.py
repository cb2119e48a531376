"""Small helpers shared across the package."""

from keras_pix2pix.utils.atomic_files import atomic_path
from keras_pix2pix.utils.sample_grids import (
    render_sample_grid,
    sample_psnrs,
    save_sample_grid,
)
from keras_pix2pix.utils.sample_weights import check_sample_weight

__all__ = [
    "atomic_path",
    "check_sample_weight",
    "render_sample_grid",
    "sample_psnrs",
    "save_sample_grid",
]
