"""Adversarial (GAN) and reconstruction losses of pix2pix."""

from keras_pix2pix.losses.adversarial_losses import (
    AdversarialLoss,
    HingeGANLoss,
    LeastSquaresGANLoss,
    VanillaGANLoss,
    get_adversarial_loss,
)
from keras_pix2pix.losses.reconstruction_losses import get_reconstruction_loss

__all__ = [
    "AdversarialLoss",
    "HingeGANLoss",
    "LeastSquaresGANLoss",
    "VanillaGANLoss",
    "get_adversarial_loss",
    "get_reconstruction_loss",
]
