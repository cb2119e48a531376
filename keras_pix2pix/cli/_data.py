"""Loading the (source, target) pairs the data options name, and their layout."""

from keras_pix2pix.cli._options import DEFAULT_CONTRASTS, PHANTOM_SEED_OFFSETS


def load_pairs(args, split, image_size, context=None, spec=None, contrasts=None):
    """Returns `(source, target, subject_ids or None, info or None)`.

    `info` is the `SliceInfo` of IXI or BraTS slices, else None.

    Args:
        args: the parsed data options.
        split: "train", "val" or "test".
        image_size: the height and width, or None for the images' own.
        context: IXI neighbouring slices on each side; None reads `--context`.
        spec: for IXI and BraTS, the `SliceSpec` to cut with (a trained
            model's), instead of the one the options describe.
        contrasts: for IXI and BraTS, a trained model's `contrasts`, used
            where `--source-contrast` / `--target-contrast` are not given.
    """
    from keras_pix2pix import datasets

    if args.dataset == "phantom":
        return _load_phantom(datasets, args, split, image_size)
    if args.dataset == "mnist":
        source, target = datasets.load_mnist_pairs(
            args.task,
            args.mnist_path,
            split="train" if split == "train" else "test",
            count=args.count,
            seed=args.seed,
        )
        return source, target, None, None
    if args.dataset in ("ixi", "brats"):
        if spec is None:
            spec = slice_spec(args, image_size, context)
        return _load_volumes(datasets, args, split, spec, contrasts or {})
    return _load_folder(datasets, args, image_size)


def _load_phantom(datasets, args, split, image_size):
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
    return source, target, ids, None


def slice_spec(args, image_size, context=None):
    """The `SliceSpec` of the IXI options (`context` None reads `--context`)."""
    from keras_pix2pix.datasets import SliceSpec

    if args.pairing == "paper":
        return SliceSpec(image_size=image_size)
    return SliceSpec(
        plane=args.plane,
        image_size=image_size,
        context=(args.context if context is None else context) or 0,
        bias_correction=args.bias_correction,
    )


def _load_volumes(datasets, args, split, spec, contrasts):
    """IXI or BraTS slices, in the direction of the options or the model."""
    sources, target = DEFAULT_CONTRASTS[args.dataset]
    options = {
        "source": args.source_contrast or contrasts.get("sources") or sources,
        "target": args.target_contrast or contrasts.get("target") or target,
        "cache_dir": args.cache_dir,
        "workers": args.workers,
    }
    selection = datasets.SubjectSelection(split=split, seed=args.split_seed)
    if args.dataset == "brats":
        from keras_pix2pix.datasets import brats

        options["suffixes"] = (
            brats.BRATS_2023_SUFFIXES
            if args.brats_names == "2023"
            else brats.BRATS_SUFFIXES
        )
        (root,) = args.data  # one folder: checked with the options
        source, target, info = brats.load_brats_pairs(root, spec, selection, **options)
    else:
        source, target, info = datasets.load_ixi_pairs(
            args.data, spec, selection, pairing=args.pairing, **options
        )
    return source, target, info.slice_subjects(), info


def _load_folder(datasets, args, image_size):
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
    return source, target, None, None


def is_last():
    """Whether Keras lays images out channels last."""
    import keras

    return keras.config.image_data_format() == "channels_last"


def channels_last(images):
    """`images` (channels last) in the layout Keras uses."""
    import keras
    import numpy as np

    if keras.config.image_data_format() == "channels_first":
        return np.ascontiguousarray(np.moveaxis(images, -1, 1))
    return images
