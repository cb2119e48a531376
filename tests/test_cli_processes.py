"""The command line as users run it: each command in a new process.

In-process tests share imports and registered classes between commands; a
user's shell does not. Every command here runs as `python -m keras_pix2pix.cli`
(what the `keras-pix2pix` script runs) with a tiny model and a few steps.
"""

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from processes import BACKEND, other_backend, run_python

from keras_pix2pix.datasets.phantom import write_phantom_ixi

TINY = [
    "--image-size", "32", "--filters", "4", "--discriminator-layers", "2",
    "--batch-size", "4", "--steps", "2", "--verbose", "0",
]  # fmt: skip


def run_command(*args, cwd, backend=BACKEND):
    """Runs `keras-pix2pix *args` in a fresh interpreter; returns its stdout."""
    return run_python("-m", "keras_pix2pix.cli", *args, cwd=cwd, backend=backend)


@pytest.fixture(scope="module")
def ixi_run(tmp_path_factory):
    """`train --dataset ixi` on phantom IXI files, in its own process."""
    root = tmp_path_factory.mktemp("cli")
    t1_paths = write_phantom_ixi(root / "ixi", 3, shape=(40, 40, 24), seed=3)
    out = run_command(
        "train", "--dataset", "ixi", "--data", "ixi", *TINY, "--epochs", "1",
        "--output", "run", cwd=root,
    )  # fmt: skip
    assert "Wrote" in out
    return root, t1_paths


def test_resume_in_a_new_process(ixi_run):
    root, _ = ixi_run
    run_command(
        "train", "--dataset", "ixi", "--data", "ixi", *TINY, "--epochs", "2",
        "--output", "run", "--resume", cwd=root,
    )  # fmt: skip
    with open(root / "run" / "log.csv") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0", "1"]
    assert (root / "run" / "checkpoints" / "epoch_0002.keras").is_file()


def test_synthesize_a_volume_in_a_new_process(ixi_run):
    """model.keras alone holds the slicing and the targets' intensities."""
    root, t1_paths = ixi_run
    assert sorted(p.name for p in (root / "run").glob("*.json")) == ["config.json"]
    out = run_command(
        "synthesize", "--model", "run/model.keras", "--input", t1_paths[0],
        "--output", "synthetic.nii.gz", cwd=root,
    )  # fmt: skip
    assert "training targets' intensity parameters" in out
    source, written = nib.load(t1_paths[0]), nib.load(root / "synthetic.nii.gz")
    assert written.shape == source.shape
    np.testing.assert_allclose(written.affine, source.affine)
    assert written.header["descrip"].tobytes().startswith(b"SYNTHETIC")
    record = json.loads(written.header.extensions[0].get_content())
    assert record["slice_spec_from"] == "model"
    assert record["slice_spec"]["image_size"] == [32, 32]
    normalization = record["target_normalization"]
    data = written.get_fdata()
    assert np.isfinite(data).all()
    assert normalization["lower"] - 1e-3 <= data.min() <= data.max()
    assert data.max() <= normalization["upper"] + 1e-3


def test_synthesize_on_another_backend(ixi_run):
    """model.keras written on this backend synthesizes alike on another."""
    other = other_backend()
    if other is None:
        pytest.skip("only one Keras backend is installed (one per nox session)")
    root, t1_paths = ixi_run
    for backend, name in ((BACKEND, "here.nii.gz"), (other, "there.nii.gz")):
        run_command(
            "synthesize", "--model", "run/model.keras", "--input", t1_paths[1],
            "--output", name, cwd=root, backend=backend,
        )  # fmt: skip
    here, there = (
        nib.load(root / n).get_fdata() for n in ("here.nii.gz", "there.nii.gz")
    )
    np.testing.assert_allclose(there, here, atol=1e-3 * np.abs(here).max())


def test_synthesize_an_image_folder_in_a_new_process(ixi_run):
    root, _ = ixi_run
    (root / "slices").mkdir()
    for name in ("a", "b"):
        image = np.random.default_rng(0).integers(0, 255, (32, 32), np.uint8)
        Image.fromarray(image).save(root / "slices" / f"{name}.png")
    run_command(
        "synthesize", "--model", "run/model.keras", "--input", "slices",
        "--output", "fake", cwd=root,
    )  # fmt: skip
    written = sorted((root / "fake").iterdir())
    assert [p.name for p in written] == ["a.png", "b.png"]
    assert Image.open(written[0]).size == (32, 32)


def test_evaluate_in_a_new_process(ixi_run):
    root, _ = ixi_run
    out = run_command(
        "evaluate", "--model", "run/model.keras", "--dataset", "ixi", "--data",
        "ixi", "--split", "train", "--csv", "scores.csv", cwd=root,
    )  # fmt: skip
    assert "mean +- std" in out
    with open(root / "scores.csv") as file:
        rows = list(csv.DictReader(file))
    assert rows[-2]["subject"] == "mean"
    assert np.isfinite(float(rows[-2]["psnr"]))


@pytest.mark.parametrize(
    "imports",
    [
        "import keras_pix2pix\nimport keras",
        "import keras\nimport keras_pix2pix",
        "import keras_pix2pix\nfrom keras import saving\nimport keras",
    ],
    ids=["package-first", "keras-first", "keras-submodule-first"],
)
def test_a_saved_model_loads_in_a_fresh_interpreter(ixi_run, imports):
    """Only the two imports: no class of the library is named."""
    root, _ = ixi_run
    code = (
        f"{imports}\n"
        "model = keras.saving.load_model('run/model.keras')\n"
        "print(type(model).__name__, model.generator.output_shape)\n"
    )
    assert run_python("-c", code, cwd=root).startswith("Pix2Pix")
