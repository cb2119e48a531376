"""The quality benchmark's pipeline on the real IXI subject, for a few steps.

`benchmarks/quality.py` is run by hand for its table; here it runs on a few
slices with a tiny network: the real files load and pair (every backend), the
losses fall and every score comes out finite (the training runs: once, on the
PyTorch backend, see `marks.once`).
"""

import pathlib

import numpy as np
import pytest
from marks import once

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not (DATA / "ixi").is_dir(),
    reason=f"the real IXI subject is not at {DATA / 'ixi'} (see shared/data)",
)


@pytest.fixture(scope="module")
def subject(quality):
    return quality.load_subject(DATA)


def _few_slices(quality, subject, **kwargs):
    """`compare_models` on 10 training slices and 3 test slices, 4 filters."""
    t1, t2, mask, slices = subject
    train, test = quality.split_blocks(slices, mask)
    return quality.compare_models(
        t1, t2, mask, train[::8], test[::12], filters=4, **kwargs
    )


def test_real_subject_loads_aligned_with_its_brain_mask(quality, subject):
    t1, t2, mask, slices = subject
    assert t1.shape == t2.shape == (len(slices), 256, 128, 1)
    assert mask.shape == t1.shape[:3] and mask.any()
    # Skull stripped: the brain mask covers the T1 and T2 brains, which line up.
    for image in (t1, t2):
        inside = image[..., 0] > -1
        assert (inside & mask).sum() / mask.sum() > 0.9
    train, test = quality.split_blocks(slices, mask)
    assert test[0] - train[-1] > 5  # a gap of at least 5 slices
    assert len(train) > len(test) > 10


@once
def test_the_benchmark_trains_and_scores_on_real_slices(quality, subject):
    t1, t2, mask, slices = subject
    train, test = quality.split_blocks(slices, mask)
    results, predictions, histories = quality.compare_models(
        t1,
        t2,
        mask,
        train[::8],  # 10 slices spread over the training block
        test[::12],  # 3 test slices
        models=("pix2pix_l1", "generator_l1"),
        steps=30,
        filters=4,
        curve_every=15,
    )
    assert results["steps"] == 30
    # Scored after every 2 epochs of 10 steps, and at the end.
    for name in ("pix2pix_l1", "generator_l1"):
        curve = np.asarray(results["curves"][name])
        assert curve[:, 0].tolist() == [20, 30]
        assert np.isfinite(curve).all()
    for name, history in histories.items():
        loss = history["reconstruction_loss" if name != "generator_l1" else "loss"]
        assert loss[-1] < loss[0], (name, loss)
    assert set(results["scores"]) == {
        f"{name}/{mode}"
        for name in ("pix2pix_l1", "generator_l1")
        for mode in ("eval", "per_image", "train", "train_mean5", "fit")
    } | {"histogram", "histogram/fit"}
    for scores in results["scores"].values():
        values = [
            v for region in scores.values() for pair in region.values() for v in pair
        ]
        assert np.isfinite(values).all()
    # The baseline learned the contrast: far better than predicting the T1.
    baseline = results["scores"]["histogram"]["brain"]["psnr"][0]
    assert baseline > 15
    assert predictions["histogram"].shape == t2[test[::12]].shape


@once
def test_a_generator_over_the_histogram_prior_starts_from_the_baseline(
    quality, subject
):
    psnr = {}
    for prior in ("none", "histogram"):
        results, _, _ = _few_slices(
            quality, subject, models=("generator_l1",), steps=10, prior=prior
        )
        psnr[prior] = results["scores"]["generator_l1/eval"]["brain"]["psnr"][0]
    baseline = results["scores"]["histogram"]["brain"]["psnr"][0]
    # Ten steps teach a plain 4-filter U-Net next to nothing (13.6 dB on
    # torch); over the prior it starts at the baseline's quality (20.3 dB).
    assert psnr["histogram"] > baseline - 1.5, (psnr, baseline)
    assert psnr["histogram"] > psnr["none"] + 3, (psnr, baseline)


@once
def test_bias_correction_runs_on_the_real_volumes(quality, subject):
    pytest.importorskip("SimpleITK", reason="bias correction needs SimpleITK")
    from keras_pix2pix.baselines import HistogramMapping

    corrected = quality.load_subject(DATA, bias_correction="both")
    psnr = []
    for t1, t2, mask, slices in (subject, corrected):
        train, test = quality.split_blocks(slices, mask)
        mapping = HistogramMapping().fit(t1[train], t2[train])
        scores = quality.score(t2[test], mapping.predict(t1[test]), mask[test])
        psnr.append(scores["brain"]["psnr"][0])
    assert corrected[0].shape == subject[0].shape
    np.testing.assert_array_equal(corrected[3], subject[3])  # the same slices
    # With the headers' alignment, corrected volumes give a mapping that
    # transfers to the test block a little better (19.70 dB against 19.57).
    assert psnr[1] > psnr[0] + 0.05, psnr


