"""
Title: Pix2Pix warm-up on MNIST: edges, inpainting, denoising and label maps
Description: The paper's first experiment: train a pix2pix on paired MNIST
tasks at 32x32, then report PSNR / SSIM on held-out digits.

"Medical Image Synthesis with Pix2Pix GANs" first trained its model on MNIST
before moving to brain MRI. This example does the same with the four paired
tasks of `keras_pix2pix.datasets.load_mnist_pairs`: the source is the digit's
outline (`edges`), the digit with a square hole (`inpainting`), the digit with
Gaussian noise (`denoising`) or a silhouette whose grey level encodes the class
(`label_map`); the target is always the digit, padded to 32x32 and scaled to
[-1, 1]. A U-Net of depth 5 (32 -> 1 pixel at the bottleneck) and a PatchGAN
learn the mapping; the example prints PSNR and SSIM on digits of the MNIST test
split and writes `samples.png` (rows: source | real | generated | difference)
and `pix2pix.keras`.

MNIST is not bundled. Pass a local `mnist.npz` (or a folder with the IDX files)
with `--mnist-path`; without it, `keras.datasets.mnist.load_data()` is tried,
and if that fails (no internet access) the example says so and trains on the
built-in synthetic MRI phantoms (T1 -> T2) at 32x32 instead, so that it still
runs end to end.

The paper trained for "20000 epochs", which were iterations of batch 1:

    python examples/mnist_pix2pix.py --mnist-path mnist.npz --task edges \\
        --steps 20000 --batch-size 1

A quick run on any backend:

    KERAS_BACKEND=torch python examples/mnist_pix2pix.py --steps 500

MNIST (LeCun, Cortes and Burges) is licensed CC BY-SA 3.0.
"""

# ## Setup
import argparse
import math
import os
import pathlib
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

from keras_pix2pix import Pix2Pix
from keras_pix2pix.datasets import load_mnist_pairs, load_phantom_pairs
from keras_pix2pix.datasets.mnist import TASKS
from keras_pix2pix.errors import DatasetNotFoundError
from keras_pix2pix.metrics import psnr, ssim
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator
from keras_pix2pix.utils import save_sample_grid

IMAGE_SIZE = 32
DEPTH = 5  # 32 -> 1 pixel at the bottleneck


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--task", choices=TASKS, default="edges", help="MNIST task")
    parser.add_argument(
        "--mnist-path",
        default=None,
        help="a Keras mnist.npz file, or a folder with mnist.npz or the IDX files",
    )
    parser.add_argument("--steps", type=int, default=2000, help="training steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--filters", type=int, default=64, help="base filters")
    parser.add_argument("--train-count", type=int, default=10000, help="digits")
    parser.add_argument("--test-count", type=int, default=1000, help="digits")
    parser.add_argument("--output", default="outputs/mnist_pix2pix")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


class StopAfter(keras.callbacks.Callback):
    """Stops `fit` after exactly `steps` batches, whatever the epoch count."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True


def load_data(args):
    """Returns `(train, test, description)`; falls back to phantoms offline."""
    try:
        train = load_mnist_pairs(
            args.task, args.mnist_path, split="train", count=args.train_count
        )
        test = load_mnist_pairs(
            args.task,
            args.mnist_path,
            split="test",
            count=args.test_count,
            seed=args.seed + 1,
        )
        return train, test, f"MNIST, task {args.task!r}"
    except DatasetNotFoundError as error:
        if args.mnist_path is not None:
            raise  # A path was given: a missing file is an error, not a fallback.
        print(
            "=" * 78 + "\nMNIST IS NOT AVAILABLE: no --mnist-path was given and "
            f"keras could not download it.\n  ({error.__cause__ or error})\n"
            "FALLING BACK to the built-in synthetic MRI phantoms at 32x32: the "
            f"task is T1 -> T2,\nNOT the MNIST {args.task!r} task. Pass "
            "--mnist-path mnist.npz to run the real warm-up.\n" + "=" * 78,
            flush=True,
        )
    # 10 synthetic heads, 16 axial slices each; the last 2 heads are held out.
    source, target = load_phantom_pairs(
        num_subjects=10, image_size=IMAGE_SIZE, slices_per_subject=16, seed=args.seed
    )
    split = 8 * 16
    train = (source[:split], target[:split])
    test = (source[split:], target[split:])
    return train, test, "synthetic MRI phantoms (T1 -> T2), fallback"


def scores(real, fake, chunk=256):
    """Per-image PSNR (dB) and SSIM of images in [-1, 1]."""
    values = {"psnr": [], "ssim": []}
    for start in range(0, len(real), chunk):
        y_true, y_pred = real[start : start + chunk], fake[start : start + chunk]
        for name, metric in (("psnr", psnr), ("ssim", ssim)):
            result = metric(y_true, y_pred, data_range=2.0)
            values[name].append(keras.ops.convert_to_numpy(result))
    return {name: np.concatenate(parts) for name, parts in values.items()}


def main():
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    # ## Data: paired 32x32 images in [-1, 1]
    (train_source, train_target), (test_source, test_target), description = load_data(
        args
    )
    print(
        f"Data: {description}: {len(train_source)} training pairs, "
        f"{len(test_source)} held-out pairs, {IMAGE_SIZE}x{IMAGE_SIZE}"
    )

    # ## Model: a U-Net of depth 5 and a 3-layer PatchGAN
    shape = (IMAGE_SIZE, IMAGE_SIZE, 1)
    model = Pix2Pix(
        UNetGenerator(
            input_shape=shape, filters=args.filters, num_downsampling_blocks=DEPTH
        ),
        PatchGANDiscriminator(input_shape=shape, filters=args.filters),
    )
    model.compile()  # Adam(2e-4, beta_1=0.5), vanilla GAN + 100 x L1

    # ## Training: `--steps` batches
    steps_per_epoch = math.ceil(len(train_source) / args.batch_size)
    epochs = math.ceil(args.steps / steps_per_epoch)
    stop = StopAfter(args.steps)
    start = time.perf_counter()
    model.fit(
        train_source,
        train_target,
        batch_size=args.batch_size,
        epochs=epochs,
        callbacks=[stop],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    print(
        f"Trained {stop.done} steps of batch {args.batch_size} in {seconds:.0f} s "
        f"on {keras.backend.backend()}"
    )

    # ## Results: PSNR / SSIM on held-out pairs, a sample grid and the model
    fake = model.predict(test_source, batch_size=64, verbose=0)
    result = scores(test_target, fake)
    baseline = scores(test_target, test_source)
    print(
        f"Held-out ({len(fake)} pairs): "
        f"PSNR {result['psnr'].mean():.2f} +- {result['psnr'].std():.2f} dB, "
        f"SSIM {result['ssim'].mean():.3f} +- {result['ssim'].std():.3f} "
        f"(source copied as output: PSNR {baseline['psnr'].mean():.2f} dB, "
        f"SSIM {baseline['ssim'].mean():.3f})"
    )
    picks = np.linspace(0, len(fake) - 1, 8).astype(int)
    samples = save_sample_grid(
        output / "samples.png", test_source[picks], test_target[picks], fake[picks]
    )
    model.save(output / "pix2pix.keras")
    print(f"Wrote {samples} and {output / 'pix2pix.keras'}")


if __name__ == "__main__":
    main()
