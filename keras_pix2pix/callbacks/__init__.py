"""Callbacks for training Pix2Pix: sample grids and atomic checkpoints."""

from keras_pix2pix.callbacks.checkpoint_callback import (
    CheckpointCallback,
    latest_checkpoint,
)
from keras_pix2pix.callbacks.sample_grid_callback import SampleGridCallback

__all__ = ["CheckpointCallback", "SampleGridCallback", "latest_checkpoint"]
