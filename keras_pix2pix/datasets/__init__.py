"""Paired image datasets: IXI T1 / T2 / PD, paired NIfTI volumes, MNIST tasks,
paired image folders and synthetic MRI phantoms.

Only `PairedSliceDataset` needs keras; it is imported on first use, so that
the data preparation (and its worker processes) runs without keras.
"""

from keras_pix2pix.datasets.brats import list_brats_subjects, load_brats_pairs
from keras_pix2pix.datasets.ixi import (
    IXIReport,
    IXISubject,
    list_ixi_subjects,
    load_ixi_pairs,
    parse_ixi_filename,
)
from keras_pix2pix.datasets.mnist import load_mnist_digits, load_mnist_pairs
from keras_pix2pix.datasets.nifti import denormalize_intensity, normalize_intensity
from keras_pix2pix.datasets.paired_images import (
    load_aligned_images,
    load_paired_folders,
    save_image,
)
from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.paper_pairing import paper_pairs
from keras_pix2pix.datasets.phantom import (
    PhantomVolume,
    load_phantom_pairs,
    make_phantom_volume,
    write_phantom_brats,
    write_phantom_ixi,
)
from keras_pix2pix.datasets.slice_cache import (
    SliceCache,
    build_slice_cache,
    open_slice_cache,
)
from keras_pix2pix.datasets.slice_pairs import paired_volume_slices
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.subject_selection import (
    SubjectSelection,
    published_split,
    split_subjects,
)
from keras_pix2pix.datasets.volume_pairs import load_paired_volumes

__all__ = [
    "IXIReport",
    "IXISubject",
    "PairedSliceDataset",
    "PairedSlices",
    "PhantomVolume",
    "SliceCache",
    "SliceInfo",
    "SliceSpec",
    "SubjectSelection",
    "build_slice_cache",
    "denormalize_intensity",
    "list_brats_subjects",
    "list_ixi_subjects",
    "load_aligned_images",
    "load_brats_pairs",
    "load_ixi_pairs",
    "load_mnist_digits",
    "load_mnist_pairs",
    "load_paired_folders",
    "load_paired_volumes",
    "load_phantom_pairs",
    "make_phantom_volume",
    "normalize_intensity",
    "open_slice_cache",
    "paired_volume_slices",
    "paper_pairs",
    "parse_ixi_filename",
    "published_split",
    "save_image",
    "split_subjects",
    "write_phantom_brats",
    "write_phantom_ixi",
]


def __getattr__(name):
    if name == "PairedSliceDataset":
        from keras_pix2pix.datasets.slice_dataset import PairedSliceDataset

        return PairedSliceDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
