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
  {PROG} synthesize --model runs/t1-t2-pd/model.keras \\
      --input IXI012-T1.nii.gz IXI012-T2.nii.gz --output IXI012-synthetic-PD.nii.gz
  {PROG} synthesize --model runs/mine/model.keras --input test/A --output test/fake_B

A NIfTI input gives a NIfTI output on the input's voxel grid (same shape and
affine), its header marked as synthetic. A model trained on several source
contrasts takes one volume of each, in the training order (each on its own
grid: they are resampled onto the first one's). A model trained on NIfTI volumes
holds how its slices were cut (plane, frame, neighbouring slices, intensity
scaling, bias correction) and the training targets' intensity scaling, and the
volume is cut and its output scaled by them; the options below override them.
Models from run folders of older versions take both from the config.json and
normalization.json beside them.
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
        nargs="+",
        help="a NIfTI volume (.nii, .nii.gz), or one per source contrast for a "
        "model trained on several; or a folder of 2-D images",
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
        "--reference",
        default=None,
        metavar="NIFTI",
        help="NIfTI: the real target volume; scores the synthesized volume "
        "against it in 3-D (PSNR, SSIM, MAE over --mask, else its head)",
    )
    parser.add_argument(
        "--mask",
        default=None,
        metavar="NIFTI",
        help="NIfTI: with --reference, the voxels to score (e.g. a brain mask)",
    )
    parser.add_argument(
        "--figure",
        default=None,
        metavar="PNG",
        help="NIfTI: with --reference, a figure of the central axial, coronal "
        "and sagittal slices of the source, real, synthesized volumes and "
        "their difference",
    )
    parser.add_argument(
        "--plane",
        choices=PLANES,
        default=None,
        help="NIfTI: slicing plane; default: the model's",
    )
    parser.add_argument(
        "--normalization",
        default=None,
        metavar="JSON",
        help="NIfTI: file with the target intensity parameters ('lower', "
        "'upper', or a 'target_normalization' entry); default: the model's, "
        "else the source's own percentile range",
    )
    parser.add_argument(
        "--bias-correction",
        choices=("n4", "none"),
        default=None,
        help="NIfTI: correct the source for intensity non-uniformity first "
        "(n4, needs keras-pix2pix[registration]) or not; default: as the "
        "model's training did",
    )


def run(args):
    """Translates `--input` into `--output`; returns the exit status, 0."""
    sources = _check_paths(args)
    from keras_pix2pix.synthesis import synthesize_images, synthesize_volume

    model = load_model(args.model)
    source = sources[0]
    if source.is_dir():
        written = synthesize_images(
            model, source, args.output, batch_size=args.batch_size
        )
        print(f"Wrote {len(written)} image(s) to {args.output}")
        return 0
    spec, normalization = _contract(args, model)
    image = synthesize_volume(
        model,
        sources,
        args.output,
        spec=spec,
        normalization=normalization,
        batch_size=args.batch_size,
    )
    record = json.loads(image.header.extensions[0].get_content())
    mapping = (
        "the source's percentile range (no target parameters)"
        if record["target_normalization"] is None
        else "the training targets' intensity parameters"
    )
    print(
        f"Wrote {args.output} ({record['slice_spec']['plane']} slices"
        + ("; source corrected by N4" if record["source_bias_correction"] else "")
        + f"; intensities mapped to {mapping})"
    )
    if args.reference is not None:
        _compare(args, sources[0], image)
    return 0


def _compare(args, source, image):
    """Scores `image` against `--reference` in 3-D; draws `--figure`."""
    from keras_pix2pix.utils.volume_figures import save_volume_figure_files
    from keras_pix2pix.volume_evaluation import evaluate_volume_files

    scores = evaluate_volume_files(args.reference, image, mask=args.mask)
    print(
        f"3-D scores over the {scores['region']} ({scores['voxels']} voxels): "
        f"PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}, "
        f"MAE {scores['mae']:.4f} (in [-1, 1] units of the reference)"
    )
    if args.figure is not None:
        save_volume_figure_files(args.figure, source, args.reference, image)
        print(f"Wrote {args.figure}")


def _contract(args, model):
    """`(spec, normalization)` overriding the model's own, or `None` each.

    A model without a `SliceSpec` (from an older version's run folder) takes
    both from the config.json and normalization.json beside it.
    """
    from keras_pix2pix.errors import DataError
    from keras_pix2pix.run_folders import read_normalization, read_run_contract
    from keras_pix2pix.synthesis import default_slice_spec, model_input_channels

    spec = normalization = None
    channels = model_input_channels(model)
    if getattr(model, "slice_spec", None) is None:
        spec, normalization = read_run_contract(args.model, channels)
    if args.normalization is not None:
        try:
            normalization = read_normalization(args.normalization)
        except DataError as error:
            raise UsageError(f"--normalization: {error}") from error
    changes = {}
    if args.plane is not None:
        changes["plane"] = args.plane
    if args.bias_correction is not None:
        changes["bias_correction"] = "source" if args.bias_correction == "n4" else None
    if changes:
        base = spec or getattr(model, "slice_spec", None)
        spec = (base or default_slice_spec(channels)).replace(**changes)
    return spec, normalization


def _check_paths(args):
    """The `--input` paths, checked with `--output` against each other."""
    sources = [pathlib.Path(path).expanduser() for path in args.input]
    for source in sources:
        if not source.exists():
            raise UsageError(f"--input {source} does not exist.")
        if not source.is_dir() and not _is_nifti(source):
            raise UsageError(
                f"--input {source} must be a NIfTI file (.nii, .nii.gz) or a "
                "folder of 2-D images."
            )
    if len(sources) > 1 and not all(_is_nifti(s) for s in sources):
        raise UsageError(
            "Several --input paths must all be NIfTI volumes (one per source "
            f"contrast); received {[str(s) for s in sources]}."
        )
    if sources[0].is_file() and not _is_nifti(args.output):
        raise UsageError(
            f"--output {args.output} must end with .nii or .nii.gz for a NIfTI input."
        )
    _check_comparison(args, sources[0])
    return sources


def _check_comparison(args, source):
    """`--reference`, `--mask` and `--figure` go with a NIfTI input."""
    if args.reference is None:
        if args.mask is not None or args.figure is not None:
            raise UsageError("--mask and --figure need --reference (the real volume).")
        return
    if source.is_dir():
        raise UsageError("--reference applies to a NIfTI input, not a folder.")
    for option, path in (("--reference", args.reference), ("--mask", args.mask)):
        if path is not None and not pathlib.Path(path).expanduser().is_file():
            raise UsageError(f"{option} {path} is not a file.")
    if args.figure is not None and not str(args.figure).lower().endswith(".png"):
        raise UsageError(f"--figure {args.figure} must end with .png.")


def _is_nifti(path):
    name = str(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")
