"""Evaluation protocols on hand-made arrays, CSV output and the summary table."""

import csv
import math

import numpy as np
import pytest

from keras_pix2pix.errors import DataError
from keras_pix2pix.evaluation import (
    derive_mask,
    evaluate_pairs,
    format_table,
    summary_rows,
    write_csv,
)


def _images(count=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (count, size, size, 1)).astype("float32")


@pytest.mark.parametrize("protocol", ["full", "brain_mask", "per_image_max"])
def test_identical_images_are_perfect(protocol):
    real = _images()
    rows, summary = evaluate_pairs(real, real.copy(), protocol=protocol)
    for row in rows:
        assert math.isinf(row["psnr"]) and row["psnr"] > 0
        assert row["ssim"] == pytest.approx(1.0, abs=1e-5)
        assert row["mae"] == pytest.approx(0.0, abs=1e-7)
    assert math.isinf(summary["mean"]["psnr"])
    assert summary["over"] == "images" and summary["images"] == 4


def test_full_protocol_values():
    real = np.zeros((2, 16, 16, 1), "float32")
    fake = real + 0.5
    rows, summary = evaluate_pairs(real, fake)
    # MSE 0.25, data range 2: 10 log10(4 / 0.25) = 12.04 dB.
    assert rows[0]["psnr"] == pytest.approx(10 * math.log10(16.0), abs=1e-4)
    assert rows[0]["mae"] == pytest.approx(0.5)
    assert summary["std"]["psnr"] == pytest.approx(0.0, abs=1e-6)


def test_brain_mask_ignores_pixels_outside_the_mask():
    real = _images(count=2, size=40)
    mask = np.zeros((40, 40), bool)
    mask[12:28, 12:28] = True
    fake = real.copy()
    fake[:, :2] = 1.0  # far from the mask: more than SSIM's 5-pixel radius
    fake[:, :, -2:] = -1.0
    rows, _ = evaluate_pairs(real, fake, protocol="brain_mask", mask=mask)
    assert all(math.isinf(r["psnr"]) for r in rows)
    assert all(r["ssim"] == pytest.approx(1.0, abs=1e-5) for r in rows)
    assert all(r["mae"] == 0.0 for r in rows)
    full, _ = evaluate_pairs(real, fake, protocol="full")
    assert all(r["mae"] > 0 for r in full)
    # A difference inside the mask counts, averaged over the mask only.
    fake[:, 12:28, 12:28] = real[:, 12:28, 12:28] + 0.1
    rows, _ = evaluate_pairs(real, fake, protocol="brain_mask", mask=mask)
    assert rows[0]["mae"] == pytest.approx(0.1, abs=1e-5)


def test_brain_mask_derived_from_the_real_image():
    real = -np.ones((1, 32, 32, 1), "float32")
    real[0, 8:24, 8:24] = 0.5
    real[0, 14:18, 14:18] = -1.0  # a dark hole inside the head is kept
    mask = derive_mask(real)
    assert mask.shape == (1, 32, 32) and mask[0, 8:24, 8:24].all()
    assert mask.sum() == 16 * 16
    fake = real.copy()
    fake[0, :4] = 1.0
    rows, _ = evaluate_pairs(real, fake, protocol="brain_mask")
    assert rows[0]["mae"] == 0.0


def test_empty_mask_gives_nan_and_is_left_out():
    real = _images(count=2)
    mask = np.zeros((2, 32, 32), bool)
    mask[0, 5:25, 5:25] = True
    rows, summary = evaluate_pairs(real, real + 0.1, protocol="brain_mask", mask=mask)
    assert math.isnan(rows[1]["mae"]) and rows[0]["mae"] == pytest.approx(0.1)
    assert summary["mean"]["mae"] == pytest.approx(0.1)


def test_per_image_max_normalizes_each_image():
    real = _images(count=3)
    # The same image at half the intensity (above the bottom of the range).
    fake = 0.5 * (real + 1.0) - 1.0
    rows, summary = evaluate_pairs(real, fake, protocol="per_image_max")
    assert summary["data_range"] == 1.0
    assert all(r["psnr"] > 100 for r in rows)  # equal up to float rounding
    assert all(r["mae"] == pytest.approx(0.0, abs=1e-6) for r in rows)
    full, _ = evaluate_pairs(real, fake, protocol="full")
    assert all(r["mae"] > 0.1 for r in full)


def test_crop_ignores_the_border():
    real = _images(count=2, size=32)
    fake = real.copy()
    fake[:, :4] += 0.5
    rows, summary = evaluate_pairs(real, fake, crop=16)
    assert summary["crop"] == [16, 16]
    assert all(r["mae"] < 1e-6 for r in rows)


def test_subject_summary_table_and_csv(tmp_path):
    real = np.zeros((4, 16, 16, 1), "float32")
    fake = real.copy()
    fake[:2] += 0.2  # subject a: MAE 0.2
    fake[2:] += 0.4  # subject b: MAE 0.4
    rows, summary = evaluate_pairs(real, fake, subject_ids=["a", "a", "b", "b"])
    assert summary["over"] == "subjects"
    assert [s["subject"] for s in summary["subjects"]] == ["a", "b"]
    assert summary["subjects"][1]["mae"] == pytest.approx(0.4, abs=1e-5)
    assert summary["mean"]["mae"] == pytest.approx(0.3, abs=1e-5)
    assert summary["std"]["mae"] == pytest.approx(0.1, abs=1e-5)
    table = format_table(summary)
    assert "mean +- std" in table and "0.3000 +- 0.1000" in table
    assert "PSNR (dB)" in table and "\nb " in table
    path = write_csv(summary_rows(summary), tmp_path / "out" / "summary.csv")
    with open(path) as file:
        read = list(csv.DictReader(file))
    assert [r["subject"] for r in read] == ["a", "b", "mean", "std"]
    assert float(read[2]["mae"]) == pytest.approx(0.3, abs=1e-5)
    write_csv(rows, tmp_path / "per_image.csv")
    assert len((tmp_path / "per_image.csv").read_text().splitlines()) == 5
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "bogus"}, "protocol"),
        ({"mask": np.ones((16, 16), bool)}, "brain_mask"),
        ({"crop": 64}, "larger"),
        ({"subject_ids": ["a"]}, "subject_ids"),
        ({"data_range": 0}, "data_range"),
    ],
)
def test_bad_arguments(kwargs, message):
    real = np.zeros((2, 16, 16, 1), "float32")
    with pytest.raises(DataError, match=message):
        evaluate_pairs(real, real, **kwargs)


def test_shape_mismatch_and_small_images():
    with pytest.raises(DataError, match="same shape"):
        evaluate_pairs(np.zeros((1, 16, 16)), np.zeros((1, 16, 15)))
    with pytest.raises(DataError, match="11x11"):
        evaluate_pairs(np.zeros((1, 8, 8)), np.zeros((1, 8, 8)))
    with pytest.raises(DataError, match="No rows"):
        write_csv([], "unused.csv")
