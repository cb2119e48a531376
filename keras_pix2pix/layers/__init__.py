"""Reusable Keras layers: the building blocks of the pix2pix networks."""

from keras_pix2pix.layers.downsample_block import DownsampleBlock
from keras_pix2pix.layers.intensity_lookup import IntensityLookup
from keras_pix2pix.layers.reflection_padding_2d import ReflectionPadding2D
from keras_pix2pix.layers.residual_block import ResidualBlock
from keras_pix2pix.layers.upsample_block import UpsampleBlock

__all__ = [
    "DownsampleBlock",
    "IntensityLookup",
    "ReflectionPadding2D",
    "ResidualBlock",
    "UpsampleBlock",
]
