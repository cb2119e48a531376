"""
Title: Pix2Pix quick start: T1 -> T2 MRI synthesis on built-in phantoms
Description: Train keras-pix2pix on generated head phantoms in a few minutes on a CPU,
then save a sample grid and the trained model.

This is the project's "main job": it needs no download. It trains a pix2pix
(U-Net generator, 70x70-style PatchGAN) to turn T1-weighted slices of synthetic
heads into T2-weighted ones, checks the result on held-out subjects, and writes
`samples.png` (one titled row per held-out slice: T1 source | real T2 |
generated T2 | difference, with the row's PSNR) and `pix2pix.keras`.

Run it on any backend:

    KERAS_BACKEND=jax python examples/quickstart.py --steps 300
"""

# ## Setup
import argparse
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

from keras_pix2pix import Pix2Pix
from keras_pix2pix.datasets import load_phantom_pairs
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator
from keras_pix2pix.utils import sample_psnrs, save_sample_grid


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--image-size", type=int, default=64, help="image side")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--output", default="outputs/quickstart", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    # ## Data: paired T1 / T2 axial slices of synthetic heads, scaled to [-1, 1]
    source, target = load_phantom_pairs(
        num_subjects=10,
        image_size=args.image_size,
        slices_per_subject=16,
        seed=args.seed,
    )
    # Subject-level split: the last two subjects are held out.
    split = 8 * 16
    train, test = (source[:split], target[:split]), (source[split:], target[split:])

    # ## Model: the reference pix2pix networks, narrowed for a CPU demo
    shape = (args.image_size, args.image_size, 1)
    depth = int(np.log2(args.image_size))
    model = Pix2Pix(
        UNetGenerator(input_shape=shape, filters=32, num_downsampling_blocks=depth),
        PatchGANDiscriminator(input_shape=shape, filters=32),
    )
    model.compile()  # Adam(2e-4, beta_1=0.5), vanilla GAN + 100 x L1

    # ## Training
    epochs = max(1, round(args.steps * args.batch_size / split))
    model.fit(*train, batch_size=args.batch_size, epochs=epochs, verbose=2)

    # ## Results
    fake = model.predict(test[0], batch_size=16, verbose=0)
    baseline = sample_psnrs(test[1], test[0])
    scores = sample_psnrs(test[1], fake)
    print(
        f"Held-out PSNR: {scores.mean():.2f} +- {scores.std():.2f} dB "
        f"(T1 copied as T2: {baseline.mean():.2f} dB)"
    )
    picks = np.linspace(0, len(fake) - 1, 4).astype(int)
    save_sample_grid(
        output / "samples.png", test[0][picks], test[1][picks], fake[picks]
    )
    model.save(output / "pix2pix.keras")
    print(f"Wrote {output / 'samples.png'} and {output / 'pix2pix.keras'}")


if __name__ == "__main__":
    main()
