"""Evaluation per volume (3-D scores) and the reformat figures."""

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from keras_pix2pix.datasets import nifti, write_phantom_ixi
from keras_pix2pix.errors import DataError
from keras_pix2pix.utils.volume_figures import (
    central_reformats,
    save_volume_figure,
    save_volume_figure_files,
)
from keras_pix2pix.volume_evaluation import evaluate_volume, evaluate_volume_files


@pytest.fixture(scope="module")
def subject(tmp_path_factory):
    root = tmp_path_factory.mktemp("volumes")
    t1, t2 = write_phantom_ixi(
        root / "ixi", 1, shape=(48, 48, 30), seed=5, brain_masks=root / "masks"
    )
    masks = sorted((root / "masks").iterdir())
    return {"t1": t1, "t2": t2, "t1_mask": masks[0], "t2_mask": masks[1]}


def test_3d_scores_of_equal_and_perturbed_volumes():
    rng = np.random.default_rng(0)
    real = np.clip(rng.normal(0, 0.3, (24, 24, 16)), -1, 1).astype(np.float32)
    same = evaluate_volume(real, real)
    assert same["psnr"] == np.inf and same["ssim"] == pytest.approx(1.0)
    assert same["mae"] == 0 and same["voxels"] == real.size
    noisy = real + rng.normal(0, 0.1, real.shape).astype(np.float32)
    scores = evaluate_volume(real, noisy)
    assert scores["psnr"] == pytest.approx(10 * np.log10(4 / 0.01), abs=0.3)
    assert scores["mae"] == pytest.approx(0.1 * np.sqrt(2 / np.pi), rel=0.05)
    assert scores["ssim"] < 0.9
    # The mask selects the voxels: noise only outside it leaves them perfect.
    mask = np.zeros(real.shape, bool)
    mask[:12] = True
    outside = real.copy()
    outside[12:] += 0.5
    inside = evaluate_volume(real, outside, mask)
    assert inside["psnr"] == np.inf and inside["voxels"] == mask.sum()


def test_3d_ssim_sees_stripes_across_slices():
    """Alternate slices 5% too bright: each slice is nearly right, the volume not."""
    z = np.linspace(-1, 1, 16)
    real = np.broadcast_to(0.3 * np.cos(3 * z), (24, 24, 16)).astype(np.float32)
    real = real + 0.2 * np.sin(np.arange(24) / 3)[:, None, None]
    striped = real.copy()
    striped[..., ::2] += 0.1
    even = real.copy()
    even += 0.05  # the same mean error, without stripes
    assert evaluate_volume(real, striped)["mae"] == pytest.approx(
        evaluate_volume(real, even)["mae"], rel=1e-3
    )
    assert evaluate_volume(real, striped)["ssim"] < evaluate_volume(real, even)["ssim"]


def test_3d_scores_refuse_bad_input():
    volume = np.zeros((4, 4, 4), np.float32)
    with pytest.raises(DataError, match="one shape"):
        evaluate_volume(volume, volume[:3])
    with pytest.raises(DataError, match="mask` is empty"):
        evaluate_volume(volume, volume, np.zeros(volume.shape, bool))
    with pytest.raises(DataError, match=r"`mask` must have shape \(4, 4, 4\)"):
        evaluate_volume(volume, volume, np.ones((4, 4), bool))


def test_files_are_scored_on_the_synthetic_grid_over_a_mask(subject):
    # A perfect "synthetic T2" on the T1 grid: the real T2 resampled there.
    t1 = nib.load(subject["t1"])
    on_t1 = nifti.resample_to(nib.load(subject["t2"]), t1)
    on_t1 = nib.Nifti1Image(on_t1.get_fdata().astype(np.float32), t1.affine)
    perfect = evaluate_volume_files(subject["t2"], on_t1, mask=subject["t2_mask"])
    assert perfect["region"] == "mask" and perfect["psnr"] > 35, perfect
    brain = np.asarray(nifti.resample_to(nib.load(subject["t2_mask"]), t1, 0).dataobj)
    assert perfect["voxels"] == (brain > 0).sum()
    head = evaluate_volume_files(subject["t2"], on_t1)
    assert head["region"] == "head" and head["voxels"] > perfect["voxels"]
    # The T1 volume is no T2: far lower scores.
    wrong = evaluate_volume_files(subject["t2"], subject["t1"], mask=subject["t2_mask"])
    assert wrong["psnr"] < perfect["psnr"] - 15 and wrong["ssim"] < perfect["ssim"]


def test_reformat_figure_shows_three_planes(subject, tmp_path):
    volume = np.zeros((40, 48, 30), np.float32)
    assert central_reformats(volume).shape == (3, 48, 48, 1)
    path = save_volume_figure_files(
        tmp_path / "reformats.png", subject["t1"], subject["t2"], subject["t2"]
    )
    image = np.asarray(Image.open(path))
    assert image.ndim == 3 and image.shape[0] > 3 * 128  # three rows of tiles
    with pytest.raises(ValueError, match="one grid"):
        save_volume_figure(tmp_path / "x.png", volume, volume, volume[:20])
