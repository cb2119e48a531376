"""keras-pix2pix: pix2pix image-to-image translation for Keras 3.

Trains unchanged on the TensorFlow, PyTorch and JAX backends (choose one with
the `KERAS_BACKEND` environment variable before importing keras).
"""

from keras_pix2pix import (
    callbacks,
    datasets,
    errors,
    layers,
    losses,
    metrics,
    models,
    schedules,
    utils,
)
from keras_pix2pix.models import Pix2Pix
from keras_pix2pix.version import __version__

__all__ = [
    "Pix2Pix",
    "__version__",
    "callbacks",
    "datasets",
    "errors",
    "layers",
    "losses",
    "metrics",
    "models",
    "schedules",
    "utils",
]
