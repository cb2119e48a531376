"""Paired image datasets: MNIST tasks, image folders, synthetic MRI phantoms."""

from keras_pix2pix.datasets.mnist import load_mnist_digits, load_mnist_pairs
from keras_pix2pix.datasets.paired_images import (
    load_aligned_images,
    load_paired_folders,
    save_image,
)
from keras_pix2pix.datasets.phantom import (
    PhantomVolume,
    load_phantom_pairs,
    make_phantom_volume,
    write_phantom_ixi,
)

__all__ = [
    "PhantomVolume",
    "load_aligned_images",
    "load_mnist_digits",
    "load_mnist_pairs",
    "load_paired_folders",
    "load_phantom_pairs",
    "make_phantom_volume",
    "save_image",
    "write_phantom_ixi",
]
