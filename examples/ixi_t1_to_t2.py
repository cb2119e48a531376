"""
Title: IXI T1 -> T2 brain MRI synthesis, and the paper's configuration
Description: Train a pix2pix to synthesize T2-weighted slices from T1-weighted
ones on IXI, either the sound way (aligned slices) or exactly as the paper did.

Two configurations:

- Default: anatomically aligned pairs (`load_ixi_pairs(pairing="aligned")`: T2
  resampled onto the T1 grid through the affines, axial slices of the head),
  a subject-level train / val / test split and the reference pix2pix
  settings: U-Net 256, 70x70 PatchGAN, batch 1, Adam(2e-4, beta_1=0.5), the
  vanilla GAN loss + 100 x L1, 200 epochs (100 constant, 100 linear decay).
- `--paper`: the configuration of "Medical Image Synthesis with Pix2Pix GANs",
  exactly: 256x256, batch 1, Adam(2e-4, beta_1=0.5), BCE + 100 x MSE, the
  paper's pairs (slices 90-109 of T1 volumes with 150 slices and T2 volumes
  with 130, paired by index, `pairing="paper"`), 49,200 iterations (the
  paper's "epochs": 100 passes over ~492 training slices), sample figures in
  grayscale and colour-mapped at iterations 4,920, 29,520 and 49,200 (the
  paper's Figures 3-5), BatchNorm and dropout in training mode at inference.
  The paper's pairs show different anatomy (sagittal T1 slice i, axial T2
  slice i, volumes not registered): see docs/reproduction.md.

Both print PSNR / SSIM / MAE (mean +- std over images, full slices in [-1, 1],
data range 2) on held-out subjects, which the paper never measured, and write
the sample figures, `pix2pix.keras` and `metrics.json` to `--output`. The
default configuration's model keeps its `SliceSpec` and the T2 intensity
range in `pix2pix.keras`, and turns one held-out subject's whole T1 volume
into a synthetic T2 volume with `synthesize_volume(model, t1_path, output)`.

Without `--data`, the example writes synthetic IXI-named NIfTI volumes
(`write_phantom_ixi`: T1 stored sagittal with 150 slices, T2 stored axial with
130, on different oblique grids, like IXI) to a temporary folder and runs on
them, and says so.

Real IXI: download IXI-T1.tar and IXI-T2.tar from
https://brain-development.org/ixi-dataset/ (CC BY-SA 3.0; acknowledge the IXI
project), unpack both into one folder, then:

    python examples/ixi_t1_to_t2.py --data ~/data/IXI --paper
    python examples/ixi_t1_to_t2.py --data ~/data/IXI

Quick runs on the phantom:

    KERAS_BACKEND=tensorflow python examples/ixi_t1_to_t2.py --steps 300 \\
        --image-size 64
    KERAS_BACKEND=tensorflow python examples/ixi_t1_to_t2.py --paper \\
        --steps 300 --image-size 64
"""

# ## Setup
import argparse
import json
import math
import os
import pathlib
import tempfile
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

from keras_pix2pix import Pix2Pix
from keras_pix2pix.datasets import (
    SliceSpec,
    SubjectSelection,
    list_ixi_subjects,
    load_ixi_pairs,
    write_phantom_ixi,
)
from keras_pix2pix.metrics import mae, psnr, ssim
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator
from keras_pix2pix.schedules import LinearDecay
from keras_pix2pix.synthesis import synthesize_volume
from keras_pix2pix.utils import save_sample_grid

PAPER_IMAGE_SIZE = 256
PAPER_ITERATIONS = 49_200  # 100 epochs x ~492 training slices
PAPER_FIGURES = (0.1, 0.6, 1.0)  # 4,920, 29,520 and 49,200 of 49,200
PAPER_SLICES = 150  # slices of the paper's T1 volumes (its T2 volumes have 130)
COLORMAP = "viridis"  # matplotlib's default, as plt.imshow shows one channel


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument(
        "--data", default=None, help="IXI folder (unpacked IXI-T1.tar, IXI-T2.tar)"
    )
    parser.add_argument(
        "--paper", action="store_true", help="the paper's configuration, exactly"
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="image side; 256 by default (with --paper it departs from the paper)",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=None,
        help=f"--paper: the paper's 'epochs' (default {PAPER_ITERATIONS:,})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=200,
        help="default mode: epochs, half constant LR, half linear decay",
    )
    parser.add_argument(
        "--batch-size", type=int, default=1, help="default mode only (--paper: 1)"
    )
    parser.add_argument(
        "--filters", type=int, default=64, help="base filters of both networks"
    )
    parser.add_argument("--steps", type=int, default=None, help="cap on iterations")
    parser.add_argument(
        "--phantom-subjects",
        type=int,
        default=6,
        help="without --data: synthetic subjects to write",
    )
    parser.add_argument("--output", default="outputs/ixi_t1_to_t2")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.paper and args.batch_size != 1:
        parser.error("--paper trains with batch 1, as the paper did")
    if args.image_size is not None and args.image_size < 32:
        parser.error("--image-size must be at least 32")
    return args


