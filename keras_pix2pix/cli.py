"""The `keras-pix2pix` command: train, synthesize and evaluate from a shell.

This module parses arguments and calls the library; it imports neither Keras
nor the rest of keras-pix2pix at import time, so that `--backend` can set
`KERAS_BACKEND` before Keras is loaded.

Example:
```
keras-pix2pix --backend jax train --dataset phantom --epochs 5 --output runs/demo
keras-pix2pix synthesize --model runs/demo/model.keras --input t1.nii.gz \\
    --output synthetic_t2.nii.gz
keras-pix2pix evaluate --model runs/demo/model.keras --dataset phantom \\
    --split test --protocol brain_mask --csv runs/demo/test.csv
```
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import sys
from collections.abc import Sequence

PROG = "keras-pix2pix"
BACKENDS = ("tensorflow", "jax", "torch")
DATASETS = ("phantom", "mnist", "ixi", "folder")
MNIST_TASKS = ("edges", "inpainting", "denoising", "label_map")
PLANES = ("axial", "coronal", "sagittal")
BIAS_CORRECTIONS = ("source", "target", "both")
PROTOCOLS = ("full", "brain_mask", "per_image_max")
SPLITS = ("train", "val", "test")
# Phantom "splits" are disjoint random heads: the seed is offset per split.
PHANTOM_SEED_OFFSETS = {"train": 0, "val": 1_000_003, "test": 2_000_003}
DEFAULT_IMAGE_SIZE = {"phantom": 64, "mnist": 32, "ixi": 256}
SAMPLE_IMAGES = 4

_EPILOG_MAIN = f"""\
examples:
  {PROG} train --dataset phantom --epochs 5 --output runs/phantom
  {PROG} --backend torch train --dataset ixi --data ~/data/IXI --output runs/ixi
  {PROG} synthesize --model runs/ixi/model.keras --input t1.nii.gz \\
      --output synthetic_t2.nii.gz
  {PROG} evaluate --model runs/ixi/model.keras --dataset ixi --data ~/data/IXI \\
      --split test --protocol brain_mask --csv runs/ixi/test.csv

Run `{PROG} COMMAND --help` for the options of each command.
"""

_EPILOG_TRAIN = f"""\
examples:
  # a few minutes on a CPU, no download: synthetic T1 -> T2 head phantoms
  {PROG} train --dataset phantom --image-size 64 --epochs 20 --output runs/phantom
  # IXI T1 -> T2, anatomically aligned slices, the reference settings
  {PROG} train --dataset ixi --data ~/data/IXI --image-size 256 --epochs 200 \\
      --decay-epochs 100 --batch-size 1 --output runs/ixi
  # the same with registered pairs, 2.5-D input (one neighbour on each side)
  # and a correction to a fitted intensity mapping: what scored best on one
  # subject (benchmarks/RESULTS.md)
  {PROG} train --dataset ixi --data ~/data/IXI --pairing registered \\
      --context 1 --prior histogram --output runs/ixi-prior
  # MNIST edges -> digits, from a local mnist.npz
  {PROG} train --dataset mnist --mnist-path mnist.npz --task edges --output runs/mnist
  # your own paired images
  {PROG} train --dataset folder --source-dir data/A --target-dir data/B \\
      --image-size 256 --output runs/mine
  # continue an interrupted run up to 40 epochs
  {PROG} train --dataset phantom --epochs 40 --output runs/phantom --resume

The output folder receives config.json (the arguments used), log.csv (losses
per epoch), samples/ (PNG grids: source | target | generated | difference),
checkpoints/ (resumable .keras files), model.keras (the final model) and, for
IXI, normalization.json (intensity parameters for `{PROG} synthesize`).
"""

_EPILOG_SYNTHESIZE = f"""\
examples:
  {PROG} synthesize --model runs/ixi/model.keras --input IXI012-T1.nii.gz \\
      --output IXI012-synthetic-T2.nii.gz
  {PROG} synthesize --model runs/mine/model.keras --input test/A --output test/fake_B

