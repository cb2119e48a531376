"""Loading the (source, target) pairs the data options name, and their layout."""

from keras_pix2pix.cli._options import PHANTOM_SEED_OFFSETS


def load_pairs(args, split, image_size, context=None):
    """Returns `(source, target, subject_ids or None, info)` for a split.

    Args:
        args: the parsed data options.
        split: "train", "val" or "test".
        image_size: the height and width, or None for the images' own.
        context: IXI neighbouring slices on each side; None reads `--context`.
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
        return source, target, None, {}
    if args.dataset == "ixi":
        context = args.context if context is None else context
        return _load_ixi(datasets, args, split, image_size, context)
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
    return source, target, ids, {}


def _load_ixi(datasets, args, split, image_size, context):
    source, target, info = datasets.load_ixi_pairs(
        args.data,
        pairing=args.pairing,
        plane=args.plane,
        image_size=image_size,
        context=context or 0,
        bias_correction=args.bias_correction,
        split=split,
        seed=args.split_seed,
        cache_dir=args.cache_dir,
        return_info=True,
    )
    if args.pairing == "paper":
        ids = [s for s in info["subjects"] for _ in info["slices"]]
    else:
        ids = [s for s in info["subjects"] for _ in info["per_subject"][s]["slices"]]
    return source, target, ids, info


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
    return source, target, None, {}


def target_normalization(info):
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


def pair_dataset(source, target, batch_size, steps, seed):
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
