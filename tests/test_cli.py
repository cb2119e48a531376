"""The `keras-pix2pix` command: train, resume, synthesize, evaluate, errors."""

import csv
import json
import os
import shutil
import subprocess
import sys

import keras
import nibabel as nib
import numpy as np
import pytest
from conftest import BACKEND
from PIL import Image

from keras_pix2pix.baselines import HistogramMapping
from keras_pix2pix.cli import main
from keras_pix2pix.datasets import SliceSpec, SubjectSelection, load_ixi_pairs
from keras_pix2pix.datasets.phantom import write_phantom_brats, write_phantom_ixi

TINY = [
    "--dataset", "phantom", "--image-size", "32", "--subjects", "1",
    "--slices-per-subject", "8", "--filters", "4", "--discriminator-layers", "2",
    "--batch-size", "4", "--steps", "2", "--verbose", "0",
]  # fmt: skip


def _optimizer_steps(path):
    model = keras.saving.load_model(path)
    return int(keras.ops.convert_to_numpy(model.generator_optimizer.iterations))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "phantom"
    assert main(["train", *TINY, "--epochs", "1", "--output", str(output)]) == 0
    return output


def test_train_writes_the_run(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    assert config["dataset"] == "phantom" and config["image_size"] == 32
    assert config["depth"] == 5 and config["backend"] == BACKEND
    with open(run_dir / "log.csv") as file:
        log = list(csv.DictReader(file))
    assert len(log) == 1 and "generator_loss" in log[0]
    assert (run_dir / "samples" / "samples_epoch_0001.png").is_file()
    assert (run_dir / "checkpoints" / "epoch_0001.keras").is_file()
    assert _optimizer_steps(run_dir / "model.keras") == 2
    assert not [p for p in run_dir.rglob("*") if ".tmp-" in p.name]


def test_resume_continues(run_dir, tmp_path):
    output = tmp_path / "resumed"
    shutil.copytree(run_dir, output)
    args = ["train", *TINY, "--epochs", "2", "--output", str(output)]
    with pytest.raises(SystemExit) as error:  # would overwrite the run
        main(args)
    assert error.value.code == 2
    assert main([*args, "--resume"]) == 0
    with open(output / "log.csv") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0", "1"]
    assert (output / "checkpoints" / "epoch_0002.keras").is_file()
    assert _optimizer_steps(output / "model.keras") == 4
    config = json.loads((output / "config.json").read_text())
    assert config["resumed_from"]["epoch"] == 1


def test_synthesize_nifti(run_dir, tmp_path, capsys):
    t1 = write_phantom_ixi(tmp_path / "ixi", 1, shape=(40, 40, 24))[0]
    output = tmp_path / "synthetic_t2.nii.gz"
    (tmp_path / "norm.json").write_text(json.dumps({"lower": 0, "upper": 500}))
    code = main(
        [
            "synthesize", "--model", str(run_dir / "model.keras"),
            "--input", str(t1), "--output", str(output),
            "--normalization", str(tmp_path / "norm.json"),
        ]
    )  # fmt: skip
    assert code == 0 and "Wrote" in capsys.readouterr().out
    source, written = nib.load(t1), nib.load(output)
    assert written.shape == source.shape
    np.testing.assert_array_equal(written.affine, source.affine)
    assert written.header["descrip"].tobytes().startswith(b"SYNTHETIC")
    data = written.get_fdata()
    assert data.min() >= 0.0 and data.max() <= 500.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ixi", "norm.json", "synthetic_t2.nii.gz",
    ]  # fmt: skip


