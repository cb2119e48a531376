"""Building, compiling and loading the models the commands use."""

import pathlib

from keras_pix2pix.cli._options import PROG, UsageError


def network_spec(args):
    """The `NetworkSpec` of the model options."""
    from keras_pix2pix.models import NetworkSpec

    return NetworkSpec(
        generator=args.generator,
        discriminator=args.discriminator,
        filters=args.filters,
        norm=None if args.norm == "none" else args.norm,
        depth=args.depth,
        residual_blocks=args.residual_blocks,
        discriminator_layers=args.discriminator_layers,
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
