"""The `synthesize` command: runs a trained model on a NIfTI volume or a folder."""

import json
import pathlib

from keras_pix2pix.cli._model import load_model
from keras_pix2pix.cli._options import (
    PLANES,
    POSITIVE_INT,
    PROG,
    HelpFormatter,
    UsageError,
)

EPILOG = f"""\
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


def add_parser(subparsers):
    """Adds the `synthesize` command to `subparsers`."""
    parser = subparsers.add_parser(
        "synthesize",
        help="translate a NIfTI volume or a folder of images",
        description="Run a trained model on a NIfTI volume (slice by slice, "
        "written back on the input's voxel grid) or on every image of a folder.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
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
        "--batch-size", type=POSITIVE_INT, default=16, help="slices per batch"
    )
    _add_volume_options(parser)
    parser.set_defaults(command=run)


def _add_volume_options(parser):
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


def run(args):
    """Translates `--input` into `--output`; returns the exit status, 0."""
    source = _check_paths(args)
    from keras_pix2pix.synthesis import synthesize_images, synthesize_volume

    model = load_model(args.model)
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


def _check_paths(args):
    """The `--input` path, checked with `--output` against each other."""
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
    return source


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
