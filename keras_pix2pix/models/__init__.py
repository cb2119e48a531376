"""The pix2pix networks and the `Pix2Pix` training model."""

from keras_pix2pix.models.network_spec import NetworkSpec
from keras_pix2pix.models.patchgan_discriminator import PatchGANDiscriminator
from keras_pix2pix.models.pix2pix import Pix2Pix
from keras_pix2pix.models.pixel_discriminator import PixelDiscriminator
from keras_pix2pix.models.prior_residual_generator import PriorResidualGenerator
from keras_pix2pix.models.resnet_generator import ResNetGenerator
from keras_pix2pix.models.unet_generator import UNetGenerator

__all__ = [
    "NetworkSpec",
    "PatchGANDiscriminator",
    "Pix2Pix",
    "PixelDiscriminator",
    "PriorResidualGenerator",
    "ResNetGenerator",
    "UNetGenerator",
]
