"""What the commands share: constants, `UsageError`, argument types, data options."""

import argparse
import math

PROG = "keras-pix2pix"
BACKENDS = ("tensorflow", "jax", "torch")
DATASETS = ("phantom", "mnist", "ixi", "brats", "folder")
VOLUME_DATASETS = ("ixi", "brats")
MNIST_TASKS = ("edges", "inpainting", "denoising", "label_map")
PLANES = ("axial", "coronal", "sagittal")
BIAS_CORRECTIONS = ("source", "target", "both")
# The contrasts of `keras_pix2pix.datasets.ixi.CONTRASTS` and of
# `keras_pix2pix.datasets.brats.BRATS_SUFFIXES`, without importing the library.
CONTRASTS = {"ixi": ("T1", "T2", "PD"), "brats": ("t1", "t1ce", "t2", "flair")}
DEFAULT_CONTRASTS = {"ixi": (["T1"], "T2"), "brats": (["t1"], "t2")}
PROTOCOLS = ("full", "brain_mask", "per_image_max")
SPLITS = ("train", "val", "test")
# Phantom "splits" are disjoint random heads: the seed is offset per split.
PHANTOM_SEED_OFFSETS = {"train": 0, "val": 1_000_003, "test": 2_000_003}
DEFAULT_IMAGE_SIZE = {"phantom": 64, "mnist": 32, "ixi": 256, "brats": 256}
SAMPLE_IMAGES = 4


class HelpFormatter(
    argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter
):
    """Shows defaults and keeps the epilog's line breaks."""


class UsageError(Exception):
    """An argument is wrong; the message says what to do instead."""


def number(kind=int, minimum=0, *, exclusive=False):
    """An argparse `type` accepting numbers of `kind` from `minimum` on.

    Args:
        kind: `int` or `float`; floats must also be finite.
        minimum: the smallest value allowed.
        exclusive: whether `minimum` itself is refused.

    Returns:
        A function from the argument's text to its value, raising
        `argparse.ArgumentTypeError` with a message saying what was expected.

    Example:
    ```python
    parser.add_argument("--epochs", type=number(int, minimum=1))
    parser.add_argument("--lr", type=number(float, minimum=0, exclusive=True))
    ```
    """
    name = "an integer" if kind is int else "a number"
    if exclusive:
        bound = "a positive number" if minimum == 0 else f"more than {minimum}"
    else:
        bound = "0 or more" if minimum == 0 else f"at least {minimum}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
        allowed = value > minimum if exclusive else value >= minimum
        if not allowed or not math.isfinite(value):
            shown = value if kind is int else text
            raise argparse.ArgumentTypeError(f"must be {bound}, got {shown}")
        return value

    parse.__name__ = kind.__name__
    return parse


POSITIVE_INT = number(int, minimum=1)
NON_NEGATIVE_INT = number(int, minimum=0)
POSITIVE_FLOAT = number(float, minimum=0, exclusive=True)
NON_NEGATIVE_FLOAT = number(float, minimum=0)


def add_dataset_options(parser, *, evaluate=False):
    """Adds the "data" group: which pairs to load, for `train` or `evaluate`."""
    group = parser.add_argument_group(
        "data",
        "Where the (source, target) pairs come from. Images are scaled to [-1, 1].",
    )
    _add_common_options(group, evaluate)
    _add_phantom_and_mnist_options(group, evaluate)
    _add_ixi_options(group, evaluate)
    _add_folder_options(group)


def _add_common_options(group, evaluate):
    group.add_argument(
        "--dataset",
        choices=DATASETS,
        default="phantom",
        help="phantom: synthetic T1/T2 heads generated on the fly (offline); "
        "mnist: MNIST digit tasks; ixi: IXI T1 / T2 / PD NIfTI volumes; brats: "
        "co-registered multi-contrast subject folders (BraTS layout); folder: "
        "your own paired 2-D images",
    )
    group.add_argument(
        "--image-size",
        type=POSITIVE_INT,
        default=None,
        help="height and width of the images; default: "
        + (
            "the model's input size"
            if evaluate
            else "64 (phantom), 32 (mnist, its only size), 256 (ixi, brats), "
            "the images' own size (folder)"
        ),
    )
    group.add_argument(
        "--split",
        choices=SPLITS,
        default="test" if evaluate else "train",
        help="subset to use: IXI subjects split by --split-seed (80/10/10); "
        "phantom heads drawn from a seed offset per split; MNIST train/test "
        "(val reads test); ignored for folders",
    )