def test_synthesize_folder(run_dir, tmp_path):
    inputs = tmp_path / "t1"
    inputs.mkdir()
    for name in ("x", "y"):
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(inputs / f"{name}.png")
    model = str(run_dir / "model.keras")
    out = tmp_path / "fake"
    assert main(["synthesize", "--model", model, "--input", str(inputs),
                 "--output", str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["x.png", "y.png"]


def test_evaluate_prints_and_writes_csv(run_dir, tmp_path, capsys):
    path = tmp_path / "eval.csv"
    per_image = tmp_path / "per_image.csv"
    code = main(
        [
            "evaluate", "--model", str(run_dir / "model.keras"),
            "--dataset", "phantom", "--subjects", "2", "--slices-per-subject", "4",
            "--protocol", "brain_mask", "--csv", str(path),
            "--per-image-csv", str(per_image),
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Protocol brain_mask" in out and "mean +- std" in out
    with open(path) as file:
        rows = list(csv.DictReader(file))
    assert [r["subject"] for r in rows] == [
        "phantom-test-000", "phantom-test-001", "mean", "std",
    ]  # fmt: skip
    assert all(np.isfinite(float(r["mae"])) for r in rows)
    assert len(per_image.read_text().splitlines()) == 1 + 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--image-size", "48", "--depth", "5"], "not divisible by"),
        (["train", "--dataset", "ixi"], "needs --data"),
        (["train", "--dataset", "folder", "--source-dir", "a"], "--target-dir"),
        (["train", "--dataset", "mnist", "--image-size", "64"], "32x32"),
        (["train", "--epochs", "2", "--decay-epochs", "3"], "--decay-epochs"),
        (["train", "--resume"], "no checkpoint"),
        (["train", "--batch-size", "0"], "must be at least 1"),
        (["train", "--generator", "gan"], "invalid choice"),
        (["train", "--context", "1"], "applies to --dataset ixi"),
        (["train", "--bias-correction", "both"], "--bias-correction applies"),
    ],
)
def test_bad_arguments_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        main([*args, "--output", str(tmp_path / "out")])
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_files_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "missing.keras")
    for args in (
        ["synthesize", "--model", missing, "--input", missing, "--output", "o.nii"],
        ["evaluate", "--model", missing],
    ):
        with pytest.raises(SystemExit) as error:
            main(args)
        assert error.value.code == 2
        assert "does not exist" in capsys.readouterr().err


def test_backend_cannot_change_once_keras_is_loaded(tmp_path, capsys):
    other = next(b for b in ("jax", "torch") if b != BACKEND)
    with pytest.raises(SystemExit) as error:
        main(["--backend", other, "train", "--output", str(tmp_path)])
    assert error.value.code == 2
    assert "already loaded" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["train"], ["synthesize"], ["evaluate"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as error:
        main([*command, "--help"])
    assert error.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "usage: keras-pix2pix" in out
    if command == ["train"]:
        assert "(default: 2e-04)" in out or "(default: 0.0002)" in out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert f"backend {BACKEND}" in capsys.readouterr().out


def test_backend_option_in_a_subprocess():
    """`--backend` wins over KERAS_BACKEND, which would fail if it were used."""
    env = {**os.environ, "KERAS_BACKEND": "not-a-backend"}
    result = subprocess.run(
        [sys.executable, "-m", "keras_pix2pix.cli", "--backend", BACKEND, "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"backend {BACKEND}" in result.stdout


SMALL_MODEL = [
    "--filters", "4", "--discriminator-layers", "2", "--batch-size", "4",
    "--steps", "1", "--epochs", "1", "--verbose", "0",
]  # fmt: skip


def test_train_and_evaluate_on_ixi_files_with_context_and_prior(tmp_path, capsys):
    data = tmp_path / "ixi"
    t1_path = write_phantom_ixi(data, 3, shape=(48, 48, 30), seed=1)[0]
    output = tmp_path / "run"
    ixi = ["--dataset", "ixi", "--data", str(data), "--image-size", "32"]
    cache = ["--cache-dir", str(tmp_path / "cache")]
    options = ["--context", "1", "--prior", "histogram"]
    args = ["train", *ixi, *cache, *options, *SMALL_MODEL, "--output", str(output)]
    assert main(args) == 0
    config = json.loads((output / "config.json").read_text())
    assert (config["pairing"], config["context"], config["prior"]) == (
        "aligned", 1, "histogram",
    )  # fmt: skip
    assert any((tmp_path / "cache").rglob("*.json"))

    # The model holds the mapping fitted on the training pairs' middle channel.
    model = keras.saving.load_model(output / "model.keras")
    assert type(model.generator).__name__ == "PriorResidualGenerator"
    assert model.generator.input_shape == (None, 32, 32, 3)
    spec, train = SliceSpec(image_size=32, context=1), SubjectSelection("train")
    t1, t2, _ = load_ixi_pairs(data, spec, train)
    expected = HistogramMapping().fit(t1[..., 1:2], t2).table
    table = model.generator.get_layer("histogram_prior").table
    np.testing.assert_allclose(keras.ops.convert_to_numpy(table), expected)

    capsys.readouterr()
    csv_path = tmp_path / "test.csv"
    evaluate = ["evaluate", "--model", str(output / "model.keras"), *ixi]
    assert main([*evaluate, "--split", "train", "--csv", str(csv_path)]) == 0
    assert "psnr" in capsys.readouterr().out.lower()  # context 1, from the model
    assert csv_path.is_file()
    synthetic = tmp_path / "synthetic_t2.nii.gz"
    synthesize = ["synthesize", "--model", str(output / "model.keras")]
    assert main([*synthesize, "--input", str(t1_path), "--output", str(synthetic)]) == 0
    assert nib.load(synthetic).shape == nib.load(t1_path).shape


def test_two_source_contrasts_train_evaluate_and_synthesize(tmp_path, capsys):
    data = tmp_path / "ixi"
    files = write_phantom_ixi(
        data, 3, shape=(40, 40, 24), seed=2, modalities=("T1", "T2", "PD")
    )
    output = tmp_path / "run"
    ixi = ["--dataset", "ixi", "--data", str(data), "--image-size", "32"]
    contrasts = ["--source-contrast", "T1", "T2", "--target-contrast", "PD"]
    contrasts += ["--workers", "2"]  # the subjects prepared by two processes
    args = ["train", *ixi, *contrasts, *SMALL_MODEL, "--output", str(output)]
    assert main(args) == 0
    model = keras.saving.load_model(output / "model.keras")
    assert model.generator.input_shape == (None, 32, 32, 2)
    assert model.contrasts == {"sources": ["T1", "T2"], "target": "PD"}
    capsys.readouterr()
    evaluate = ["evaluate", "--model", str(output / "model.keras"), *ixi]
    assert main([*evaluate, "--split", "train"]) == 0  # the model's contrasts
    printed = capsys.readouterr().out
    assert "psnr" in printed.lower()
    volumes = printed.split("Per volume")[1].splitlines()[2:]
    assert [row.split()[0][:3] for row in volumes] == ["IXI"] * 3  # one per subject
    synthetic = tmp_path / "synthetic_pd.nii.gz"
    inputs = ["--input", str(files[0]), str(files[1]), "--output", str(synthetic)]
    assert main(["synthesize", "--model", str(output / "model.keras"), *inputs]) == 0
    image = nib.load(synthetic)
    assert image.shape == nib.load(files[0]).shape
    assert (
        image.header["descrip"]
        .tobytes()
        .startswith(b"SYNTHETIC: keras-pix2pix T1+T2->PD")
    )
    with pytest.raises(SystemExit):  # one volume for a two-source model
        main(["synthesize", "--model", str(output / "model.keras"), *inputs[:2],
              "--output", str(synthetic)])  # fmt: skip
    assert "takes 2 source volume(s). Received 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "phantom", "--source-contrast", "T2",
              "--output", str(tmp_path / "unused")])  # fmt: skip
    assert "apply to --dataset ixi" in capsys.readouterr().err


def test_brats_folders_train_and_evaluate_in_any_direction(tmp_path, capsys):
    data = tmp_path / "brats"
    write_phantom_brats(data, 3, shape=(40, 40, 24), seed=1, lesions=True)
    output = tmp_path / "run"
    brats = ["--dataset", "brats", "--data", str(data), "--image-size", "32"]
    contrasts = ["--source-contrast", "t2", "--target-contrast", "flair"]
    args = ["train", *brats, *contrasts, *SMALL_MODEL, "--output", str(output)]
    assert main(args) == 0
    model = keras.saving.load_model(output / "model.keras")
    assert model.contrasts == {"sources": ["t2"], "target": "flair"}
    capsys.readouterr()
    evaluate = ["evaluate", "--model", str(output / "model.keras"), *brats]
    assert main([*evaluate, "--split", "train"]) == 0
    assert "psnr" in capsys.readouterr().out.lower()
    for wrong, message in (
        (["--source-contrast", "T2"], "has the contrasts t1, t1ce, t2, flair"),
        (["--pairing", "registered"], "BraTS volumes are co-registered"),
    ):
        with pytest.raises(SystemExit):
            main(["train", *brats, *wrong, "--output", str(tmp_path / "x")])
        assert message in capsys.readouterr().err


def test_bias_correction_in_training_is_kept_for_synthesis(tmp_path, capsys):
    pytest.importorskip("SimpleITK", reason="bias correction needs SimpleITK")
    data = tmp_path / "ixi"
    t1_path = write_phantom_ixi(data, 2, shape=(48, 48, 30), seed=1)[0]
    output = tmp_path / "run"
    ixi = ["--dataset", "ixi", "--data", str(data), "--image-size", "32"]
    args = ["train", *ixi, "--bias-correction", "both", *SMALL_MODEL]
    assert main([*args, "--output", str(output)]) == 0
    config = json.loads((output / "config.json").read_text())
    assert config["bias_correction"] == "both"

    synthesize = ["synthesize", "--model", str(output / "model.keras")]
    synthesize += ["--input", str(t1_path)]
    records = []
    for extra, corrected in (([], True), (["--bias-correction", "none"], False)):
        capsys.readouterr()
        synthetic = tmp_path / f"synthetic_{corrected}.nii.gz"
        assert main([*synthesize, "--output", str(synthetic), *extra]) == 0
        assert ("source corrected by N4" in capsys.readouterr().out) == corrected
        header = nib.load(synthetic).header
        records.append(json.loads(header.extensions[0].get_content()))
    assert records[0]["source_bias_correction"]["method"] == "n4"
    assert records[1]["source_bias_correction"] is None


def test_run_folders_of_older_versions_still_synthesize(tmp_path, capsys):
    """A model without a SliceSpec takes it from config.json / normalization.json."""
    data = tmp_path / "ixi"
    t1_path = write_phantom_ixi(data, 2, shape=(40, 40, 24), seed=2)[0]
    output = tmp_path / "run"
    ixi = ["--dataset", "ixi", "--data", str(data), "--image-size", "32"]
    assert main(["train", *ixi, *SMALL_MODEL, "--output", str(output)]) == 0
    model = keras.saving.load_model(output / "model.keras")
    assert model.slice_spec == SliceSpec(image_size=32)
    assert model.target_normalization["upper"] > model.target_normalization["lower"]
    # What an older version wrote: the contract beside the model, not in it.
    model.slice_spec = model.target_normalization = None
    model.save(output / "model.keras")
    config = json.loads((output / "config.json").read_text())
    (output / "config.json").write_text(json.dumps({**config, "plane": "coronal"}))
    legacy = {"target_normalization": {"lower": 10.0, "upper": 90.0}}
    (output / "normalization.json").write_text(json.dumps(legacy))
    synthetic = tmp_path / "synthetic.nii.gz"
    synthesize = ["synthesize", "--model", str(output / "model.keras")]
    assert main([*synthesize, "--input", str(t1_path), "--output", str(synthetic)]) == 0
    assert "coronal slices" in capsys.readouterr().out
    record = json.loads(nib.load(synthetic).header.extensions[0].get_content())
    assert record["slice_spec"]["plane"] == "coronal"
    assert record["target_normalization"] == legacy["target_normalization"]


def test_train_without_augmentation(tmp_path):
    output = tmp_path / "run"
    args = ["train", *TINY, "--epochs", "1", "--no-augment", "--output", str(output)]
    assert main(args) == 0
    config = json.loads((output / "config.json").read_text())
    assert (config["augment"], config["flip"]) == (False, True)


def test_the_command_offers_the_library_choices():
    # The command keeps its own copies, to start without importing the datasets.
    from keras_pix2pix import cli
    from keras_pix2pix.datasets import slice_spec

    assert cli.BIAS_CORRECTIONS == slice_spec.BIAS_CORRECTIONS
    assert cli.PLANES == slice_spec.PLANES


def test_train_on_an_mnist_file(tmp_path):
    rng = np.random.default_rng(0)
    digits = (rng.uniform(size=(20, 28, 28)) > 0.7).astype("uint8") * 255
    labels = rng.integers(0, 10, 20)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=digits, y_train=labels, x_test=digits, y_test=labels)
    output = tmp_path / "run"
    mnist = ["--dataset", "mnist", "--mnist-path", str(path), "--task", "denoising"]
    assert main(["train", *mnist, *SMALL_MODEL, "--output", str(output)]) == 0
    assert json.loads((output / "config.json").read_text())["task"] == "denoising"
    assert (output / "model.keras").is_file()


def test_train_on_paired_folders(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    for index in range(4):
        image = rng.integers(0, 256, (32, 32), dtype="uint8")
        Image.fromarray(image).save(tmp_path / "a" / f"{index}.png")
        Image.fromarray(255 - image).save(tmp_path / "b" / f"{index}.png")
    output = tmp_path / "run"
    folder = ["--dataset", "folder", "--source-dir", str(tmp_path / "a")]
    folder += ["--target-dir", str(tmp_path / "b")]
    assert main(["train", *folder, *SMALL_MODEL, "--output", str(output)]) == 0
    assert (output / "model.keras").is_file()


def test_train_resnet_generator_with_pixel_discriminator(tmp_path):
    output = tmp_path / "resnet"
    args = [
        "train", *TINY, "--generator", "resnet", "--residual-blocks", "2",
        "--discriminator", "pixel", "--norm", "instance", "--epochs", "1",
        "--output", str(output),
    ]  # fmt: skip
    assert main(args) == 0
    model = keras.saving.load_model(output / "model.keras")
    assert type(model.generator).__name__ == "ResNetGenerator"
    assert type(model.discriminator).__name__ == "PixelDiscriminator"
    assert model.generator.get_config()["num_residual_blocks"] == 2
    assert model.discriminator.get_config()["norm"] == "instance"


def test_the_command_lines_contrast_names_are_the_librarys():
    """The options name the contrasts without importing the library: the same."""
    from keras_pix2pix.cli._options import CONTRASTS
    from keras_pix2pix.datasets import brats, ixi

    assert CONTRASTS["ixi"] == ixi.CONTRASTS
    assert CONTRASTS["brats"] == tuple(brats.BRATS_SUFFIXES)
    assert set(brats.BRATS_SUFFIXES) == set(brats.BRATS_2023_SUFFIXES)
