"""The per-backend gradient step of `Pix2Pix`, chosen when it is imported.

As in Keras's own `keras/src/backend/*/trainer.py`, everything that differs
between backends (how gradients are taken and where state lives) is in one
module per backend, and everything else (losses, logs, serialization) is
written once in `keras_pix2pix.models.Pix2Pix`.
"""

import keras

_BACKEND = keras.backend.backend()
if _BACKEND == "tensorflow":
    from keras_pix2pix.trainers.tensorflow_trainer import (
        TensorFlowPix2PixTrainer as Pix2PixTrainer,
    )
elif _BACKEND == "torch":
    from keras_pix2pix.trainers.torch_trainer import (
        TorchPix2PixTrainer as Pix2PixTrainer,
    )
elif _BACKEND == "jax":
    from keras_pix2pix.trainers.jax_trainer import JAXPix2PixTrainer as Pix2PixTrainer
else:
    raise ImportError(
        f"keras_pix2pix supports the tensorflow, torch and jax backends; Keras is "
        f"set to {_BACKEND!r}. Set KERAS_BACKEND before importing keras."
    )

__all__ = ["Pix2PixTrainer"]
