"""Checks of phantom tissue intensities shared by the data tests."""

import numpy as np
from scipy import ndimage

from keras_pix2pix.datasets.phantom import CSF, GREY_MATTER, WHITE_MATTER

# CSF, grey and white matter: the tissues whose intensity order each contrast's
# signal equation predicts.
TISSUES = (CSF, GREY_MATTER, WHITE_MATTER)


def tissue_means(image, labels, tissues=TISSUES):
    """Mean of `image` over the core (eroded in-plane) pixels of each tissue.

    Args:
        image: slices `(N, H, W)`.
        labels: the tissue labels of the same pixels, `(N, H, W)`.
        tissues: the labels to average over.

    Returns:
        One mean per tissue, as an array.
    """
    means = []
    for tissue in tissues:
        core = np.stack([ndimage.binary_erosion(s == tissue) for s in labels])
        means.append(float(image[core].mean()))
    return np.array(means)
