"""Building, compiling and loading the models the commands use."""

import pathlib

from keras_pix2pix.cli._data import is_last
from keras_pix2pix.cli._options import PROG, UsageError


def default_depth(image_size):
    """The most U-Net down-sampling blocks `image_size` allows, at most 8."""
    depth = 0
    while depth < 8 and image_size % 2 ** (depth + 1) == 0:
        depth += 1
    return depth


def check_architecture(args, image_size):
    """Checks the model arguments against the image size.

    Returns:
        The U-Net depth to build (`--depth`, else the default for the size);
        `--depth` as given for a ResNet generator.

    Raises:
        UsageError: if the networks do not fit images of `image_size`.
    """
    depth = args.depth
    if args.generator == "unet":
        depth = depth if depth is not None else default_depth(image_size)
        if depth < 2:
            raise UsageError(
                f"--image-size {image_size} allows a U-Net of depth {depth} only; "
                "use a size divisible by 4 or more (e.g. 64, 128, 256)."
            )
        if image_size % 2**depth:
            raise UsageError(
                f"--image-size {image_size} is not divisible by 2**depth = "
                f"{2**depth} (--depth {depth}): each of the U-Net's {depth} "
                "down-sampling blocks halves the image. Use --depth "
                f"{default_depth(image_size)} or an --image-size that is a "
                f"multiple of {2**depth}."
            )
    elif image_size % 4:
        raise UsageError(
            f"--image-size {image_size} is not divisible by 4, as the ResNet "
            "generator's two stride-2 convolutions need."
        )
    if args.discriminator == "patchgan" and image_size < 2**args.discriminator_layers:
        raise UsageError(
            f"--image-size {image_size} is too small for a PatchGAN with "
            f"--discriminator-layers {args.discriminator_layers}; use fewer layers."
        )
    return depth


def histogram_prior(source, target):
    """The `IntensityLookup` of a mapping from the source's middle channel."""
    from keras_pix2pix.baselines import HistogramMapping

    if target.shape[-1] != 1:
        raise UsageError(
            f"--prior histogram needs a one-channel target; the targets have "
            f"{target.shape[-1]} channels."
        )
    middle = source.shape[-1] // 2
    mapping = HistogramMapping().fit(source[..., middle : middle + 1], target)
    return mapping.as_layer(channel=middle, name="histogram_prior")


def build_model(args, input_shape, output_channels, depth, prior=None):
    """The Pix2Pix model of the arguments; with `prior`, a residual generator.

    Args:
        args: the parsed `train` arguments.
        input_shape: the shape of one source image, in Keras's layout.
        output_channels: the channels of the targets.
        depth: the U-Net's down-sampling blocks (see `check_architecture`).
        prior: an intensity lookup the generator corrects, or None.
    """
    from keras_pix2pix import Pix2Pix

    common = {
        "filters": args.filters,
        "norm": None if args.norm == "none" else args.norm,
    }
    generator = _generator(args, input_shape, output_channels, depth, prior, common)
    discriminator = _discriminator(args, input_shape, output_channels, common)
    return Pix2Pix(generator, discriminator)


def _generator(args, input_shape, output_channels, depth, prior, common):
    from keras_pix2pix.models import (
        PriorResidualGenerator,
        ResNetGenerator,
        UNetGenerator,
    )

    network_shape = list(input_shape)
    if prior is not None:  # the network sees the guess as one more channel
        network_shape[-1 if is_last() else 0] += 1
    if args.generator == "unet":
        generator_class = UNetGenerator
        options = {"num_downsampling_blocks": depth}
    else:
        generator_class = ResNetGenerator
        options = {"num_residual_blocks": args.residual_blocks}
    generator = generator_class(
        input_shape=tuple(network_shape),
        output_channels=output_channels,
        name="generator" if prior is None else "network",
        **common,
        **options,
    )
    if prior is not None:
        generator = PriorResidualGenerator(generator, prior, name="generator")
    return generator


def _discriminator(args, input_shape, output_channels, common):
    from keras_pix2pix.models import PatchGANDiscriminator, PixelDiscriminator

    if args.discriminator == "patchgan":
        discriminator_class = PatchGANDiscriminator
        options = {"num_layers": args.discriminator_layers}
    else:
        discriminator_class = PixelDiscriminator
        options = {}
    return discriminator_class(
        input_shape=input_shape,
        target_channels=output_channels,
        name="discriminator",
        **common,
        **options,
    )


def optimizers(args, steps_per_epoch):
    """The generator's and the discriminator's Adam optimizers."""
    import keras

    from keras_pix2pix.schedules import LinearDecay

    def learning_rate():
        if not args.decay_epochs:
            return args.lr
        return LinearDecay(
            args.lr,
            args.epochs - args.decay_epochs,
            args.decay_epochs,
            steps_per_epoch=steps_per_epoch,
        )

    return [
        keras.optimizers.Adam(learning_rate(), beta_1=args.beta1, beta_2=0.999)
        for _ in range(2)
    ]


def load_model(path):
    """The model saved at `--model` `path`.

    Raises:
        DatasetNotFoundError: if the file does not exist.
        UsageError: if it is not a `.keras` file or cannot be loaded.
    """
    import keras

    from keras_pix2pix.errors import DatasetNotFoundError

    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(
            f"--model {path} does not exist. Pass the model.keras written by "
            f"`{PROG} train`."
        )
    if path.suffix != ".keras":
        raise UsageError(f"--model {path} must be a .keras file.")
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise UsageError(f"Cannot load the model {path}: {error}") from error
