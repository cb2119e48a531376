"""keras-pix2pix: pix2pix image-to-image translation for Keras 3.

Trains unchanged on the TensorFlow, PyTorch and JAX backends (choose one with
the `KERAS_BACKEND` environment variable before importing keras).

`import keras_pix2pix` alone does not import keras, so that the command line
(`keras-pix2pix --backend torch ...`) can still choose the backend; its
sub-packages are imported on first use. A `.keras` file names the library's
classes, which `keras.saving.load_model` finds only once they are registered,
so the package registers them as soon as keras is loaded, whatever was
imported first: at once if keras is already imported, otherwise right after
keras's own import finishes (see `_registration.py`).
"""

import importlib

from keras_pix2pix._registration import register_when_keras_is_imported
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

register_when_keras_is_imported()


def __getattr__(name):
    if name == "Pix2Pix":
        from keras_pix2pix.models import Pix2Pix

        return Pix2Pix
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_pix2pix.{name}")
    raise AttributeError(f"module 'keras_pix2pix' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
