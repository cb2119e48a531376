"""Small helpers shared across the package.

`check_sample_weight` needs keras and is imported on first use, so that the
data preparation can use `atomic_path` without keras.
"""

from keras_pix2pix.utils.atomic_files import atomic_path
from keras_pix2pix.utils.sample_grids import (
    render_sample_grid,
    sample_psnrs,
    save_sample_grid,
)

__all__ = [
    "atomic_path",
    "check_sample_weight",
    "render_sample_grid",
    "sample_psnrs",
    "save_sample_grid",
]


def __getattr__(name):
    if name == "check_sample_weight":
        from keras_pix2pix.utils.sample_weights import check_sample_weight

        return check_sample_weight
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
