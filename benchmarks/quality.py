"""Synthesis quality on real MRI: IXI T1 -> T2 on the subjects in `--data`.

One real IXI subject (IXI002-Guys-0828: T1, T2 and HD-BET brain masks, on the
release's own grids) is paired by the library's default, anatomically aligned
pairing (T2 resampled onto the T1 grid through the NIfTI affines, axial slices
of the T1 grid, each volume scaled to [-1, 1]; `--pairs registered` registers
T2 onto T1 first, `--bias-correction both` corrects both volumes by N4
first), in a 256 x 128 frame centred on the head (`frame="head"`: every head
pixel of the 150 x 256 axial slices, half the pixels of a 256 x 256 frame).

Split without leakage between neighbouring slices: training on one contiguous
block of axial slices, testing on another, with a gap between them. Compared on
the same test slices, inside the brain mask and over the whole slice (the brain
also split into its outermost voxel ring, where the T1 is cut by its mask, and
the rest):

1. `histogram`: a per-voxel intensity mapping T1 -> T2 (the mean T2 of each of
   256 T1 intensity bins), fitted on the training slices;
2. `pix2pix_l1`: `Pix2Pix` with the reference defaults (L1 x 100, vanilla GAN);
3. `pix2pix_mse`: the same with the paper's MSE reconstruction loss;
4. `generator_l1`: the generator alone trained with L1 only (no adversary).

`--split hemispheres` is a diagnostic on the same subject (train on one
hemisphere, mirrored, test on the other); `--split subjects` trains on some
subjects and tests on others, for a `--data` folder that holds several
subjects, each with a T1 brain mask (`split_by_subject`).

Each model trains for the same number of steps, batch 1, Adam(2e-4, 0.5),
with the reference jitter and the learning rate decayed linearly to 0 over the
second half (`keras_pix2pix.schedules.LinearDecay`). Predictions are scored in
each inference mode (`"eval"`: BatchNorm moving statistics, no dropout;
`"per_image"`: each image's own statistics, no dropout; `"train"`: each
image's own statistics and dropout, as the paper did; `"train_mean5"`: the
mean of five train-mode draws).

Each backend runs in its own process (`--backends` spawns one per backend);
each writes `{backend}.json` (scores, timings, settings) and `{backend}.npz`
(test predictions) under `--output`; the parent then writes `table.md` and
`figure.png` (T1 | real T2 | each model's T2 | absolute error, for three test
slices).

Usage:
    python benchmarks/quality.py                      # all three backends
    python benchmarks/quality.py --backends torch --steps 200
    python benchmarks/quality.py --report-only        # table and figure again

The subjects are read from `--data`, a folder that holds `ixi/` (each
subject's IXI T1 and T2 `.nii.gz` files, e.g. `IXI002-Guys-0828-T1.nii.gz`)
and `ixi-brainmasks/` (one T1 brain mask per subject,
`{subject}-T1-brainmask.nii.gz`); without `ixi/` the script says so and exits.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SUBJECT = "IXI002-Guys-0828"
BACKENDS = ("tensorflow", "torch", "jax")
MODELS = ("pix2pix_l1", "pix2pix_mse", "generator_l1")
IMAGE_SIZE = (256, 128)
DEPTH = 7  # 128 / 2**7 = 1: the deepest U-Net this frame allows (unet_128)
JITTER_SCALE = 286 / 256  # the reference's (PairedSliceDataset's default)


# Data.


def load_subject(
    data_dir,
    image_size=IMAGE_SIZE,
    context=0,
    pairing="aligned",
    bias_correction=None,
    subject=SUBJECT,
    cache_dir=None,
):
    """Paired T1 / T2 axial slices of one subject, with its brain mask.

    Args:
        data_dir: the folder holding `ixi/` and `ixi-brainmasks/`.
        image_size: `(height, width)` of the head-centred frame.
        context: neighbouring T1 slices on each side as extra channels.
        pairing: `"aligned"` (T2 resampled through the headers, the
            library's default) or `"registered"` (T2 registered onto T1).
        bias_correction: `None`, `"source"`, `"target"` or `"both"`: the
            volumes N4 corrects first (`load_ixi_pairs`).
        subject: the IXI subject ID.
        cache_dir: `None`, or a folder that keeps the prepared slices (in a
            sub-folder per subject, `load_ixi_pairs(cache_dir=...)`), so
            that the registration and the bias correction run once for
            every backend's process and every later run.

    Returns:
        `(t1, t2, mask, slices)`: `(N, H, W, 2 * context + 1)` and
        `(N, H, W, 1)` float32 arrays in [-1, 1],
        a boolean `(N, H, W)` brain mask (the T1 HD-BET mask, cut like the
        slices) and the axial slice index of each image.
    """
    from keras_pix2pix.datasets import SliceSpec, SubjectSelection, load_ixi_pairs

    spec = SliceSpec(
        image_size=image_size,
        frame="head",
        context=context,
        bias_correction=bias_correction,
    )
    t1, t2, info = load_ixi_pairs(
        data_dir / "ixi",
        spec,
        SubjectSelection(subjects=[subject]),
        pairing=pairing,
        cache_dir=None if cache_dir is None else pathlib.Path(cache_dir) / subject,
    )
    details = info.per_subject[subject]
    mask = cut_mask(
        real_brain_mask(data_dir, subject),
        details["slices"],
        image_size,
        centre=details["frame_centre"],
    )
    return np.asarray(t1), np.asarray(t2), mask, np.asarray(details["slices"])


def brain_mask_path(data_dir, subject=SUBJECT):
    """Where the subject's T1 brain mask lies under `data_dir`."""
    return data_dir / "ixi-brainmasks" / f"{subject}-T1-brainmask.nii.gz"


def real_brain_mask(data_dir, subject=SUBJECT):
    """The subject's T1 brain mask (HD-BET's for the real subject), boolean,
    on the canonical T1 grid."""
    from keras_pix2pix.datasets import nifti

    path = brain_mask_path(data_dir, subject)
    return np.asarray(nifti.to_canonical(nifti.load_volume(path)).dataobj) > 0.5


def cut_mask(volume, slices, image_size, centre=None):
    """Axial slices of a canonical mask volume, framed like the image slices."""
    from keras_pix2pix.datasets import slicing

    cut = slicing.extract_slices(volume, "axial", slices)
    return slicing.crop_or_pad(cut, image_size, centre=centre)


def split_blocks(slices, mask, train_fraction=0.65, gap=6, min_brain=0.05):
    """Contiguous train and test blocks of slices, a gap apart.

    Only slices whose brain covers at least `min_brain` of the largest brain
    section count. The first `train_fraction` of them (from the bottom of the
    head) train; after `gap` slices, the rest test.

    Returns:
        `(train, test)`: index arrays into `slices`.
    """
    brain = brain_slices(mask, min_brain)
    train_end = brain[0] + round(train_fraction * len(brain))
    train = np.arange(brain[0], train_end)
    test = np.arange(train_end + gap, brain[-1] + 1)
    return train, test


def brain_slices(mask, min_brain=0.05):
    """Indices of the slices from the first to the last through the brain.

    A slice counts when its brain covers at least `min_brain` of the largest
    brain section.
    """
    area = mask.reshape(len(mask), -1).sum(axis=1)
    usable = np.flatnonzero(area >= min_brain * area.max())
    return np.arange(usable[0], usable[-1] + 1)


def split_hemispheres(t1, t2, mask, slices, band=3, min_brain=0.05):
    """Train on one hemisphere, mirrored, and test on the other.

    A diagnostic split, not the benchmark's. The training images of every
    brain slice (those whose brain covers at least `min_brain` of the largest
    section) are the half left of the midline in the image (the subject's
    right hemisphere: `extract_slices` shows slices as radiologists do) and
    that half mirrored about the midline: whole, symmetric heads made of one
    hemisphere's voxels, so that no voxel of the other, source or target, is
    trained on. The test images are the slices as they are, scored right of
    the midline only. So the
    test anatomy (mirrored) is in the training set, as it is when subjects
    are split, which the blocks of `split_blocks` cannot give one subject.
    The midline is the column of the brain mask's centre of mass; the `band`
    columns right of it are in no test region, a gap between the voxels
    trained on and those tested.

    Args:
        t1, t2, mask, slices: as `load_subject` gives them.

    Returns:
        `(t1, t2, mask, slices, train, test, test_region)`: the training
        images followed by the test images (and their axial slice indices),
        the indices of each, and a boolean region `(N, H, W)` where the test
        images are scored.
    """
    kept = brain_slices(mask, min_brain)
    columns = mask.sum(axis=(0, 1))
    midline = round(float(np.average(np.arange(len(columns)), weights=columns)))
    column = np.arange(mask.shape[2])
    mirrored = np.where(column <= midline, column, 2 * midline - column)
    outside = mirrored < 0  # no left voxel mirrors here: background

    def mirror(images, background):
        out = images[kept][:, :, np.clip(mirrored, 0, None)]
        out[:, :, outside] = background
        return out

    arrays = [
        np.concatenate([mirror(a, b), a[kept]])
        for a, b in ((t1, -1.0), (t2, -1.0), (mask, False))
    ]
    train = np.arange(len(kept))
    test = len(kept) + train
    test_region = np.zeros(arrays[2].shape, bool)
    test_region[test] = column > midline + band
    return (*arrays, np.tile(slices[kept], 2), train, test, test_region)


def split_by_subject(data_dir, test_subjects=None, seed=0, min_brain=0.05, **loading):
    """The brain slices of several subjects, split by subject.

    The subjects are those under `data_dir / "ixi"` with a T1, a T2 and a T1
    brain mask (`brain_mask_path`); `split_subjects` draws the test subjects
    with `seed`. Every slice from the first to the last through a subject's
    brain (as `brain_slices` counts them) is used, the training subjects' to
    train and the test subjects' to test: no slice of a test subject is
    trained on, and every test slice's anatomy is trained on in other heads.

    Args:
        data_dir: the folder holding `ixi/` and `ixi-brainmasks/`.
        test_subjects: how many subjects test; by default a quarter of them
            (at least one).
        seed: seed of the draw.
        **loading: `image_size`, `context`, `pairing`, `bias_correction`,
            `cache_dir` of `load_subject`.

    Returns:
        `(t1, t2, mask, slices, train, test, subjects)`: the slices of every
        subject, training subjects first (as `load_subject` gives them),
        the indices of the training and test slices, and
        `{"train": [IDs], "test": [IDs]}`.

    Raises:
        SystemExit: with fewer than two such subjects, or a `test_subjects`
            that leaves no training or no test subject.
    """
    from keras_pix2pix.datasets import list_ixi_subjects, split_subjects

    found = list_ixi_subjects(data_dir / "ixi").subject_ids
    ids = [s for s in found if brain_mask_path(data_dir, s).is_file()]
    if test_subjects is None:
        test_subjects = max(1, len(ids) // 4)
    if len(ids) < 2 or not 0 < test_subjects < len(ids):
        listed = ", ".join(ids[:5]) + ", ..." * (len(ids) > 5)
        sys.exit(
            f"The subject split needs subjects with a T1, a T2 (in {data_dir / 'ixi'}) "
            f"and a T1 brain mask (in {data_dir / 'ixi-brainmasks'}), at least one "
            f"to train and one to test: {len(ids)} found ({listed or 'none'}), "
            f"{test_subjects} asked to test."
        )
    drawn = split_subjects(ids, (len(ids) - test_subjects, 0, test_subjects), seed)
    subjects = {"train": drawn["train"], "test": drawn["test"]}
    parts = {"train": [], "test": []}
    for group, members in subjects.items():
        for subject in members:
            t1, t2, mask, slices = load_subject(data_dir, subject=subject, **loading)
            kept = brain_slices(mask, min_brain)
            parts[group].append((t1[kept], t2[kept], mask[kept], slices[kept]))
    every = parts["train"] + parts["test"]
    t1, t2, mask, slices = (
        np.concatenate(arrays) for arrays in zip(*every, strict=True)
    )
    count = sum(len(part[0]) for part in parts["train"])
    return t1, t2, mask, slices, np.arange(count), np.arange(count, len(t1)), subjects


# The models.


def build_model(
    name,
    steps,
    seed,
    image_size=IMAGE_SIZE,
    depth=DEPTH,
    filters=64,
    channels=1,
    learning_rate=2e-4,
    prior=None,
):
    """A compiled model of kind `name`: `channels` source, 1 target channel.

    The networks are the library's `NetworkSpec` (the reference U-Net and
    70x70 PatchGAN, `depth` down-sampling blocks); with a `prior` layer (a
    guess of the target from the source) the U-Net learns a correction to it.
    """
    import keras

    from keras_pix2pix.models import NetworkSpec
    from keras_pix2pix.schedules import LinearDecay

    keras.utils.set_random_seed(seed)

    def adam():
        schedule = LinearDecay(learning_rate, steps // 2, steps - steps // 2)
        return keras.optimizers.Adam(schedule, beta_1=0.5)

    networks = NetworkSpec(filters=filters, depth=depth)
    shape = (*image_size, channels)
    if name == "generator_l1":
        generator = networks.build_generator(shape, 1, prior)
        generator.compile(optimizer=adam(), loss="mean_absolute_error")
        return generator
    model = networks.build(shape, 1, prior=prior)
    loss = {"pix2pix_l1": "l1", "pix2pix_mse": "l2"}[name]
    model.compile(
        generator_optimizer=adam(),
        discriminator_optimizer=adam(),
        reconstruction_loss=loss,
    )
    return model


INFERENCE_MODES = ("eval", "per_image", "train", "train_mean5")


def predict(model, images, mode):
    """Generated images in inference `mode`, one image at a time.

    `"eval"`: BatchNorm's moving averages, no dropout; `"per_image"`: each
    image's own BatchNorm statistics, no dropout (`Pix2Pix`'s
    `inference_mode="per_image"`); `"train"`: each image's own statistics and
    dropout (one draw); `"train_mean5"`: the mean of five such draws. Train
    mode also moves BatchNorm's moving averages, so score it last.
    """
    import contextlib

    import keras

    from keras_pix2pix.layers._image_statistics import image_statistics

    generator = getattr(model, "generator", model)
    draws = 5 if mode == "train_mean5" else 1
    context = image_statistics if mode == "per_image" else contextlib.nullcontext
    out = []
    for image in images:
        batch = keras.ops.convert_to_tensor(image[None])
        with context():
            fakes = [
                keras.ops.convert_to_numpy(
                    generator(batch, training=mode.startswith("train"))
                )
                for _ in range(draws)
            ]
        out.append(np.mean(fakes, axis=0))
    return np.concatenate(out).astype(np.float32)


def whole_epochs(steps, dataset):
    """`steps` rounded up to whole epochs of `dataset`: `(epochs, steps)`.

    The learning-rate schedule is built for the rounded count, so it reaches
    zero at the last step that is run.
    """
    epochs = -(-steps // len(dataset))
    return epochs, epochs * len(dataset)


def fit_with_curve(model, data, epochs, curve_every, source, target, mask, region=None):
    """Trains `epochs` epochs of `data`, scoring the test slices on the way.

    Args:
        curve_every: score the test slices (eval mode, in the brain) after
            about every `curve_every` steps (whole epochs); 0 for never.
        region: where the scores count (see `score`).

    Returns:
        `(history, curve, seconds)`: the per-epoch training logs, a list of
        `[step, psnr, ssim]` and the seconds spent training (not scoring).
    """
    every = max(1, round(curve_every / len(data))) if curve_every else epochs
    history, curve, seconds = {}, [], 0.0
    for start in range(0, epochs, every):
        end = min(epochs, start + every)
        began = time.perf_counter()
        logs = model.fit(data, initial_epoch=start, epochs=end, verbose=0).history
        seconds += time.perf_counter() - began
        for key, values in logs.items():
            history.setdefault(key, []).extend(values)
        if curve_every:
            fake = predict(model, source, "eval")
            brain = score(target, fake, mask, region)["brain"]
            curve.append([end * len(data), brain["psnr"][0], brain["ssim"][0]])
    return history, curve, seconds


def score_inference_modes(model, source, target, mask, seed, region=None):
    """Test predictions and scores in each inference mode.

    Returns:
        `{mode: (predictions, scores)}` for each of `INFERENCE_MODES`; the
        seed is set before each, so train-mode dropout draws are reproducible.
    """
    import keras

    out = {}
    for mode in INFERENCE_MODES:
        keras.utils.set_random_seed(seed)
        fake = predict(model, source, mode)
        out[mode] = (fake, score(target, fake, mask, region))
    return out


def brain_edge(mask):
    """The outermost voxel ring of each slice's brain mask, boolean.

    The in-plane pixels of the mask next to (8-connected) a pixel outside it.
    """
    from scipy import ndimage

    square = np.ones((3, 3), bool)
    core = np.stack([ndimage.binary_erosion(m, square) for m in mask])
    return mask & ~core


def score(real, fake, mask, region=None):
    """Mean and std of PSNR / SSIM / MAE in the brain and over the slice.

    The brain is also split into its outermost voxel ring (`"edge"`) and the
    rest (`"core"`): the T1 brain mask cuts the T1 there, and the T2 can
    reach past it. With a boolean `region` (`(N, H, W)`), only its pixels
    count, also for `"slice"`.
    """
    from keras_pix2pix.evaluation import evaluate_pairs

    edge = brain_edge(mask)
    whole = {"protocol": "full"}
    if region is not None:
        mask, edge = mask & region, edge & region
        whole = {"protocol": "brain_mask", "mask": np.array(region)}
    out = {}
    for region_name, kwargs in (
        ("brain", {"protocol": "brain_mask", "mask": mask}),
        ("core", {"protocol": "brain_mask", "mask": mask & ~edge}),
        ("edge", {"protocol": "brain_mask", "mask": edge}),
        ("slice", whole),
    ):
        _, summary = evaluate_pairs(real, fake, **kwargs)
        out[region_name] = {
            metric: [summary["mean"][metric], summary["std"][metric]]
            for metric in ("psnr", "ssim", "mae")
        }
    return out


def compare_models(
    t1,
    t2,
    mask,
    train,
    test,
    *,
    models=MODELS,
    steps,
    seed=0,
    curve_every=0,
    jitter_scale=JITTER_SCALE,
    prior="none",
    loss_mask="none",
    test_region=None,
    on_model_done=None,
    **architecture,
):
    """Fits the baseline and trains each model; scores them on the test slices.

    Args:
        t1, t2: `(N, H, W, 1)` source and target slices in [-1, 1].
        mask: boolean `(N, H, W)` brain mask.
        train, test: indices of the training and test slices.
        models: names from `MODELS`.
        steps: training steps of each model (rounded up to whole epochs).
        seed: seed of the weights, the order and the jitter.
        curve_every: score the test slices after about every `curve_every`
            training steps (`results["curves"]`); 0 for only at the end.
        jitter_scale: the random-crop jitter's enlargement (1: flips only).
        prior: `"histogram"`: each generator learns a correction to the
            histogram baseline (`PriorResidualGenerator`); `"none"`.
        loss_mask: `"head"`: the reconstruction loss counts only the pixels
            where the T1 slice has signal (`sample_weight`); `"none"`.
        test_region: `None`, or a boolean `(N, H, W)` region (of all the
            images, as `split_hemispheres` gives it) outside which the test
            images' scores do not count.
        on_model_done: called with `results` after each model, e.g. to save
            what a long run has measured so far.
        **architecture: `image_size`, `depth`, `filters`, `learning_rate`
            of `build_model`.

    Returns:
        `(results, predictions, histories)`: `results` holds `steps`,
        `scores` (by `model/mode`: brain and slice mean and std of PSNR, SSIM,
        MAE; `model/fit` scores the training slices themselves, in eval
        mode, to show how much of the test gap is overfitting) and `seconds`
        (training time by model), `curves` (by model: `[step, psnr, ssim]`
        in the brain, eval mode); `predictions` the test
        predictions by the same keys; `histories` each model's per-epoch
        training logs.
    """
    import keras

    from keras_pix2pix.baselines import HistogramMapping
    from keras_pix2pix.datasets import PairedSliceDataset

    real = t2[test]
    middle = t1.shape[-1] // 2
    centre = t1[..., middle : middle + 1]  # the slice itself, without neighbours
    if test_region is not None:
        test_region = test_region[test]
    weight = None
    if loss_mask == "head":  # the pixels where the T1 has signal
        weight = (centre[train, ..., 0] > -1).astype(np.float32)
    data = PairedSliceDataset(
        t1[train],
        t2[train],
        sample_weight=weight,
        batch_size=1,
        augment=True,
        seed=seed,
        jitter_scale=jitter_scale,
    )
    epochs, steps = whole_epochs(steps, data)
    results = {"steps": steps, "scores": {}, "seconds": {}, "curves": {}}
    start = time.perf_counter()
    baseline = HistogramMapping().fit(centre[train], t2[train])
    predictions = {"histogram": baseline.predict(centre[test])}
    results["seconds"]["histogram"] = time.perf_counter() - start
    results["scores"]["histogram"] = score(
        real, predictions["histogram"], mask[test], test_region
    )
    results["scores"]["histogram/fit"] = score(
        t2[train], baseline.predict(centre[train]), mask[train]
    )
    histories = {}
    for name in models:
        data.set_epoch(0)
        model = build_model(
            name,
            steps,
            seed,
            channels=t1.shape[-1],
            prior=baseline.as_layer(channel=middle) if prior == "histogram" else None,
            **architecture,
        )
        histories[name], results["curves"][name], results["seconds"][name] = (
            fit_with_curve(
                model,
                data,
                epochs,
                curve_every,
                t1[test],
                real,
                mask[test],
                test_region,
            )
        )
        # Eval mode first: train-mode calls update BatchNorm's moving averages.
        fitted = predict(model, t1[train], "eval")
        results["scores"][f"{name}/fit"] = score(t2[train], fitted, mask[train])
        scored = score_inference_modes(
            model, t1[test], real, mask[test], seed, test_region
        )
        for mode, (fake, scores) in scored.items():
            predictions[f"{name}/{mode}"] = fake
            results["scores"][f"{name}/{mode}"] = scores
        scores = {k: v["brain"] for k, v in results["scores"].items()}
        print(
            f"[{keras.backend.backend()}] {name}: {steps} steps in "
            f"{results['seconds'][name]:.0f} s; in-brain PSNR / SSIM: test "
            f"{scores[name + '/eval']['psnr'][0]:.2f} dB / "
            f"{scores[name + '/eval']['ssim'][0]:.3f} (eval mode), "
            f"{scores[name + '/per_image']['psnr'][0]:.2f} dB / "
            f"{scores[name + '/per_image']['ssim'][0]:.3f} (per_image), "
            f"{scores[name + '/train']['psnr'][0]:.2f} dB / "
            f"{scores[name + '/train']['ssim'][0]:.3f} (train mode); training "
            f"slices {scores[name + '/fit']['psnr'][0]:.2f} dB (histogram: test "
            f"{scores['histogram']['psnr'][0]:.2f}, training slices "
            f"{scores['histogram/fit']['psnr'][0]:.2f})",
            flush=True,
        )
        if on_model_done is not None:
            on_model_done(results)
    return results, predictions, histories


def run_backend(args):
    """The benchmark on this process's backend; writes its JSON and arrays."""
    import keras

    loading = {
        "context": args.context,
        "pairing": args.pairs,
        "bias_correction": args.bias_correction,
        "cache_dir": args.cache,
    }
    test_region, subjects = None, {"train": [SUBJECT], "test": [SUBJECT]}
    if args.split == "subjects":
        t1, t2, mask, slices, train, test, subjects = split_by_subject(
            args.data, args.test_subjects, **loading
        )
    else:
        t1, t2, mask, slices = load_subject(args.data, **loading)
        if args.split == "hemispheres":
            t1, t2, mask, slices, train, test, test_region = split_hemispheres(
                t1, t2, mask, slices
            )
        else:
            train, test = split_blocks(slices, mask)
    backend = keras.backend.backend()
    settings = {
        "split": args.split,
        "backend": backend,
        "keras": keras.__version__,
        "subjects": subjects,
        "image_size": list(IMAGE_SIZE),
        "depth": DEPTH,
        "filters": args.filters,
        "context": args.context,
        "pairing": args.pairs,
        "bias_correction": args.bias_correction,
        "learning_rate": args.learning_rate,
        "jitter_scale": args.jitter_scale,
        "prior": args.prior,
        "loss_mask": args.loss_mask,
        "batch_size": 1,
        "seed": args.seed,
        "train_slices": [int(slices[train[0]]), int(slices[train[-1]])],
        "test_slices": [int(slices[test[0]]), int(slices[test[-1]])],
        "train_images": len(train),
        "test_images": len(test),
    }
    print(f"[{backend}] {describe_split(settings)}", flush=True)
    out = pathlib.Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    record = out / f"{backend}.json"

    def save(results):
        record.write_text(json.dumps({**settings, **results}, indent=2))

    results, predictions, _ = compare_models(
        t1,
        t2,
        mask,
        train,
        test,
        models=args.models,
        steps=args.steps,
        seed=args.seed,
        filters=args.filters,
        learning_rate=args.learning_rate,
        curve_every=args.curve_every,
        jitter_scale=args.jitter_scale,
        prior=args.prior,
        loss_mask=args.loss_mask,
        test_region=test_region,
        on_model_done=save,
    )
    np.savez_compressed(
        out / f"{backend}.npz",
        t1=t1[test][..., args.context : args.context + 1],
        t2=t2[test],
        mask=mask[test],
        **{key.replace("/", "__"): value for key, value in predictions.items()},
    )
    save(results)


# The paper's pairing, measured.


def pairing_data(root, brain):
    """Paper-mode pairs and aligned 256 x 256 slices of one IXI-named subject.

    Args:
        root: a folder with one subject's T1 and T2 files.
        brain: the subject's boolean brain mask on the canonical T1 grid.

    Returns:
        A dict: `paper` (source, target), `aligned` (source, target),
        `mask`, `train` and `test` (indices into the aligned slices) and
        `slices`.
    """
    from keras_pix2pix.datasets import SliceSpec, load_ixi_pairs

    spec = SliceSpec(image_size=256)
    paper = load_ixi_pairs(root, spec, pairing="paper")[:2]
    t1, t2, info = load_ixi_pairs(root, spec)
    (details,) = info.per_subject.values()
    slices = np.asarray(details["slices"])
    mask = cut_mask(brain, slices, 256)
    train, test = split_blocks(slices, mask)
    return {
        "paper": paper,
        "aligned": (np.asarray(t1), np.asarray(t2)),
        "mask": mask,
        "train": train,
        "test": test,
        "slices": slices,
    }


def compare_pairings(data, *, steps, seed=0, filters=64):
    """The paper's pix2pix trained on paper pairs and on aligned pairs.

    Both train the paper's model (unet_256, MSE x 100, batch 1) for the same
    number of steps: one on the paper's 20 index-matched pairs, one on the
    aligned training block; both are scored on the aligned test block
    (held-out T1 slices against the T2 resampled onto the T1 grid).

    Returns:
        `{"paper/eval": scores, ...}` for both sets in eval and train
        inference modes (`scores` as `score` gives them), and `steps`: the
        steps each set trained (`steps` rounded up to its whole epochs).
    """
    import keras

    from keras_pix2pix.datasets import PairedSliceDataset

    source, target = data["aligned"]
    test, mask = data["test"], data["mask"][data["test"]]
    train = data["train"]
    sets = {"paper": data["paper"], "aligned": (source[train], target[train])}
    out = {"steps": {}}
    for name, (t1, t2) in sets.items():
        dataset = PairedSliceDataset(t1, t2, batch_size=1, augment=True, seed=seed)
        epochs, out["steps"][name] = whole_epochs(steps, dataset)
        model = build_model(
            "pix2pix_mse",
            out["steps"][name],
            seed,
            image_size=(256, 256),
            depth=8,
            filters=filters,
        )
        model.fit(dataset, epochs=epochs, verbose=0)
        scored = score_inference_modes(model, source[test], target[test], mask, seed)
        for mode, (_, scores) in scored.items():
            out[f"{name}/{mode}"] = scores
        brain = out[f"{name}/eval"]["brain"]
        print(
            f"[{keras.backend.backend()}] trained on {name} pairs: in-brain PSNR "
            f"{brain['psnr'][0]:.2f} dB, SSIM {brain['ssim'][0]:.3f}",
            flush=True,
        )
    return out


def write_phantom_subjects(folder, count, shape=(256, 256, 150), seed=0):
    """Writes phantom subjects laid out as `--data` expects; returns their IDs.

    `folder / "ixi"` gets each subject's T1 and T2 volumes on the IXI grids,
    and `folder / "ixi-brainmasks"` its brain masks (`brain_mask_path`), both
    by `write_phantom_ixi`.
    """
    from keras_pix2pix.datasets import write_phantom_ixi

    folder = pathlib.Path(folder)
    paths = write_phantom_ixi(
        folder / "ixi",
        count,
        shape=shape,
        seed=seed,
        brain_masks=folder / "ixi-brainmasks",
    )
    return [path.name.removesuffix("-T1.nii.gz") for path in paths[::2]]


def run_pairing(args):
    """The pairing comparison on the real subject and on a phantom."""
    import tempfile

    import keras

    backend = keras.backend.backend()
    out = pathlib.Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "backend": backend,
        "requested_steps": args.pairing_steps,
        "filters": args.pairing_filters,
        "seed": args.seed,
    }
    names = args.pairing_subjects
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            data_dir, subject = args.data, SUBJECT
            if name == "phantom":
                data_dir = pathlib.Path(folder)
                (subject,) = write_phantom_subjects(data_dir, 1)
            data = pairing_data(data_dir / "ixi", real_brain_mask(data_dir, subject))
            results[name] = compare_pairings(
                data,
                steps=args.pairing_steps,
                seed=args.seed,
                filters=args.pairing_filters,
            )
            results[name]["train_slices"] = [
                int(data["slices"][data["train"][0]]),
                int(data["slices"][data["train"][-1]]),
            ]
            results[name]["test_slices"] = [
                int(data["slices"][data["test"][0]]),
                int(data["slices"][data["test"][-1]]),
            ]
            write_pair_figure(data, out / f"pairs_{name}.png")
    path = out / f"pairing_{backend}_{'_'.join(names)}.json"
    path.write_text(json.dumps(results, indent=2))


def write_pair_figure(data, path):
    """A paper-mode pair (T1 | T2, slice 100 of each) | an aligned pair."""
    from PIL import Image, ImageDraw

    paper_t1, paper_t2 = data["paper"]
    t1, t2 = data["aligned"]
    middle = data["train"][len(data["train"]) // 2]
    tiles = [
        paper_t1[10, ..., 0],
        paper_t2[10, ..., 0],
        t1[middle, ..., 0],
        t2[middle, ..., 0],
    ]
    pixels = np.round((np.clip(np.concatenate(tiles, 1), -1, 1) + 1) * 127.5)
    image = Image.fromarray(pixels.astype(np.uint8))
    titled = Image.new("L", (image.width, image.height + 16))
    titled.paste(image, (0, 16))
    draw = ImageDraw.Draw(titled)
    slice_index = int(data["slices"][middle])
    titles = (
        "paper: T1 slice 100 (sagittal)",
        "paper: T2 slice 100 (axial)",
        f"aligned: T1 axial {slice_index}",
        f"aligned: T2 on the T1 grid {slice_index}",
    )
    for index, title in enumerate(titles):
        draw.text((index * tiles[0].shape[1] + 4, 2), title, fill=255)
    titled.save(path)
    return path


# The report.


def _cell(pair, digits):
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def describe_split(settings):
    """Which subjects and slices trained and tested, in words."""
    train, test = settings["train_slices"], settings["test_slices"]
    subjects = settings["subjects"]
    if settings["split"] == "subjects":
        trained, tested = (len(subjects[group]) for group in ("train", "test"))
        return (
            f"{trained} training subject{'s' * (trained > 1)} "
            f"({settings['train_images']} brain slices), "
            f"{tested} test subject{'s' * (tested > 1)} "
            f"({settings['test_images']} slices: {', '.join(subjects['test'])})"
        )
    (subject,) = subjects["test"]
    if settings["split"] == "hemispheres":
        return (
            f"subject {subject}: train on the image's left half, mirrored, test on "
            f"its right half, axial slices {train[0]}-{train[1]} "
            f"({settings['test_images']} each)"
        )
    return (
        f"subject {subject}: train axial slices {train[0]}-{train[1]} "
        f"({settings['train_images']}), test slices {test[0]}-{test[1]} "
        f"({settings['test_images']})"
    )


def write_table(results, path):
    """A Markdown table of every backend's scores, with the settings."""
    first = results[0]
    lines = [
        f"{describe_split(first)}; {first.get('pairing', 'aligned')} pairing, "
        f"bias correction {first.get('bias_correction') or 'none'}, "
        f"{first['image_size'][0]} x "
        f"{first['image_size'][1]} frame centred on the head; "
        f"{first['steps']} "
        f"steps, batch {first['batch_size']}, U-Net depth {first['depth']}, "
        f"{first['filters']} base filters, learning rate "
        f"{first.get('learning_rate', 2e-4):g}, {first.get('context', 0)} "
        f"neighbouring slices per side, jitter scale "
        f"{first.get('jitter_scale', JITTER_SCALE):.3f}, prior "
        f"{first.get('prior', 'none')}, loss mask "
        f"{first.get('loss_mask', 'none')}, seed {first['seed']}. "
        "Mean ± std over test slices; PSNR and MAE on [-1, 1] intensities.",
        "",
        "| backend | model | inference | brain PSNR (dB) | brain SSIM | brain MAE "
        "| core / edge PSNR (dB) | slice PSNR (dB) | slice SSIM | train time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for key, regions in result["scores"].items():
            name, _, mode = key.partition("/")
            mode = {"": "-", "fit": "(training slices)"}.get(mode, mode)
            brain, whole = regions["brain"], regions["slice"]
            parts = [regions[r]["psnr"][0] for r in ("core", "edge") if r in regions]
            split = " / ".join(f"{v:.2f}" for v in parts) or "-"
            seconds = result["seconds"].get(name, 0.0)
            lines.append(
                f"| {result['backend']} | {name} | {mode} "
                f"| {_cell(brain['psnr'], 2)} | {_cell(brain['ssim'], 3)} "
                f"| {_cell(brain['mae'], 3)} | {split} | {_cell(whole['psnr'], 2)} "
                f"| {_cell(whole['ssim'], 3)} | {seconds:.0f} |"
            )
    path.write_text("\n".join(lines) + "\n")
    return path


def write_figure(npz_path, path, count=3):
    """T1 | real T2 | each model's T2 (eval mode) | its absolute error."""
    from PIL import Image

    arrays = np.load(npz_path, allow_pickle=False)
    names = ["histogram"] + [
        f"{m}__eval" for m in MODELS if f"{m}__eval" in arrays.files
    ]
    picks = np.linspace(0, len(arrays["t1"]) - 1, count + 2)[1:-1].round()
    rows = []
    for i in picks.astype(int):
        real = arrays["t2"][i, ..., 0]
        tiles = [arrays["t1"][i, ..., 0], real]
        tiles += [arrays[name][i, ..., 0] for name in names]
        tiles += [np.abs(arrays[name][i, ..., 0] - real) - 1 for name in names]
        rows.append(np.concatenate(tiles, axis=1))
    grid = np.concatenate(rows, axis=0)
    pixels = np.round((np.clip(grid, -1, 1) + 1) * 127.5).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path, ["T1", "real T2", *names, *(f"|error| {n}" for n in names)]


def report(output):
    output = pathlib.Path(output)
    results = [
        json.loads((output / f"{b}.json").read_text())
        for b in BACKENDS
        if (output / f"{b}.json").exists()
    ]
    if not results:
        sys.exit(f"No results under {output}.")
    print(write_table(results, output / "table.md").read_text())
    _, columns = write_figure(
        output / f"{results[0]['backend']}.npz", output / "figure.png"
    )
    print(f"figure: {output / 'figure.png'} (columns: {', '.join(columns)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument(
        "--context", type=int, default=0, help="neighbouring T1 slices per side"
    )
    parser.add_argument(
        "--pairs",
        choices=("aligned", "registered"),
        default="aligned",
        help="the library's pairing of the subject's volumes",
    )
    parser.add_argument(
        "--bias-correction",
        choices=("source", "target", "both"),
        default=None,
        help="correct these volumes for intensity non-uniformity first (N4)",
    )
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument(
        "--jitter-scale",
        type=float,
        default=JITTER_SCALE,
        help="random-crop jitter's enlargement (1: left-right flips only)",
    )
    parser.add_argument(
        "--prior",
        choices=("none", "histogram"),
        default="none",
        help="'histogram': generators learn a correction to the histogram mapping",
    )
    parser.add_argument(
        "--loss-mask",
        choices=("none", "head"),
        default="none",
        help="'head': the reconstruction loss counts only where the T1 has signal",
    )
    parser.add_argument(
        "--split",
        choices=("blocks", "hemispheres", "subjects"),
        default="blocks",
        help="'blocks': train and test on two blocks of axial slices of the "
        "subject (the benchmark); 'hemispheres': on the left and right halves "
        "of every brain slice (a diagnostic: the test anatomy, mirrored, is "
        "trained on); 'subjects': on the brain slices of different subjects "
        "(every subject under --data with a T1, a T2 and a T1 brain mask)",
    )
    parser.add_argument(
        "--test-subjects",
        type=int,
        default=None,
        help="--split subjects: how many subjects test (default: a quarter)",
    )
    parser.add_argument(
        "--curve-every",
        type=int,
        default=0,
        help="score the test slices after about every N steps (0: at the end)",
    )
    parser.add_argument(
        "--data",
        type=pathlib.Path,
        default=DATA,
        help="folder with ixi/ (the subjects' IXI T1 and T2 .nii.gz files) and "
        "ixi-brainmasks/ (one {subject}-T1-brainmask.nii.gz per subject)",
    )
    parser.add_argument(
        "--cache",
        type=pathlib.Path,
        default=None,
        help="keep each subject's prepared slices in this folder: the "
        "registration and bias correction then run once for all backends and runs",
    )
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "quality"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--pairing",
        action="store_true",
        help="run the paper-pairing comparison instead of the model comparison",
    )
    parser.add_argument("--pairing-steps", type=int, default=400)
    parser.add_argument("--pairing-filters", type=int, default=32)
    parser.add_argument(
        "--pairing-subjects",
        nargs="+",
        choices=("real", "phantom"),
        default=["real", "phantom"],
        help="the pairing comparison's subjects",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    if args.report_only:
        return report(args.output)
    if not (args.data / "ixi").is_dir():
        sys.exit(f"The real IXI subject is not at {args.data / 'ixi'}: nothing to do.")
    if args.worker:
        return run_pairing(args) if args.pairing else run_backend(args)
    for backend in args.backends.split(","):
        command = [sys.argv[0], "--worker", *sys.argv[1:]]
        env = {**os.environ, "KERAS_BACKEND": backend}
        subprocess.run([sys.executable, *command], env=env, check=True)
    report(args.output)


if __name__ == "__main__":
    main()