A NIfTI input gives a NIfTI output on the input's voxel grid (same shape and
affine), its header marked as synthetic. Intensities: by default the output is
mapped to the target parameters of normalization.json next to the model (IXI
training writes it); without one, to the source volume's own percentile range,
since absolute target intensities are not recoverable from the source alone.
"""

_EPILOG_EVALUATE = f"""\
examples:
  {PROG} evaluate --model runs/phantom/model.keras --dataset phantom --split test
  {PROG} evaluate --model runs/ixi/model.keras --dataset ixi --data ~/data/IXI \\
      --split test --protocol brain_mask --csv runs/ixi/test_brain.csv
  {PROG} evaluate --model runs/ixi/model.keras --dataset ixi --data ~/data/IXI \\
      --protocol per_image_max --crop 192

protocols: full = whole slices in [-1, 1] (data range 2); brain_mask = metrics
inside a mask (derived from the real target by thresholding, or the source);
per_image_max = each image divided by its maximum then centre-cropped (data
range 1), as pGAN-style papers report.
"""


class _HelpFormatter(
    argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter
):
    """Shows defaults and keeps the epilog's line breaks."""


class UsageError(Exception):
    """An argument is wrong; the message says what to do instead."""


# === Argument parsing ===


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _add_dataset_options(parser, *, evaluate=False):
    group = parser.add_argument_group(
        "data",
        "Where the (source, target) pairs come from. Images are scaled to [-1, 1].",
    )
    group.add_argument(
        "--dataset",
        choices=DATASETS,
        default="phantom",
        help="phantom: synthetic T1/T2 heads generated on the fly (offline); "
        "mnist: MNIST digit tasks; ixi: IXI T1 -> T2 NIfTI volumes; folder: "
        "your own paired 2-D images",
    )
    group.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        help="height and width of the images; default: "
        + (
            "the model's input size"
            if evaluate
            else "64 (phantom), 32 (mnist, its only size), 256 (ixi), the "
            "images' own size (folder)"
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
    group.add_argument(
        "--subjects",
        type=_positive_int,
        default=2 if evaluate else 8,
        help="phantom: number of random heads",
    )
    group.add_argument(
        "--slices-per-subject",
        type=_positive_int,
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
        type=_positive_int,
        default=None,
        help="mnist: number of digits to use (default: the whole split)",
    )
    group.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="ROOT",
        help="ixi: folder(s) holding the IXI T1 and T2 .nii.gz files",
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
        "--plane", choices=PLANES, default="axial", help="ixi: slicing plane"
    )
    group.add_argument(
        "--context",
        type=_non_negative_int,
        default=None if evaluate else 0,
        help="ixi: neighbouring T1 slices on each side as extra source channels "
        "(2.5-D input: 2 * N + 1 channels, the slice itself in the middle)"
        + ("; default: as many as the model takes" if evaluate else ""),
    )
    group.add_argument(
        "--split-seed", type=int, default=0, help="ixi: seed of the subject split"
    )
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


