"""`NetworkSpec`: which generator and discriminator a `Pix2Pix` is built of."""

import dataclasses

from keras_pix2pix.errors import DataError
from keras_pix2pix.layers._conventions import NORMS, channel_axis

GENERATORS = ("unet", "resnet")
DISCRIMINATORS = ("patchgan", "pixel")


def default_depth(image_size: int) -> int:
    """The most U-Net down-sampling blocks `image_size` allows, at most 8."""
    depth = 0
    while depth < 8 and image_size % 2 ** (depth + 1) == 0:
        depth += 1
    return depth


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """The networks of a `Pix2Pix`: one frozen, validated description.

    `build` makes the model for an image shape, so the command line, the
    benchmarks and a user's script build the same networks from the same
    few choices. The defaults are the reference pix2pix (`unet_256` with a
    70x70 PatchGAN, batch normalization, 64 base filters).

    Args:
        generator: `"unet"` (`UNetGenerator`) or `"resnet"`
            (`ResNetGenerator`).
        discriminator: `"patchgan"` (`PatchGANDiscriminator`) or `"pixel"`
            (`PixelDiscriminator`).
        filters: filters of the first layer of each network.
        norm: `"batch"`, `"instance"` or `None`, in both networks.
        depth: U-Net down-sampling blocks, or `None` for as many as the
            image size allows (at most 8: `unet_256` at 256 x 256).
        residual_blocks: ResNet residual blocks (9: `resnet_9blocks`).
        discriminator_layers: PatchGAN stride-2 layers (3: 70x70).

    Example:
    ```python
    spec = NetworkSpec(filters=32, depth=6)
    model = spec.build((128, 128, 1), output_channels=1)
    ```
    """

    generator: str = "unet"
    discriminator: str = "patchgan"
    filters: int = 64
    norm: str | None = "batch"
    depth: int | None = None
    residual_blocks: int = 9
    discriminator_layers: int = 3

    def __post_init__(self):
        for name, choices in (
            ("generator", GENERATORS),
            ("discriminator", DISCRIMINATORS),
            ("norm", NORMS),
        ):
            if getattr(self, name) not in choices:
                raise DataError(
                    f"`{name}` must be one of {choices}. "
                    f"Received: {getattr(self, name)!r}"
                )
        for name in ("filters", "residual_blocks", "discriminator_layers", "depth"):
            value = getattr(self, name)
            if value is None and name == "depth":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"`{name}` must be an int >= 1. Received: {value!r}")

    def unet_depth(self, image_size: int) -> int:
        """The U-Net's down-sampling blocks for square images of `image_size`."""
        return self.depth if self.depth is not None else default_depth(image_size)

    def check(self, image_size: int) -> None:
        """Raises `DataError` unless the networks fit `image_size` images."""
        if self.generator == "unet":
            depth = self.unet_depth(image_size)
            if depth < 2:
                raise DataError(
                    f"Images of {image_size} pixels allow a U-Net of depth "
                    f"{depth} only; use a size divisible by 4 or more (e.g. 64, "
                    "128, 256)."
                )
            if image_size % 2**depth:
                raise DataError(
                    f"The image size {image_size} is not divisible by 2**depth "
                    f"= {2**depth} (depth {depth}): each of the U-Net's {depth} "
                    f"down-sampling blocks halves the image. Use depth "
                    f"{default_depth(image_size)} or a size that is a multiple "
                    f"of {2**depth}."
                )
        elif image_size % 4:
            raise DataError(
                f"The image size {image_size} is not divisible by 4, as the "
                "ResNet generator's two stride-2 convolutions need."
            )
        layers = self.discriminator_layers
        # Each stride-2 layer halves the image, the two stride-1 ones take one
        # pixel off each: at least one logit is left from 3 * 2**layers pixels.
        if self.discriminator == "patchgan" and image_size // 2**layers < 3:
            raise DataError(
                f"The image size {image_size} is too small for a PatchGAN with "
                f"{layers} layers (it needs {3 * 2**layers} pixels or more); "
                "use fewer layers."
            )

    def build_generator(self, input_shape, output_channels=None, prior=None):
        """The generator for `input_shape` (Keras's layout) images.

        Args:
            input_shape: the shape of one source image.
            output_channels: the target's channels; `None` for the input's.
            prior: an intensity lookup layer (`HistogramMapping.as_layer`);
                the network then learns a correction to it
                (`PriorResidualGenerator`).

        Returns:
            A `keras.Model` generator named `"generator"`.
        """
        from keras_pix2pix.models.prior_residual_generator import (
            PriorResidualGenerator,
        )
        from keras_pix2pix.models.resnet_generator import ResNetGenerator
        from keras_pix2pix.models.unet_generator import UNetGenerator

        network_shape = list(input_shape)
        if prior is not None:  # the network sees the guess as one more channel
            network_shape[channel_axis()] += 1
        options = {
            "input_shape": tuple(network_shape),
            "output_channels": output_channels,
            "filters": self.filters,
            "norm": self.norm,
            "name": "generator" if prior is None else "network",
        }
        if self.generator == "unet":
            size = int(input_shape[0 if channel_axis() == -1 else 1])
            network = UNetGenerator(
                num_downsampling_blocks=self.unet_depth(size), **options
            )
        else:
            network = ResNetGenerator(
                num_residual_blocks=self.residual_blocks, **options
            )
        if prior is None:
            return network
        return PriorResidualGenerator(network, prior, name="generator")

    def build_discriminator(self, input_shape, target_channels):
        """The discriminator of (source, target) pairs; source `input_shape`."""
        from keras_pix2pix.models.patchgan_discriminator import (
            PatchGANDiscriminator,
        )
        from keras_pix2pix.models.pixel_discriminator import PixelDiscriminator

        options = {
            "input_shape": tuple(input_shape),
            "target_channels": target_channels,
            "filters": self.filters,
            "norm": self.norm,
            "name": "discriminator",
        }
        if self.discriminator == "patchgan":
            return PatchGANDiscriminator(
                num_layers=self.discriminator_layers, **options
            )
        return PixelDiscriminator(**options)

    def build(self, input_shape, output_channels=None, *, prior=None, **kwargs):
        """The `Pix2Pix` of these networks, for `input_shape` source images.

        Args:
            input_shape: the shape of one source image, in Keras's layout.
            output_channels: the target's channels; `None` for the input's.
            prior: see `build_generator`.
            **kwargs: passed to `Pix2Pix` (`inference_mode`, `slice_spec`,
                `target_normalization`, `contrasts`, `name`).

        Returns:
            An uncompiled `Pix2Pix`.

        Raises:
            DataError: if the networks do not fit the image size.
        """
        from keras_pix2pix.models.pix2pix import Pix2Pix

        height, width = input_shape[:2] if channel_axis() == -1 else input_shape[1:3]
        for size in {int(height), int(width)}:
            self.check(size)
        if output_channels is None:
            output_channels = int(input_shape[channel_axis()])
        generator = self.build_generator(input_shape, output_channels, prior)
        discriminator = self.build_discriminator(input_shape, output_channels)
        return Pix2Pix(generator, discriminator, **kwargs)
