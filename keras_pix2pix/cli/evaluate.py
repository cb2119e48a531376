"""The `evaluate` command: scores a trained model on held-out pairs."""

from keras_pix2pix.cli import _data
from keras_pix2pix.cli._model import load_model
from keras_pix2pix.cli._options import (
    POSITIVE_INT,
    PROG,
    PROTOCOLS,
    HelpFormatter,
    UsageError,
    add_dataset_options,
    check_dataset_args,
)

EPILOG = f"""\
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


def add_parser(subparsers):
    """Adds the `evaluate` command to `subparsers`."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score a model on held-out pairs (PSNR, SSIM, MAE)",
        description="Translate the sources of a dataset split with a trained "
        "model and score the results against the real targets, per image, per "
        "subject and as mean +- std.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, help="a .keras file written by `train`"
    )
    add_dataset_options(parser, evaluate=True)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the data (phantom heads, MNIST masks and noise)",
    )
    _add_scoring_options(parser.add_argument_group("scoring"))
    parser.set_defaults(command=run)


def _add_scoring_options(scoring):
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
        type=POSITIVE_INT,
        default=None,
        help="centre crop (pixels, square) before scoring",
    )
    scoring.add_argument(
        "--batch-size", type=POSITIVE_INT, default=16, help="images per batch"
    )
    scoring.add_argument(
        "--csv",
        default=None,
        help="write the summary (one row per subject, then mean and std) here",
    )
    scoring.add_argument(
        "--per-image-csv", default=None, help="write one row per image here"
    )


def run(args):
    """Scores `--model` on the split and prints the table; returns 0."""
    check_dataset_args(args)
    from keras_pix2pix.evaluation import (
        evaluate_pairs,
        format_table,
        summary_rows,
        write_csv,
    )

    model = load_model(args.model)
    shape = tuple(model.generator.input_shape[1:])
    model_size = int(shape[0] if _data.is_last() else shape[1])
    image_size = args.image_size or model_size
    context = args.context
    if context is None:  # the neighbours the model was trained with
        channels = int(shape[-1] if _data.is_last() else shape[0])
        context = (channels - 1) // 2 if args.dataset in ("ixi", "brats") else 0
    spec = getattr(model, "slice_spec", None)  # how the model's slices were cut
    if spec is not None and args.image_size is not None:
        spec = spec.replace(image_size=image_size)
    source, target, ids, _ = _data.load_pairs(
        args,
        args.split,
        image_size,
        context=context,
        spec=spec,
        contrasts=getattr(model, "contrasts", None),
    )
    got = tuple(_data.channels_last(source[:1]).shape[1:])
    if got != shape:
        raise UsageError(
            f"The model takes images of shape {shape} but the data are {got}; "
            "check --image-size, --channels and the dataset."
        )
    fake = _predict(model, source, args.batch_size)
    mask = _mask(args, source, target)
    rows, summary = evaluate_pairs(
        target,
        fake,
        protocol=args.protocol,
        mask=mask,
        crop=args.crop,
        subject_ids=ids,
    )
    print(format_table(summary))
    if args.dataset in ("ixi", "brats"):
        _print_volume_scores(target, fake, ids, mask)
    if args.csv:
        print(f"Wrote {write_csv(summary_rows(summary), args.csv)}")
    if args.per_image_csv:
        print(f"Wrote {write_csv(rows, args.per_image_csv)}")
    return 0


def _predict(model, source, batch_size):
    """The model's translations of `source`, channels last, as float32."""
    import keras
    import numpy as np

    fake = model.predict(_data.channels_last(source), batch_size=batch_size, verbose=0)
    fake = np.asarray(keras.ops.convert_to_numpy(fake), np.float32)
    if not _data.is_last():
        fake = np.moveaxis(fake, 1, -1)
    return fake


def _print_volume_scores(target, fake, ids, mask):
    """Each subject's slices scored as one volume, in 3-D (see volume_evaluation)."""
    import numpy as np

    from keras_pix2pix.evaluation import derive_mask
    from keras_pix2pix.volume_evaluation import evaluate_volume

    if mask is None:
        mask = derive_mask(target)
    ids = np.asarray(ids)
    print("\nPer volume (each subject's slices as one volume; 3-D SSIM window):")
    print(f"{'subject':<24} {'slices':>6} {'psnr':>8} {'ssim':>7} {'mae':>7}")
    for subject in dict.fromkeys(ids):
        index = np.flatnonzero(ids == subject)
        scores = evaluate_volume(
            target[index, ..., 0], fake[index, ..., 0], mask[index]
        )
        print(
            f"{subject:<24} {len(index):>6} {scores['psnr']:>8.2f} "
            f"{scores['ssim']:>7.4f} {scores['mae']:>7.4f}"
        )


def _mask(args, source, target):
    """The brain_mask protocol's mask, or None for the other protocols."""
    from keras_pix2pix.evaluation import derive_mask

    if args.protocol != "brain_mask":
        return None
    reference = target if args.mask_from == "target" else source
    return derive_mask(reference, args.mask_threshold)
