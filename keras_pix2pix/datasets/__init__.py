"""Paired image datasets: IXI T1 -> T2, paired NIfTI volumes, MNIST tasks,
paired image folders and synthetic MRI phantoms."""

from keras_pix2pix.datasets.ixi import (
    IXIReport,
    IXISubject,
    list_ixi_subjects,
    load_ixi_pairs,
    paper_pairs,
    parse_ixi_filename,
    split_subjects,
)
from keras_pix2pix.datasets.mnist import load_mnist_digits, load_mnist_pairs
from keras_pix2pix.datasets.nifti import (
    denormalize_intensity,
    normalize_intensity,
    paired_volume_slices,
)
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
    "IXIReport",
    "IXISubject",
    "PhantomVolume",
    "denormalize_intensity",
    "list_ixi_subjects",
    "load_aligned_images",
    "load_ixi_pairs",
    "load_mnist_digits",
    "load_mnist_pairs",
    "load_paired_folders",
    "load_phantom_pairs",
    "make_phantom_volume",
    "normalize_intensity",
    "paired_volume_slices",
    "paper_pairs",
    "parse_ixi_filename",
    "save_image",
    "split_subjects",
    "write_phantom_ixi",
]
