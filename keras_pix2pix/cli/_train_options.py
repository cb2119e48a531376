"""The `train` command's model, training and output options."""

import argparse

from keras_pix2pix.cli._options import (
    NON_NEGATIVE_FLOAT,
    NON_NEGATIVE_INT,
    POSITIVE_FLOAT,
    POSITIVE_INT,
)


def add_model_options(model):
    """Adds the networks' options to the argument group `model`."""
    model.add_argument(
        "--generator", choices=("unet", "resnet"), default="unet", help="generator"
    )
    model.add_argument(
        "--filters",
        type=POSITIVE_INT,
        default=64,
        help="filters of the first layer of both networks",
    )
    model.add_argument(
        "--depth",
        type=POSITIVE_INT,
        default=None,
        help="unet: down-sampling blocks (--image-size must be divisible by "
        "2**depth); default: as many as the size allows, at most 8 (unet_256)",
    )
    model.add_argument(
        "--residual-blocks",
        type=POSITIVE_INT,
        default=9,
        help="resnet: residual blocks (9: resnet_9blocks, 6: resnet_6blocks)",
    )
    model.add_argument(
        "--discriminator",
        choices=("patchgan", "pixel"),
        default="patchgan",
        help="discriminator",
    )
    model.add_argument(
        "--discriminator-layers",
        type=POSITIVE_INT,
        default=3,
        help="patchgan: stride-2 layers (3: the 70x70 PatchGAN)",
    )
    model.add_argument(
        "--norm",
        choices=("batch", "instance", "none"),
        default="batch",
        help="normalization layers of both networks",
    )
    model.add_argument(
        "--inference-mode",
        choices=("per_image", "eval", "train"),
        default="per_image",
        help="how the saved model predicts: per_image = BatchNorm on each "
        "image's own statistics, no dropout (deterministic; the best measured); "
        "eval = BatchNorm's moving averages; train = dropout on, as the paper",
    )
    model.add_argument(
        "--prior",
        choices=("none", "histogram"),
        default="none",
        help="histogram: the generator learns a correction to a per-intensity "
        "mapping of the source's middle channel to the target, fitted on the "
        "training pairs and saved in the model (PriorResidualGenerator); needs "
        "a one-channel target",
    )


def add_training_options(training):
    """Adds the losses', optimizer's and schedule's options to `training`."""
    training.add_argument(
        "--gan-loss",
        choices=("vanilla", "least_squares", "hinge"),
        default="vanilla",
        help="adversarial loss",
    )
    training.add_argument(
        "--reconstruction",
        choices=("l1", "l2"),
        default="l1",
        help="reconstruction loss (l1: the reference; l2: the paper's variant)",
    )
    training.add_argument(
        "--reconstruction-weight",
        type=NON_NEGATIVE_FLOAT,
        default=100.0,
        help="weight of the reconstruction loss (lambda_L1)",
    )
    training.add_argument(
        "--lr", type=POSITIVE_FLOAT, default=2e-4, help="Adam learning rate"
    )
    training.add_argument(
        "--beta1", type=float, default=0.5, help="Adam beta_1, in [0, 1)"
    )
    training.add_argument(
        "--epochs", type=POSITIVE_INT, default=10, help="total epochs"
    )
    training.add_argument(
        "--steps-per-epoch",
        "--steps",
        dest="steps_per_epoch",
        type=POSITIVE_INT,
        default=None,
        help="batches per epoch (default: one pass over the data); batches "
        "are drawn from a reshuffled pass, cycling if needed",
    )
    training.add_argument(
        "--batch-size", type=POSITIVE_INT, default=1, help="images per batch"
    )
    training.add_argument(
        "--decay-epochs",
        type=NON_NEGATIVE_INT,
        default=0,
        help="last epochs over which the learning rate decays linearly to 0 "
        "(LinearDecay); 0 keeps it constant",
    )
    training.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the reference pix2pix jitter of each pair: enlarge by 286/256, "
        "crop back at a random place, flip left-right (PairedSliceDataset)",
    )
    training.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --augment, the random left-right flip (turn it off where "
        "orientation matters)",
    )
    training.add_argument(
        "--seed", type=int, default=0, help="seed of weights, shuffling and data"
    )


def add_output_options(output):
    """Adds the run folder's and logging options to the group `output`."""
    output.add_argument(
        "--output", required=True, metavar="DIR", help="folder of the run's files"
    )
    output.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in DIR/checkpoints, up to "
        "--epochs in total",
    )
    output.add_argument(
        "--sample-every",
        type=POSITIVE_INT,
        default=1,
        help="write a sample grid every N epochs",
    )
    output.add_argument(
        "--checkpoint-every",
        type=POSITIVE_INT,
        default=1,
        help="write a checkpoint every N epochs",
    )
    output.add_argument(
        "--keep-checkpoints",
        type=POSITIVE_INT,
        default=3,
        help="number of recent checkpoints to keep",
    )
    output.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch",
    )