def test_brain_edge_is_the_outermost_ring_of_the_mask(quality):
    mask = np.zeros((1, 8, 8), bool)
    mask[0, 2:7, 1:5] = True  # a 5 x 4 block
    edge = quality.brain_edge(mask)
    expected = mask.copy()
    expected[0, 3:6, 2:4] = False  # its 3 x 2 inside
    np.testing.assert_array_equal(edge, expected)


@once
def test_the_loss_mask_trains_on_the_head_only(quality, subject):
    losses = {}
    for loss_mask in ("none", "head"):
        results, _, histories = _few_slices(
            quality, subject, models=("pix2pix_l1",), steps=20, loss_mask=loss_mask
        )
        losses[loss_mask] = histories["pix2pix_l1"]["reconstruction_loss"]
    assert losses["head"][-1] < losses["head"][0], losses
    # The untrained U-Net's error is largest in the background, which the
    # mask leaves out (0.14 against 0.75 in the first epoch on torch).
    assert losses["head"][0] < 0.5 * losses["none"][0], losses
    scores = results["scores"]["pix2pix_l1/eval"]
    assert set(scores) == {"brain", "core", "edge", "slice"}
    assert np.isfinite([scores[r]["psnr"][0] for r in scores]).all()


def test_the_hemisphere_split_trains_on_one_half_only(quality):
    rng = np.random.default_rng(0)
    mask = np.zeros((5, 6, 16), bool)
    mask[1:4, 1:5, 3:12] = True  # brain in slices 1-3, columns 3-11: midline 7
    t1 = np.where(mask[..., None], rng.uniform(-1, 1, (5, 6, 16, 1)), -1.0)
    t2 = np.where(mask[..., None], rng.uniform(-0.5, 0.5, (5, 6, 16, 1)), -1.0)
    t2[:, :, 8:] = 0.9  # a value only right of the midline
    slices = np.arange(40, 45)
    *arrays, kept, train, test, region = quality.split_hemispheres(
        t1, t2, mask, slices, band=2
    )
    a1, a2, amask = arrays
    np.testing.assert_array_equal(kept, [41, 42, 43] * 2)
    np.testing.assert_array_equal(train, [0, 1, 2])
    np.testing.assert_array_equal(test, [3, 4, 5])
    # The test images are the slices as they are; the training images are
    # their left halves and the mirror of those.
    np.testing.assert_array_equal(a2[test], t2[1:4])
    np.testing.assert_array_equal(a1[train][:, :, :8], t1[1:4, :, :8])
    np.testing.assert_array_equal(a1[train][:, :, 8:14], t1[1:4, :, 6:0:-1])
    np.testing.assert_array_equal(a1[train][:, :, 14:], -1.0)
    assert not (a2[train] == 0.9).any()  # nothing right of the midline
    np.testing.assert_array_equal(amask[train][:, :, 8:11], mask[1:4, :, 6:3:-1])
    # Scored right of the midline and its band only, in the test images.
    assert not region[train].any()
    np.testing.assert_array_equal(region[test][0, 0], np.arange(16) > 9)


@once
def test_the_benchmark_scores_the_test_region_only(quality, subject):
    *arrays, _, train, test, region = quality.split_hemispheres(*subject)
    _, t2, mask = arrays
    # The brain's halves are about the same size.
    right, left = (mask & region)[test].sum(), (mask & ~region)[test].sum()
    assert 0.8 < right / left < 1.1, (left, right)
    few = np.concatenate([train[::10], test[::20]])
    count = len(train[::10])
    results, predictions, histories = quality.compare_models(
        *(a[few] for a in arrays),
        np.arange(count),
        np.arange(count, len(few)),
        models=("generator_l1",),
        steps=16,
        filters=4,
        test_region=region[few],
    )
    assert histories["generator_l1"]["loss"][-1] < histories["generator_l1"]["loss"][0]
    real, fake = t2[test[::20]], predictions["histogram"]
    scored = results["scores"]["histogram"]["brain"]["psnr"]
    expected = quality.score(real, fake, mask[test[::20]], region[test[::20]])
    whole = quality.score(real, fake, mask[test[::20]])
    assert scored == expected["brain"]["psnr"]
    assert abs(scored[0] - whole["brain"]["psnr"][0]) > 0.05, (scored, whole)
    assert np.isfinite(results["scores"]["generator_l1/eval"]["brain"]["psnr"]).all()


def test_the_subject_split_refuses_one_subject(quality):
    with pytest.raises(SystemExit, match=r"1 found \(IXI002-Guys-0828\)") as error:
        quality.split_by_subject(DATA)
    assert str(DATA / "ixi-brainmasks") in str(error.value)