def _add_phantom_and_mnist_options(group, evaluate):
    group.add_argument(
        "--subjects",
        type=POSITIVE_INT,
        default=2 if evaluate else 8,
        help="phantom: number of random heads",
    )
    group.add_argument(
        "--slices-per-subject",
        type=POSITIVE_INT,
        default=16,
        help="phantom: axial slices per head",
    )
    group.add_argument(
        "--mnist-path",
        default=None,
        help="mnist: a Keras mnist.npz file or a folder of the IDX files "
        "(default: keras.datasets.mnist, which downloads it once)",
    )
    group.add_argument(
        "--task", choices=MNIST_TASKS, default="edges", help="mnist: the task"
    )
    group.add_argument(
        "--count",
        type=POSITIVE_INT,
        default=None,
        help="mnist: number of digits to use (default: the whole split)",
    )


def _add_ixi_options(group, evaluate):
    group.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="ROOT",
        help="ixi: folder(s) holding the IXI .nii.gz files (T1, T2, PD); "
        "brats: the folder of subject folders",
    )
    group.add_argument(
        "--source-contrast",
        nargs="+",
        default=None,
        metavar="CONTRAST",
        help="ixi (T1, T2, PD), brats (t1, t1ce, t2, flair): the source "
        "contrast, or several (they become the channels, in the order given); "
        "default: " + ("the model's, else " if evaluate else "") + "T1 / t1",
    )
    group.add_argument(
        "--target-contrast",
        default=None,
        metavar="CONTRAST",
        help="ixi, brats: the target contrast; default: "
        + ("the model's, else " if evaluate else "")
        + "T2 / t2",
    )
    group.add_argument(
        "--brats-names",
        choices=("2021", "2023"),
        default="2021",
        help="brats: the file names, <subject>_t1.nii.gz ... (2020-2021) or "
        "<subject>-t1n.nii.gz ... (2023)",
    )
    group.add_argument(
        "--pairing",
        choices=("aligned", "registered", "paper"),
        default="aligned",
        help="ixi: aligned = T2 resampled onto the T1 grid (same anatomy); "
        "registered = T2 registered onto T1 by affine mutual information first "
        "(needs keras-pix2pix[registration]); paper = the seed paper's index "
        "pairing (different anatomy, for reproduction only)",
    )
    group.add_argument(
        "--bias-correction",
        choices=BIAS_CORRECTIONS,
        default=None,
        help="ixi: correct these volumes (source T1, target T2, or both) for "
        "intensity non-uniformity first, by N4 (needs "
        "keras-pix2pix[registration]); default: none",
    )
    group.add_argument(
        "--cache-dir",
        default=None,
        help="ixi: folder of a slice cache; prepared slices are reused by later "
        "runs with the same settings and files",
    )
    group.add_argument(
        "--workers",
        type=POSITIVE_INT,
        default=None,
        help="ixi, brats: processes preparing subjects at once; default: the "
        "machine's cores for 4 or more subjects",
    )
    group.add_argument(
        "--plane", choices=PLANES, default="axial", help="ixi: slicing plane"
    )
    group.add_argument(
        "--context",
        type=NON_NEGATIVE_INT,
        default=None if evaluate else 0,
        help="ixi: neighbouring T1 slices on each side as extra source channels "
        "(2.5-D input: 2 * N + 1 channels, the slice itself in the middle)"
        + ("; default: as many as the model takes" if evaluate else ""),
    )
    group.add_argument(
        "--split-seed", type=int, default=0, help="ixi: seed of the subject split"
    )