def subject_counts(count):
    """Train / val / test subject counts: about 80 / 10 / 10 %."""
    if count < 2:
        raise SystemExit("A held-out evaluation needs at least 2 IXI subjects.")
    test = max(1, round(0.1 * count))
    val = max(1, round(0.1 * count)) if count - test >= 2 else 0
    return count - val - test, val, test


class IterationCallback(keras.callbacks.Callback):
    """Counts iterations (batches), saves sample figures, stops at the end.

    The paper counts "epochs" that are iterations of batch 1 and shows
    figures at given iterations, so this callback is keyed on iterations,
    not Keras epochs: at each iteration in `figures` it saves the grayscale
    and the colour-mapped grid (rows: source | target | generated |
    difference) of fixed validation pairs; after `iterations` it stops `fit`.
    """

    def __init__(self, source, target, directory, iterations, figures):
        super().__init__()
        self.source, self.target = source, target
        self.directory = pathlib.Path(directory)
        self.iterations = iterations
        self.figures = set(figures)
        self.done = 0
        self.written = []

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done in self.figures:
            fake = keras.ops.convert_to_numpy(self.model.predict_on_batch(self.source))
            for suffix, colormap in (("", COLORMAP), ("_gray", None)):
                path = self.directory / f"samples_iteration_{self.done:06d}{suffix}.png"
                save_sample_grid(
                    path, self.source, self.target, fake, colormap=colormap
                )
                self.written.append(path)
        if self.done >= self.iterations:
            self.model.stop_training = True


def summarize(real, fake, chunk=32):
    """Mean and std over images of PSNR (dB), SSIM and MAE in [-1, 1] units."""
    values = {"psnr": [], "ssim": [], "mae": []}
    for start in range(0, len(real), chunk):
        y_true, y_pred = real[start : start + chunk], fake[start : start + chunk]
        values["psnr"].append(psnr(y_true, y_pred, data_range=2.0))
        values["ssim"].append(ssim(y_true, y_pred, data_range=2.0))
        values["mae"].append(mae(y_true, y_pred))
    return {
        name: {
            "mean": float(np.mean(np.concatenate(parts))),
            "std": float(np.std(np.concatenate(parts))),
        }
        for name, parts in (
            (name, [keras.ops.convert_to_numpy(p) for p in parts])
            for name, parts in values.items()
        )
    }


def describe(summary):
    return ", ".join(
        f"{name.upper()} {value['mean']:.3f} +- {value['std']:.3f}"
        if name != "psnr"
        else f"PSNR {value['mean']:.2f} +- {value['std']:.2f} dB"
        for name, value in summary.items()
    )