def _add_train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a Pix2Pix model",
        description="Train a Pix2Pix model (U-Net or ResNet generator, PatchGAN "
        "or pixel discriminator) on paired images, with logs, sample grids and "
        "resumable checkpoints written to --output.",
        epilog=_EPILOG_TRAIN,
        formatter_class=_HelpFormatter,
    )
    _add_dataset_options(parser)
    model = parser.add_argument_group("model")
    model.add_argument(
        "--generator", choices=("unet", "resnet"), default="unet", help="generator"
    )
    model.add_argument(
        "--filters",
        type=_positive_int,
        default=64,
        help="filters of the first layer of both networks",
    )
    model.add_argument(
        "--depth",
        type=_positive_int,
        default=None,
        help="unet: down-sampling blocks (--image-size must be divisible by "
        "2**depth); default: as many as the size allows, at most 8 (unet_256)",
    )
    model.add_argument(
        "--residual-blocks",
        type=_positive_int,
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
        type=_positive_int,
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
        "--prior",
        choices=("none", "histogram"),
        default="none",
        help="histogram: the generator learns a correction to a per-intensity "
        "mapping of the source's middle channel to the target, fitted on the "
        "training pairs and saved in the model (PriorResidualGenerator); needs "
        "a one-channel target",
    )
    training = parser.add_argument_group("training")
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
        type=_non_negative_float,
        default=100.0,
        help="weight of the reconstruction loss (lambda_L1)",
    )
    training.add_argument(
        "--lr", type=_positive_float, default=2e-4, help="Adam learning rate"
    )
    training.add_argument(
        "--beta1", type=float, default=0.5, help="Adam beta_1, in [0, 1)"
    )
    training.add_argument(
        "--epochs", type=_positive_int, default=10, help="total epochs"
    )
    training.add_argument(
        "--steps-per-epoch",
        "--steps",
        dest="steps_per_epoch",
        type=_positive_int,
        default=None,
        help="batches per epoch (default: one pass over the data); batches "
        "are drawn from a reshuffled pass, cycling if needed",
    )
    training.add_argument(
        "--batch-size", type=_positive_int, default=1, help="images per batch"
    )
    training.add_argument(
        "--decay-epochs",
        type=_non_negative_int,
        default=0,
        help="last epochs over which the learning rate decays linearly to 0 "
        "(LinearDecay); 0 keeps it constant",
    )
    training.add_argument(
        "--seed", type=int, default=0, help="seed of weights, shuffling and data"
    )
    output = parser.add_argument_group("output")
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
        type=_positive_int,
        default=1,
        help="write a sample grid every N epochs",
    )
    output.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=1,
        help="write a checkpoint every N epochs",
    )
    output.add_argument(
        "--keep-checkpoints",
        type=_positive_int,
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
    parser.set_defaults(command=_train)


def _add_synthesize_parser(subparsers):
    parser = subparsers.add_parser(
        "synthesize",
        help="translate a NIfTI volume or a folder of images",
        description="Run a trained model on a NIfTI volume (slice by slice, "
        "written back on the input's voxel grid) or on every image of a folder.",
        epilog=_EPILOG_SYNTHESIZE,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, help="a .keras file written by `train`"
    )
    parser.add_argument(
        "--input",
        required=True,
        help="a NIfTI volume (.nii, .nii.gz) or a folder of 2-D images",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="the NIfTI file to write (.nii or .nii.gz), or the folder of PNG "
        "results for a folder input",
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=16, help="slices per batch"
    )
    parser.add_argument(
        "--plane",
        choices=PLANES,
        default=None,
        help="NIfTI: slicing plane; default: the plane of the model's training "
        "(config.json next to it), else axial",
    )
    parser.add_argument(
        "--normalization",
        default=None,
        metavar="JSON",
        help="NIfTI: file with the target intensity parameters ('lower', "
        "'upper', or a 'target_normalization' entry); default: "
        "normalization.json next to the model if present, else the source's "
        "own percentile range",
    )
    parser.add_argument(
        "--bias-correction",
        choices=("n4", "none"),
        default=None,
        help="NIfTI: correct the source for intensity non-uniformity first "
        "(n4, needs keras-pix2pix[registration]) or not; default: as the "
        "model's training did (config.json next to it), else none",
    )
    parser.set_defaults(command=_synthesize)


def _add_evaluate_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="score a model on held-out pairs (PSNR, SSIM, MAE)",
        description="Translate the sources of a dataset split with a trained "
        "model and score the results against the real targets, per image, per "
        "subject and as mean +- std.",
        epilog=_EPILOG_EVALUATE,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, help="a .keras file written by `train`"
    )
    _add_dataset_options(parser, evaluate=True)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the data (phantom heads, MNIST masks and noise)",
    )
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument(
        "--protocol", choices=PROTOCOLS, default="full", help="how to score"
    )
    scoring.add_argument(
        "--mask-from",
        choices=("target", "source"),
        default="target",
        help="brain_mask: the real image the mask is derived from",
    )
    scoring.add_argument(
        "--mask-threshold",
        type=float,
        default=-0.9,
        help="brain_mask: pixels above it (in [-1, 1]) are inside the mask "
        "(holes filled)",
    )
    scoring.add_argument(
        "--crop",
        type=_positive_int,
        default=None,
        help="centre crop (pixels, square) before scoring",
    )
    scoring.add_argument(
        "--batch-size", type=_positive_int, default=16, help="images per batch"
    )
    scoring.add_argument(
        "--csv",
        default=None,
        help="write the summary (one row per subject, then mean and std) here",
    )
    scoring.add_argument(
        "--per-image-csv", default=None, help="write one row per image here"
    )
    parser.set_defaults(command=_evaluate)


