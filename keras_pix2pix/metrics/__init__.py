"""Image quality metrics: PSNR, SSIM and MAE, per image and as Keras metrics."""

from keras_pix2pix.metrics.image_quality import mae, psnr, ssim
from keras_pix2pix.metrics.image_quality_metrics import MAE, PSNR, SSIM

__all__ = ["MAE", "PSNR", "SSIM", "mae", "psnr", "ssim"]
