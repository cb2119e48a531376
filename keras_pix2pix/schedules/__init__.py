"""Learning-rate schedules."""

from keras_pix2pix.schedules.linear_decay import LinearDecay

__all__ = ["LinearDecay"]