def _add_folder_options(group):
    group.add_argument(
        "--source-dir", default=None, help="folder: the source (input) images"
    )
    group.add_argument(
        "--target-dir",
        default=None,
        help="folder: the target images, paired with --source-dir by file name",
    )
    group.add_argument(
        "--aligned-dir",
        default=None,
        help="folder: side-by-side A|B images (the reference pix2pix format), "
        "instead of --source-dir/--target-dir",
    )
    group.add_argument(
        "--direction",
        choices=("AtoB", "BtoA"),
        default="AtoB",
        help="folder: with --aligned-dir, which half is the source",
    )
    group.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="folder: convert images to 1 (grayscale) or 3 (RGB) channels "
        "(default: keep each folder's own)",
    )


def check_dataset_args(args):
    """Checks the data options against each other, before anything is loaded.

    Raises:
        UsageError: naming the option at fault and what to pass instead.
    """
    if args.dataset in VOLUME_DATASETS and not args.data:
        raise UsageError(
            f"--dataset {args.dataset} needs --data ROOT: the folder(s) holding "
            "its .nii.gz files."
        )
    if args.dataset == "folder":
        _check_folder_args(args)
    if args.context and args.dataset not in VOLUME_DATASETS:
        raise UsageError(
            f"--context {args.context} applies to --dataset ixi or brats "
            "(neighbouring slices of a volume), not to --dataset " + args.dataset + "."
        )
    _check_contrast_args(args)
    if args.workers is not None and args.dataset not in VOLUME_DATASETS:
        raise UsageError("--workers applies to --dataset ixi or brats.")
    if args.bias_correction is not None and (
        args.dataset not in VOLUME_DATASETS or args.pairing == "paper"
    ):
        raise UsageError(
            "--bias-correction applies to --dataset ixi or brats with the "
            "aligned or registered pairing."
        )
    if args.dataset == "brats" and args.data and len(args.data) != 1:
        raise UsageError(
            "--dataset brats takes one --data folder (holding one folder per "
            f"subject). Received {len(args.data)}."
        )
    if args.dataset == "brats" and args.pairing != "aligned":
        raise UsageError(
            f"--pairing {args.pairing} applies to --dataset ixi; BraTS volumes "
            "are co-registered (aligned)."
        )
    if args.dataset == "mnist" and args.image_size not in (None, 32):
        raise UsageError(
            f"MNIST pairs are 32x32 pixels; drop --image-size {args.image_size} "
            "or set it to 32."
        )
    if args.dataset == "phantom" and args.image_size is not None:
        _check_phantom_args(args)


def _check_contrast_args(args):
    names = [*(args.source_contrast or []), args.target_contrast]
    given = [name for name in names if name is not None]
    if given and args.dataset not in VOLUME_DATASETS:
        raise UsageError(
            "--source-contrast / --target-contrast apply to --dataset ixi or brats."
        )
    if not given:
        return
    known = CONTRASTS[args.dataset]
    unknown = [name for name in given if name not in known]
    if unknown:
        raise UsageError(
            f"--dataset {args.dataset} has the contrasts {', '.join(known)}. "
            f"Received: {', '.join(unknown)}."
        )


def _check_folder_args(args):
    pair = args.source_dir is not None or args.target_dir is not None
    if args.aligned_dir is not None and pair:
        raise UsageError(
            "Give either --aligned-dir or --source-dir with --target-dir, not both."
        )
    if args.aligned_dir is None and (
        args.source_dir is None or args.target_dir is None
    ):
        raise UsageError(
            "--dataset folder needs --source-dir and --target-dir (two "
            "folders of images paired by file name) or --aligned-dir "
            "(side-by-side A|B images)."
        )


def _check_phantom_args(args):
    if args.image_size < 16:
        raise UsageError(
            f"--image-size {args.image_size} is too small for phantoms: use 16 or more."
        )
    depth = max(8, round(0.75 * args.image_size))
    if args.slices_per_subject > depth:
        raise UsageError(
            f"--slices-per-subject must be at most {depth} for --image-size "
            f"{args.image_size}."
        )