def build_parser() -> argparse.ArgumentParser:
    """Builds the `keras-pix2pix` argument parser with its three commands.

    Returns:
        The `argparse.ArgumentParser`.

    Example:
    ```python
    args = build_parser().parse_args(["train", "--output", "runs/demo"])
    args.dataset  # 'phantom'
    ```
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Pix2Pix image-to-image translation with Keras 3 "
        "(TensorFlow, PyTorch or JAX): train on paired images, synthesize "
        "(e.g. T2-weighted MRI from T1-weighted) and evaluate.",
        epilog=_EPILOG_MAIN,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend; default: the KERAS_BACKEND environment variable, "
        "else Keras's own default",
    )
    parser.add_argument(
        "--version",
        action="store_true",
        help="print the versions and the Keras backend in use, and exit",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train_parser(subparsers)
    _add_synthesize_parser(subparsers)
    _add_evaluate_parser(subparsers)
    return parser


# === Checks made before Keras is imported ===


def _default_depth(image_size):
    depth = 0
    while depth < 8 and image_size % 2 ** (depth + 1) == 0:
        depth += 1
    return depth


def _check_dataset_args(args):
    if args.dataset == "ixi" and not args.data:
        raise UsageError(
            "--dataset ixi needs --data ROOT: the folder(s) holding the IXI "
            "T1 and T2 .nii.gz files."
        )
    if args.dataset == "folder":
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
    if args.context and args.dataset != "ixi":
        raise UsageError(
            f"--context {args.context} applies to --dataset ixi (neighbouring "
            "slices of a volume), not to --dataset " + args.dataset + "."
        )
    if args.bias_correction is not None and (
        args.dataset != "ixi" or args.pairing == "paper"
    ):
        raise UsageError(
            "--bias-correction applies to --dataset ixi with the aligned or "
            "registered pairing."
        )
    if args.dataset == "mnist" and args.image_size not in (None, 32):
        raise UsageError(
            f"MNIST pairs are 32x32 pixels; drop --image-size {args.image_size} "
            "or set it to 32."
        )
    if args.dataset == "phantom" and args.image_size is not None:
        if args.image_size < 16:
            raise UsageError(
                f"--image-size {args.image_size} is too small for phantoms: use 16 "
                "or more."
            )
        depth = max(8, round(0.75 * args.image_size))
        if args.slices_per_subject > depth:
            raise UsageError(
                f"--slices-per-subject must be at most {depth} for --image-size "
                f"{args.image_size}."
            )


def _check_architecture(args, image_size):
    """Checks the model arguments against the image size."""
    if args.generator == "unet":
        depth = args.depth if args.depth is not None else _default_depth(image_size)
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
                f"{_default_depth(image_size)} or an --image-size that is a "
                f"multiple of {2**depth}."
            )
        args.depth = depth
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


def _check_train_args(args):
    _check_dataset_args(args)
    if not 0 <= args.beta1 < 1:
        raise UsageError(f"--beta1 must be in [0, 1). Received: {args.beta1}")
    if args.decay_epochs > args.epochs:
        raise UsageError(
            f"--decay-epochs {args.decay_epochs} is more than --epochs "
            f"{args.epochs}: the decay happens within the epochs."
        )
    output = pathlib.Path(args.output).expanduser()
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} exists and is not a folder.")
    checkpoints = output / "checkpoints"
    has_checkpoints = checkpoints.is_dir() and any(checkpoints.glob("epoch_*.keras"))
    if args.resume and not has_checkpoints:
        raise UsageError(
            f"--resume: no checkpoint in {checkpoints}. Run without --resume to "
            "start training."
        )
    if not args.resume and has_checkpoints:
        raise UsageError(
            f"{output} already holds checkpoints of a run. Pass --resume to "
            "continue it, or choose another --output."
        )
    image_size = args.image_size or DEFAULT_IMAGE_SIZE.get(args.dataset)
    if image_size is not None and not args.resume:
        _check_architecture(args, image_size)


def _select_backend(backend):
    """Sets KERAS_BACKEND before Keras is imported.

    Raises:
        UsageError: if Keras is already loaded with another backend.
    """
    if backend is None:
        return
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
        return
    current = keras.backend.backend()
    if current != backend:
        raise UsageError(
            f"--backend {backend}: Keras is already loaded with the {current} "
            "backend in this process. Set --backend (or KERAS_BACKEND) before "
            "Keras is imported."
        )


# === Data ===


def _load_pairs(args, split, image_size):
    """Returns `(source, target, subject_ids or None, info)` for a split."""
    from keras_pix2pix import datasets

    if args.dataset == "phantom":
        count = args.subjects
        source, target = datasets.load_phantom_pairs(
            num_subjects=count,
            image_size=image_size,
            slices_per_subject=args.slices_per_subject,
            seed=args.seed + PHANTOM_SEED_OFFSETS[split],
        )
        ids = [
            f"phantom-{split}-{s:03d}"
            for s in range(count)
            for _ in range(args.slices_per_subject)
        ]
        return source, target, ids, {}
    if args.dataset == "mnist":
        source, target = datasets.load_mnist_pairs(
            args.task,
            args.mnist_path,
            split="train" if split == "train" else "test",
            count=args.count,
            seed=args.seed,
        )
        return source, target, None, {}
    if args.dataset == "ixi":
        source, target, info = datasets.load_ixi_pairs(
            args.data,
            pairing=args.pairing,
            plane=args.plane,
            image_size=image_size,
            context=args.context or 0,
            bias_correction=args.bias_correction,
            split=split,
            seed=args.split_seed,
            cache_dir=args.cache_dir,
            return_info=True,
        )
        if args.pairing == "paper":
            ids = [s for s in info["subjects"] for _ in info["slices"]]
        else:
            ids = [
                s for s in info["subjects"] for _ in info["per_subject"][s]["slices"]
            ]
        return source, target, ids, info
    if args.aligned_dir is not None:
        source, target = datasets.load_aligned_images(
            args.aligned_dir,
            direction=args.direction,
            image_size=image_size,
            channels=args.channels,
        )
    else:
        source, target = datasets.load_paired_folders(
            args.source_dir,
            args.target_dir,
            image_size=image_size,
            channels=args.channels,
        )
    return source, target, None, {}


def _target_normalization(info):
    """Median target intensity parameters of the IXI training subjects."""
    import numpy as np

    params = [
        details["target_normalization"]
        for details in info.get("per_subject", {}).values()
    ]
    if not params:
        return None
    return {
        "method": "percentile",
        "low_percentile": params[0]["low_percentile"],
        "high_percentile": params[0]["high_percentile"],
        "lower": float(np.median([p["lower"] for p in params])),
        "upper": float(np.median([p["upper"] for p in params])),
        "subjects": len(params),
        "note": "median over the training subjects of each T2 volume's "
        "percentile parameters; absolute intensities vary between scans",
    }


# === Commands ===


def _write_json(path, data):
    from keras_pix2pix.utils import atomic_path

    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _pair_dataset(source, target, batch_size, steps, seed):
    """A PyDataset of shuffled batches; reshuffles at each pass, cycling."""
    import keras
    import numpy as np

    class PairBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = np.empty(0, int)
            self.cursor = 0

        def __len__(self):
            return steps

        def _next_indices(self):
            indices = []
            while len(indices) < batch_size:
                if self.cursor >= len(self.order):
                    self.order = self.rng.permutation(len(source))
                    self.cursor = 0
                take = self.order[self.cursor : self.cursor + batch_size - len(indices)]
                self.cursor += len(take)
                indices.extend(take.tolist())
            return np.sort(indices)

        def __getitem__(self, index):
            indices = self._next_indices()
            return source[indices], target[indices]

    return PairBatches()


def _histogram_prior(source, target):
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


def _build_model(args, input_shape, output_channels, prior=None):
    """The Pix2Pix model of the arguments; with `prior`, a residual generator."""
    from keras_pix2pix import Pix2Pix
    from keras_pix2pix.models import (
        PatchGANDiscriminator,
        PixelDiscriminator,
        PriorResidualGenerator,
        ResNetGenerator,
        UNetGenerator,
    )

    common = {
        "filters": args.filters,
        "norm": None if args.norm == "none" else args.norm,
    }
    network_shape = list(input_shape)
    if prior is not None:  # the network sees the guess as one more channel
        network_shape[-1 if _is_last() else 0] += 1
    if args.generator == "unet":
        generator_class = UNetGenerator
        options = {"num_downsampling_blocks": args.depth}
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
    if args.discriminator == "patchgan":
        discriminator_class = PatchGANDiscriminator
        options = {"num_layers": args.discriminator_layers}
    else:
        discriminator_class = PixelDiscriminator
        options = {}
    discriminator = discriminator_class(
        input_shape=input_shape,
        target_channels=output_channels,
        name="discriminator",
        **common,
        **options,
    )
    return Pix2Pix(generator, discriminator)


def _optimizers(args, steps_per_epoch):
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


def _channels_last(images):
    import keras
    import numpy as np

    if keras.config.image_data_format() == "channels_first":
        return np.ascontiguousarray(np.moveaxis(images, -1, 1))
    return images


def _train(args):
    _check_train_args(args)
    import keras

    import keras_pix2pix
    from keras_pix2pix.callbacks import (
        CheckpointCallback,
        SampleGridCallback,
        TerminateOnNonFinite,
        latest_checkpoint,
    )
    from keras_pix2pix.errors import DataError

    output = pathlib.Path(args.output).expanduser()
    output.mkdir(parents=True, exist_ok=True)
    checkpoints = output / "checkpoints"
    keras.utils.set_random_seed(args.seed)

    resumed = None
    if args.resume:
        path, initial_epoch = latest_checkpoint(checkpoints)
        model = keras.saving.load_model(path)
        resumed = {"checkpoint": str(path), "epoch": initial_epoch}
        if initial_epoch >= args.epochs:
            raise UsageError(
                f"The checkpoint {path.name} already holds {initial_epoch} epochs; "
                f"pass --epochs greater than {initial_epoch} to train further."
            )
        image_size = int(model.generator.input_shape[1 if _is_last() else 2])
    else:
        initial_epoch = 0
        image_size = args.image_size or DEFAULT_IMAGE_SIZE.get(args.dataset)

    source, target, _, info = _load_pairs(args, args.split, image_size)
    if image_size is None:  # folders at their own size
        image_size = int(source.shape[1])
        if source.shape[1] != source.shape[2]:
            raise UsageError(
                f"The images are {source.shape[1]}x{source.shape[2]}; pass "
                "--image-size to resize them to a square."
            )
        _check_architecture(args, image_size)
    if len(source) < args.batch_size:
        raise UsageError(
            f"--batch-size {args.batch_size} is larger than the {len(source)} "
            "training pairs."
        )
    steps = args.steps_per_epoch or len(source) // args.batch_size

    if resumed is None:
        prior = _histogram_prior(source, target) if args.prior == "histogram" else None
        model = _build_model(
            args,
            tuple(_channels_last(source[:1]).shape[1:]),
            int(target.shape[-1]),
            prior,
        )
        generator_optimizer, discriminator_optimizer = _optimizers(args, steps)
        model.compile(
            generator_optimizer,
            discriminator_optimizer,
            adversarial_loss=args.gan_loss,
            reconstruction_loss=args.reconstruction,
            reconstruction_weight=args.reconstruction_weight,
        )
    expected = tuple(model.generator.input_shape[1:])
    got = tuple(_channels_last(source[:1]).shape[1:])
    if expected != got:
        raise DataError(
            f"The checkpoint's model takes images of shape {expected}, but the "
            f"data are {got}. Resume with the data options of the first run."
        )

    try:
        samples = _load_pairs(args, "val", image_size)[:2]
    except (DataError, FileNotFoundError):
        samples = (source, target)
    sample_source, sample_target = (a[:SAMPLE_IMAGES] for a in samples)

    config = {
        key: value for key, value in vars(args).items() if key not in ("command",)
    }
    config.update(
        image_size=image_size,
        backend=keras.backend.backend(),
        keras_version=keras.__version__,
        keras_pix2pix_version=keras_pix2pix.__version__,
        training_pairs=len(source),
        steps_per_epoch_used=steps,
        started=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    if resumed:
        config["resumed_from"] = resumed
        config["runs"] = _previous_runs(output) + 1
    _write_json(output / "config.json", config)
    normalization = _target_normalization(info)
    if normalization is not None:
        _write_json(
            output / "normalization.json",
            {
                "source": "each volume scaled by its own percentiles",
                "target_normalization": normalization,
                "plane": args.plane,
            },
        )

    stop = TerminateOnNonFinite()
    callbacks = [
        stop,
        keras.callbacks.CSVLogger(str(output / "log.csv"), append=args.resume),
        SampleGridCallback(
            _channels_last(sample_source),
            _channels_last(sample_target),
            output / "samples",
            every=args.sample_every,
        ),
        CheckpointCallback(
            checkpoints, every=args.checkpoint_every, keep=args.keep_checkpoints
        ),
    ]
    data = _pair_dataset(
        _channels_last(source),
        _channels_last(target),
        args.batch_size,
        steps,
        args.seed,
    )
    model.fit(
        data,
        epochs=args.epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=args.verbose,
    )
    if stop.stopped_step is not None:
        found = latest_checkpoint(checkpoints)
        last = "no checkpoint was written" if found is None else f"{found[0]}"
        print(
            f"{PROG}: error: {stop.message} Last good checkpoint: {last}; "
            "model.keras was not written.",
            file=sys.stderr,
        )
        return 1
    from keras_pix2pix.utils import atomic_path

    with atomic_path(output / "model.keras") as temporary:
        model.save(temporary)
    print(f"Wrote {output / 'model.keras'} ({args.epochs} epochs)")
    return 0


def _previous_runs(output):
    try:
        return int(json.loads((output / "config.json").read_text()).get("runs", 1))
    except (OSError, ValueError, AttributeError):
        return 1


def _is_last():
    import keras

    return keras.config.image_data_format() == "channels_last"


def _print_version():
    import keras

    from keras_pix2pix.version import __version__

    print(
        f"{PROG} {__version__} (Keras {keras.__version__}, "
        f"backend {keras.backend.backend()})"
    )
    return 0


def _load_model(path):
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
    import keras_pix2pix  # noqa: F401 - registers the custom classes

    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise UsageError(f"Cannot load the model {path}: {error}") from error


def _read_normalization(args, model_path):
    """The target intensity parameters for synthesis, or None."""
    path = args.normalization
    if path is None:
        candidate = pathlib.Path(model_path).expanduser().parent / "normalization.json"
        if not candidate.is_file():
            return None
        path = candidate
    try:
        data = json.loads(pathlib.Path(path).expanduser().read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"Cannot read --normalization {path}: {error}") from error
    if isinstance(data, dict) and "target_normalization" in data:
        data = data["target_normalization"]
    if not isinstance(data, dict) or not {"lower", "upper"} <= data.keys():
        raise UsageError(
            f"{path} must hold 'lower' and 'upper' (or a 'target_normalization' "
            "entry with them)."
        )
    return data


def _training_config(model_path):
    """The IXI training arguments in config.json next to the model, or {}."""
    config = pathlib.Path(model_path).expanduser().parent / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("dataset") == "ixi" else {}


def _training_plane(trained):
    """The plane of the `_training_config` `trained`, or None."""
    plane = trained.get("plane")
    return plane if plane in PLANES else None


def _corrects_source(args, trained):
    """Whether synthesis corrects the source: --bias-correction, or training."""
    if args.bias_correction is not None:
        return args.bias_correction == "n4"
    return trained.get("bias_correction") in ("source", "both")


def _is_nifti(path):
    name = str(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def _synthesize(args):
    source = pathlib.Path(args.input).expanduser()
    if not source.exists():
        raise UsageError(f"--input {source} does not exist.")
    if not source.is_dir() and not _is_nifti(source):
        raise UsageError(
            f"--input {source} must be a NIfTI file (.nii, .nii.gz) or a folder "
            "of 2-D images."
        )
    if source.is_file() and not _is_nifti(args.output):
        raise UsageError(
            f"--output {args.output} must end with .nii or .nii.gz for a NIfTI input."
        )
    from keras_pix2pix.synthesis import synthesize_images, synthesize_volume

    model = _load_model(args.model)
    if source.is_dir():
        written = synthesize_images(
            model, source, args.output, batch_size=args.batch_size
        )
        print(f"Wrote {len(written)} image(s) to {args.output}")
        return 0
    normalization = _read_normalization(args, args.model)
    trained = _training_config(args.model)
    plane = args.plane or _training_plane(trained) or "axial"
    corrected = _corrects_source(args, trained)
    synthesize_volume(
        model,
        source,
        args.output,
        plane=plane,
        batch_size=args.batch_size,
        normalization=normalization,
        bias_correction=corrected,
    )
    mapping = (
        "target parameters from normalization.json"
        if normalization is not None
        else "the source's percentile range (no target parameters given)"
    )
    print(
        f"Wrote {args.output} ({plane} slices"
        + ("; source corrected by N4" if corrected else "")
        + f"; intensities mapped to {mapping})"
    )
    return 0


def _evaluate(args):
    _check_dataset_args(args)
    import keras
    import numpy as np

    from keras_pix2pix.evaluation import (
        derive_mask,
        evaluate_pairs,
        format_table,
        summary_rows,
        write_csv,
    )

    model = _load_model(args.model)
    shape = tuple(model.generator.input_shape[1:])
    model_size = int(shape[0] if _is_last() else shape[1])
    image_size = args.image_size or model_size
    if args.context is None:  # the neighbours the model was trained with
        channels = int(shape[-1] if _is_last() else shape[0])
        args.context = (channels - 1) // 2 if args.dataset == "ixi" else 0
    source, target, ids, _ = _load_pairs(args, args.split, image_size)
    got = tuple(_channels_last(source[:1]).shape[1:])
    if got != shape:
        raise UsageError(
            f"The model takes images of shape {shape} but the data are {got}; "
            "check --image-size, --channels and the dataset."
        )
    fake = model.predict(_channels_last(source), batch_size=args.batch_size, verbose=0)
    fake = np.asarray(keras.ops.convert_to_numpy(fake), np.float32)
    if not _is_last():
        fake = np.moveaxis(fake, 1, -1)
    mask = None
    if args.protocol == "brain_mask":
        reference = target if args.mask_from == "target" else source
        mask = derive_mask(reference, args.mask_threshold)
    rows, summary = evaluate_pairs(
        target,
        fake,
        protocol=args.protocol,
        mask=mask,
        crop=args.crop,
        subject_ids=ids,
    )
    print(format_table(summary))
    if args.csv:
        print(f"Wrote {write_csv(summary_rows(summary), args.csv)}")
    if args.per_image_csv:
        print(f"Wrote {write_csv(rows, args.per_image_csv)}")
    return 0


# === Entry point ===


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `keras-pix2pix` command line.

    Usage errors (a wrong or missing argument, a missing file, unusable data,
    a checkpoint that cannot be written) print a message saying what to do
    and exit with status 2, without a traceback. Training whose loss turns
    NaN or infinite stops at that step, keeps the last good checkpoint and
    returns 1.

    Args:
        argv: the arguments, without the program name; `None` reads
            `sys.argv[1:]`.

    Returns:
        0 on success, 1 when training stopped on a non-finite loss.

    Raises:
        SystemExit: with status 2 on a usage error, 0 after `--help`.

    Example:
    ```python
    from keras_pix2pix.cli import main

    main(["train", "--dataset", "phantom", "--epochs", "1", "--output", "runs/x"])
    ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.version and not hasattr(args, "command"):
        parser.print_help()
        parser.exit(
            2, f"\n{PROG}: error: choose a command: train, synthesize, evaluate\n"
        )
    try:
        _select_backend(args.backend)
        if args.version:
            return _print_version()
        return args.command(args)
    except UsageError as error:
        parser.exit(2, f"{PROG}: error: {error}\n")
    except (ValueError, OSError) as error:
        # The library's DataError / DatasetNotFoundError / CheckpointError (and
        # argument errors it raises as ValueError) name the file or argument
        # at fault.
        from keras_pix2pix.errors import Pix2PixError

        if not isinstance(error, Pix2PixError) and not isinstance(
            error, FileNotFoundError
        ):
            raise
        parser.exit(2, f"{PROG}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
