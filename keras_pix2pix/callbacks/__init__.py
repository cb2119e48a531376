"""Callbacks for training Pix2Pix: sample grids, atomic checkpoints, NaN stop."""

from keras_pix2pix.callbacks.checkpoint_callback import (
    CheckpointCallback,
    latest_checkpoint,
)
from keras_pix2pix.callbacks.sample_grid_callback import SampleGridCallback
from keras_pix2pix.callbacks.terminate_on_non_finite import (
    TerminateOnNonFinite,
    non_finite_losses,
)

__all__ = [
    "CheckpointCallback",
    "SampleGridCallback",
    "TerminateOnNonFinite",
    "latest_checkpoint",
    "non_finite_losses",
]
