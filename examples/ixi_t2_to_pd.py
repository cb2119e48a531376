"""
Title: IXI T2 -> PD synthesis, scored per slice and per volume
Description: Train a pix2pix on IXI T2 -> proton-density pairs (or on phantoms
written in IXI's layout), synthesize a held-out subject's PD volume, and score
it in 3-D with a figure of its axial, coronal and sagittal reformats.

IXI's T2 and PD images are the two echoes of one dual-echo acquisition, on one
grid, so the pairs need no resampling. With `--data` pointing at IXI (T2 and PD
files unpacked there) the same script runs on the real data; without it, it
writes phantom subjects with `write_phantom_ixi(modalities=("T1", "T2", "PD"))`.
`--source T1 T2` trains from two contrasts at once.

    KERAS_BACKEND=torch python examples/ixi_t2_to_pd.py --steps 300
"""

# ## Setup
import argparse
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras

from keras_pix2pix.baselines import HistogramMapping
from keras_pix2pix.datasets import (
    SliceSpec,
    SubjectSelection,
    load_ixi_pairs,
    write_phantom_ixi,
)
from keras_pix2pix.models import NetworkSpec
from keras_pix2pix.synthesis import synthesize_volume
from keras_pix2pix.utils import sample_psnrs
from keras_pix2pix.utils.volume_figures import save_volume_figure_files
from keras_pix2pix.volume_evaluation import evaluate_volume_files


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--data", default=None, help="IXI folder (default: phantoms)")
    parser.add_argument(
        "--source", nargs="+", default=["T2"], help="source contrast(s)"
    )
    parser.add_argument("--target", default="PD", help="target contrast")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--image-size", type=int, default=64, help="image side")
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--phantom-subjects", type=int, default=6)
    parser.add_argument(
        "--output", default="outputs/ixi_t2_to_pd", help="output folder"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    root = args.data
    if root is None:
        root = output / "phantom"
        side = args.image_size
        write_phantom_ixi(
            root,
            args.phantom_subjects,
            shape=(side, side, round(0.6 * side)),
            seed=args.seed,
            modalities=("T1", "T2", "PD"),
        )

    # ## Data: subject-level split, each contrast scaled on its own
    spec = SliceSpec(image_size=args.image_size)
    direction = {"source": tuple(args.source), "target": args.target}
    fractions = (0.75, 0.0, 0.25)  # train / val / test subjects
    train, test = (
        load_ixi_pairs(
            root, spec, SubjectSelection(s, fractions=fractions), **direction
        )
        for s in ("train", "test")
    )
    print(f"{'+'.join(args.source)} -> {args.target}: {len(train.source)} training "
          f"slices of {len(train.info.subjects)} subjects, {len(test.source)} test "
          f"slices of {test.info.subjects}")  # fmt: skip

    # ## Model: the reference networks, narrowed for a CPU demo; it keeps
    # how its slices were cut, the targets' intensity range and the contrasts.
    network = NetworkSpec(filters=args.filters)
    model = network.build(
        train.source.shape[1:],
        1,
        slice_spec=train.info.spec,
        target_normalization=train.info.target_normalization(),
        contrasts=train.info.contrasts(),
    )
    model.compile()  # Adam(2e-4, beta_1=0.5), vanilla GAN + 100 x L1
    epochs = max(1, round(args.steps * args.batch_size / len(train.source)))
    model.fit(
        train.source, train.target, batch_size=args.batch_size, epochs=epochs, verbose=2
    )

    # ## Per slice: held-out PSNR against a histogram mapping of the first source
    fake = model.predict(test.source, batch_size=16, verbose=0)
    mapping = HistogramMapping().fit(train.source[..., :1], train.target)
    baseline = sample_psnrs(test.target, mapping.predict(test.source[..., :1]))
    scores = sample_psnrs(test.target, fake)
    print(f"Held-out PSNR per slice: {scores.mean():.2f} dB "
          f"(histogram mapping: {baseline.mean():.2f} dB)")  # fmt: skip

    # ## Per volume: synthesize a held-out subject and score it in 3-D
    model.save(output / "pix2pix.keras")
    model = keras.saving.load_model(output / "pix2pix.keras")
    subject = test.info.subjects[0]
    record = test.info.per_subject[subject]
    synthetic = output / f"{subject}-synthetic-{args.target}.nii.gz"
    synthesize_volume(model, record["source_paths"], synthetic)
    real = record["target_path"]
    scored = evaluate_volume_files(real, synthetic)
    print(f"{subject}, 3-D over the head: PSNR {scored['psnr']:.2f} dB, "
          f"SSIM {scored['ssim']:.3f}, MAE {scored['mae']:.3f}")  # fmt: skip
    figure = output / f"{subject}-reformats.png"
    save_volume_figure_files(figure, record["source_paths"][0], real, synthetic)
    print(f"Wrote {synthetic}, {figure} and {output / 'pix2pix.keras'}")


if __name__ == "__main__":
    main()
