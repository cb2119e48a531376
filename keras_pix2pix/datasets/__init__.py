"""Paired image datasets: synthetic MRI phantoms (more to come: IXI, MNIST)."""

from keras_pix2pix.datasets.phantom import (
    PhantomVolume,
    load_phantom_pairs,
    make_phantom_volume,
    write_phantom_ixi,
)

__all__ = [
    "PhantomVolume",
    "load_phantom_pairs",
    "make_phantom_volume",
    "write_phantom_ixi",
]
