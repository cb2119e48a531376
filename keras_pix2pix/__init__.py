"""keras-pix2pix: pix2pix image-to-image translation for Keras 3.

Trains unchanged on the TensorFlow, PyTorch and JAX backends (choose one with
the `KERAS_BACKEND` environment variable before importing keras).

Sub-packages are imported on first use, so `import keras_pix2pix` alone does
not import keras: the command-line tool can still choose the backend. Once
keras is imported its backend is fixed, so then `import keras_pix2pix` (or of
any sub-package) also registers the library's layers, models, losses, metrics
and schedules with `keras.saving`, and `keras.saving.load_model` finds them.
"""

import importlib
import sys

from keras_pix2pix.version import __version__

_SUBMODULES = (
    "baselines",
    "callbacks",
    "datasets",
    "errors",
    "evaluation",
    "layers",
    "losses",
    "metrics",
    "models",
    "schedules",
    "synthesis",
    "utils",
)

__all__ = ["Pix2Pix", "__version__", *_SUBMODULES]


def _register_serializables():
    """Imports the sub-packages whose classes a saved model's config names."""
    for name in ("layers", "losses", "metrics", "models", "schedules"):
        importlib.import_module(f"keras_pix2pix.{name}")


if "keras" in sys.modules:
    _register_serializables()


def __getattr__(name):
    if name == "Pix2Pix":
        from keras_pix2pix.models import Pix2Pix

        return Pix2Pix
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_pix2pix.{name}")
    raise AttributeError(f"module 'keras_pix2pix' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