def main():
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    image_size = args.image_size or PAPER_IMAGE_SIZE
    pairing = "paper" if args.paper else "aligned"
    if args.paper and args.image_size not in (None, PAPER_IMAGE_SIZE):
        print(
            f"Note: --image-size {image_size} departs from the paper's 256x256 "
            "(the paper's slices are cropped or padded, not resampled)."
        )

    # ## Data: IXI, or synthetic IXI-named volumes written to a temporary folder
    temporary = None
    data = args.data
    if data is None:
        temporary = tempfile.TemporaryDirectory(prefix="ixi-phantom-")
        data = temporary.name
        # The paper's filter needs T1 volumes with 150 slices (T2 get 130);
        # the aligned pairing needs the axial slices to fit in the image.
        depth = PAPER_SLICES if args.paper else round(image_size * PAPER_SLICES / 256)
        shape = (image_size, image_size, depth)
        start = time.perf_counter()
        write_phantom_ixi(data, args.phantom_subjects, shape=shape, seed=args.seed)
        print(
            "=" * 78 + "\nNO --data: RUNNING ON SYNTHETIC MRI, not IXI. Wrote "
            f"{args.phantom_subjects} phantom subjects as IXI-named NIfTI files\n"
            f"(T1 {shape}, T2 {(*shape[:2], round(shape[2] * 130 / 150))}) to "
            f"{data} in {time.perf_counter() - start:.1f} s.\n"
            "Pass --data /path/to/IXI for real data.\n" + "=" * 78,
            flush=True,
        )
    subjects = {s.subject_id: s for s in list_ixi_subjects(data).subjects}
    counts = subject_counts(len(subjects))
    # How slices are cut from the volumes (the paper pairing uses only the size).
    spec = SliceSpec(image_size=image_size)

    def load(split):
        with warnings.catch_warnings():
            # The paper pairing warns that its pairs show different anatomy:
            # said once below, not for every split.
            warnings.filterwarnings("ignore", "IXI paper pairing")
            selection = SubjectSelection(split=split, seed=args.seed, fractions=counts)
            return load_ixi_pairs(data, spec, selection, pairing=pairing)

    train_source, train_target, train_info = load("train")
    test_source, test_target, test_info = load("test")
    if counts[1]:
        val_source, val_target, _ = load("val")
    else:
        val_source, val_target = test_source, test_target
    print(
        f"Pairing {pairing!r}: subjects train / val / test = {counts}; "
        f"{len(train_source)} training, {len(test_source)} test slices of "
        f"{image_size}x{image_size}"
    )
    if args.paper:
        print(
            "Warning: the paper's pairs put sagittal T1 slice i next to axial T2 "
            "slice i of unregistered volumes: different anatomy in every pair."
        )
    picks = np.linspace(0, len(val_source) - 1, 4).round().astype(int)

    # ## Model: U-Net (unet_256 at 256x256) and the 70x70 PatchGAN
    shape = (image_size, image_size, 1)
    depth = min(8, int(math.log2(image_size)))
    generator = UNetGenerator(
        input_shape=shape, filters=args.filters, num_downsampling_blocks=depth
    )
    discriminator = PatchGANDiscriminator(input_shape=shape, filters=args.filters)
    steps_per_epoch = math.ceil(len(train_source) / args.batch_size)
    # The model keeps how its slices were cut and the targets' intensity
    # range in pix2pix.keras, so `synthesize_volume(model, "T1.nii.gz")` needs
    # nothing else. The paper pairing has neither (its pairs are not
    # anatomical, its slices are not cut from one grid).
    applied = {
        "slice_spec": train_info.spec,
        "target_normalization": train_info.target_normalization(),
    }
    if args.paper:
        # Brownlee's / the paper's: constant learning rate, BCE + 100 x MSE, and
        # BatchNorm / dropout left in training mode when generating.
        model = Pix2Pix(generator, discriminator, inference_mode="train", **applied)
        model.compile(
            generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            adversarial_loss="vanilla",
            reconstruction_loss="l2",
            reconstruction_weight=100.0,
            discriminator_loss_weight=0.5,
        )
        iterations = args.iterations or PAPER_ITERATIONS
        figures = [round(f * iterations) for f in PAPER_FIGURES]
    else:
        # The reference's: L1, constant LR for half the epochs, then linear decay.
        half = args.epochs // 2
        model = Pix2Pix(generator, discriminator, **applied)
        model.compile(
            generator_optimizer=keras.optimizers.Adam(
                LinearDecay(2e-4, args.epochs - half, half, steps_per_epoch),
                beta_1=0.5,
            ),
            discriminator_optimizer=keras.optimizers.Adam(
                LinearDecay(2e-4, args.epochs - half, half, steps_per_epoch),
                beta_1=0.5,
            ),
            reconstruction_loss="l1",
        )
        iterations = args.epochs * steps_per_epoch
        figures = [round(f * iterations) for f in (0.1, 0.5, 1.0)]
    if args.steps is not None and args.steps < iterations:
        print(f"--steps {args.steps}: training stops after {args.steps} iterations")
        iterations = args.steps
        figures = [f for f in figures if f < iterations] + [iterations]

    # ## Training, keyed on iterations
    samples = IterationCallback(
        val_source[picks], val_target[picks], output, iterations, figures
    )
    epochs = math.ceil(iterations / steps_per_epoch)
    start = time.perf_counter()
    model.fit(
        train_source,
        train_target,
        batch_size=args.batch_size,
        epochs=epochs,
        callbacks=[samples],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    print(
        f"Trained {samples.done} iterations of batch {args.batch_size} "
        f"({samples.done * args.batch_size / len(train_source):.1f} epochs of the "
        f"training slices) in {seconds:.0f} s ({seconds / samples.done:.3f} s per "
        f"iteration) on {keras.backend.backend()}"
    )

    # ## Results: held-out subjects, which the paper never measured
    # Predict with the training batch size: with inference_mode="train",
    # BatchNorm normalizes each batch by its own statistics, as in the paper.
    fake = model.predict(test_source, batch_size=args.batch_size, verbose=0)
    result = summarize(test_target, fake)
    baseline = summarize(test_target, test_source)
    print(f"Held-out subjects ({len(fake)} slices): {describe(result)}")
    print(f"  (T1 copied as T2: {describe(baseline)})")
    model.save(output / "pix2pix.keras")
    record = {
        "pairing": pairing,
        "paper": args.paper,
        "data": "phantom" if args.data is None else str(args.data),
        "backend": keras.backend.backend(),
        "image_size": image_size,
        "iterations": samples.done,
        "seconds": seconds,
        "subjects": dict(zip(("train", "val", "test"), counts, strict=True)),
        "test_slices": len(fake),
        "held_out": result,
        "baseline_t1_as_t2": baseline,
    }
    (output / "metrics.json").write_text(json.dumps(record, indent=2))
    print(f"Wrote {len(samples.written)} sample figures, pix2pix.keras and")
    print(f"metrics.json to {output}")
    if not args.paper:
        # ## A whole held-out T1 volume -> synthetic T2, on the T1's own grid
        subject = test_info.subjects[0]
        synthetic = output / f"{subject}-synthetic-T2.nii.gz"
        synthesize_volume(model, subjects[subject].paths["T1"], synthetic)
        print(f"Synthesized {synthetic}")
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
