"""Evaluation of synthesized images against real ones: PSNR, SSIM and MAE.

Papers on MRI synthesis report numbers that are computed in different ways, and
the differences change the numbers by several dB. `evaluate_pairs` makes the
protocol explicit:

- `"full"`: each whole slice, in the units given (images in [-1, 1] with
  `data_range=2.0` by default). Background pixels count, which inflates SSIM and
  PSNR when the head fills little of the slice.
- `"brain_mask"`: PSNR and MAE over the pixels of a mask only, and the SSIM map
  (computed on the whole slice) averaged over the mask's pixels. The mask is
  given, or derived from the real image (pixels above `mask_threshold`, holes
  filled).
- `"per_image_max"`: as pGAN-style papers (Dar et al. 2019 and their
  successors) do: each image, real and generated separately, is shifted so
  that the bottom of its data range (`data_min`, -1 by default) is 0, divided by
  its own maximum (so its maximum is 1), centre-cropped to `crop` if given, and
  assessed with a data range of 1. MAE is then in those [0, 1] units.

Rows are per image; the summary gives each subject's means and the mean and
standard deviation over subjects (over images when no subject IDs are given).
PSNR is `inf` for identical images; means over subjects with an infinite PSNR
are `inf`. Images whose mask is empty give `nan` and are left out of the means.

Example:
```python
from keras_pix2pix.evaluation import evaluate_pairs, format_table, write_csv

rows, summary = evaluate_pairs(real, fake, protocol="brain_mask",
                               subject_ids=ids)
print(format_table(summary))
write_csv(rows, "per_image.csv")
```
"""

import csv
import io
import math
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from keras_pix2pix.errors import DataError
from keras_pix2pix.utils.atomic_files import atomic_path

PROTOCOLS = ("full", "brain_mask", "per_image_max")
METRIC_NAMES = ("psnr", "ssim", "mae")
_CHUNK = 64  # images per metric call, to bound memory


def _as_images(array, name):
    array = np.asarray(array, np.float32)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise DataError(
            f"`{name}` must be images (N, H, W) or (N, H, W, C), channels last. "
            f"Received shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise DataError(f"`{name}` holds NaN or infinite values.")
    return array


def _as_mask(mask, shape):
    """A boolean mask of shape (N, H, W) from (H, W), (N, H, W) or (N, H, W, 1)."""
    mask = np.asarray(mask)
    if mask.ndim == 4 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim == 2:
        mask = np.broadcast_to(mask, (shape[0], *mask.shape))
    if mask.shape != tuple(shape[:3]):
        raise DataError(
            f"`mask` must have shape (H, W), (N, H, W) or (N, H, W, 1) matching "
            f"the images {tuple(shape)}. Received shape {np.shape(mask)}."
        )
    return mask.astype(bool)


def derive_mask(images: np.ndarray, threshold: float = -0.9) -> np.ndarray:
    """A foreground (head or brain) mask of each image, by thresholding.

    Pixels whose mean over channels is above `threshold` are foreground; holes
    inside the foreground (dark ventricles, CSF on T1) are filled, slice by
    slice.

    Args:
        images: array `(N, H, W)` or `(N, H, W, C)`.
        threshold: intensity above which a pixel is foreground (-0.9 suits
            images in [-1, 1] whose background is -1).

    Returns:
        A boolean array `(N, H, W)`.

    Example:
    ```python
    mask = derive_mask(real_t2)  # (N, H, W), True on the head
    ```
    """
    from scipy import ndimage

    images = _as_images(images, "images")
    foreground = images.mean(axis=-1) > threshold
    return np.stack([ndimage.binary_fill_holes(m) for m in foreground])


def _crop_size(crop, shape):
    if crop is None:
        return None
    height, width = (crop, crop) if np.isscalar(crop) else tuple(crop)
    if not all(
        isinstance(n, int | np.integer) and not isinstance(n, bool) and n > 0
        for n in (height, width)
    ):
        raise DataError(
            f"`crop` must be a positive int or (height, width). Received: {crop!r}"
        )
    if height > shape[1] or width > shape[2]:
        raise DataError(
            f"`crop` {(height, width)} is larger than the images {shape[1:3]}."
        )
    return int(height), int(width)


def _centre_crop(array, size):
    if size is None:
        return array
    height, width = size
    top = (array.shape[1] - height) // 2
    left = (array.shape[2] - width) // 2
    return array[:, top : top + height, left : left + width]


def _per_image_max(images, data_min):
    shifted = np.maximum(images - np.float32(data_min), 0.0)
    peak = shifted.max(axis=(1, 2, 3), keepdims=True)
    return shifted / np.where(peak > 0, peak, 1.0).astype(np.float32)


def _metrics(real, fake, data_range, mask):
    """PSNR, SSIM and MAE per image, as float64 numpy arrays."""
    import keras

    from keras_pix2pix.metrics import mae, psnr, ssim

    out = {name: [] for name in METRIC_NAMES}
    for start in range(0, len(real), _CHUNK):
        part = slice(start, start + _CHUNK)
        chunk_mask = None if mask is None else mask[part].astype(np.float32)
        args = (real[part], fake[part])
        values = {
            "psnr": psnr(*args, data_range, mask=chunk_mask),
            "ssim": ssim(*args, data_range, mask=chunk_mask),
            "mae": mae(*args, mask=chunk_mask),
        }
        for name, value in values.items():
            out[name].append(keras.ops.convert_to_numpy(value).astype(np.float64))
    return {name: np.concatenate(parts) for name, parts in out.items()}


def _aggregate(values):
    """Mean and standard deviation, ignoring NaN; infinite values give inf."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    if not values.size:
        return math.nan, math.nan
    if np.isinf(values).any():
        return float(np.mean(values)), math.nan
    return float(np.mean(values)), float(np.std(values))


def evaluate_pairs(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    data_range: float = 2.0,
    mask: np.ndarray | None = None,
    protocol: str = "full",
    crop: int | tuple[int, int] | None = None,
    subject_ids: Sequence[str] | None = None,
    mask_threshold: float = -0.9,
    data_min: float = -1.0,
) -> tuple[list[dict], dict]:
    """Scores generated images against real ones under a stated protocol.

    See the module docstring for the protocols. `crop` (a centre crop) is
    applied to images and mask before any metric, for every protocol.

    Args:
        real: the real target images, `(N, H, W)` or `(N, H, W, C)`.
        fake: the generated images, same shape.
        data_range: distance between the smallest and largest value the images
            can take (2.0 for [-1, 1]). Used by `"full"` and `"brain_mask"`;
            `"per_image_max"` uses 1.
        mask: for `"brain_mask"` only: boolean `(H, W)`, `(N, H, W)` or
            `(N, H, W, 1)`. `None` derives it from `real` with
            `derive_mask(real, mask_threshold)`.
        protocol: `"full"`, `"brain_mask"` or `"per_image_max"`.
        crop: `None`, or the height and width (an int for a square) of a
            centre crop.
        subject_ids: one subject ID per image, to summarize per subject;
            `None` treats every image on its own.
        mask_threshold: threshold of the derived mask.
        data_min: for `"per_image_max"`: the bottom of the images' range,
            shifted to 0 before dividing by the maximum.

    Returns:
        `(rows, summary)`. `rows`: one dict per image with `index`,
        `subject` (`None` without `subject_ids`) and `psnr` (dB), `ssim`,
        `mae`. `summary`: a dict with
        `protocol`, `data_range` (the one used), `crop`, `images` (count),
        `over` (`"subjects"` or `"images"`: what the mean and standard
        deviation run over), `subjects` (a list of per-subject dicts:
        `subject`, `images`, and each metric's mean; empty without
        `subject_ids`), `mean` and `std` (dicts by metric).

    Raises:
        DataError: if the shapes differ, an argument is invalid, a mask is
            given with a protocol other than `"brain_mask"`, or the images
            are smaller than SSIM's 11x11 window.

    Example:
    ```python
    rows, summary = evaluate_pairs(t2, model.predict(t1), subject_ids=ids)
    summary["mean"]["psnr"], summary["std"]["psnr"]
    ```
    """
    if protocol not in PROTOCOLS:
        raise DataError(
            f"`protocol` must be one of {PROTOCOLS}. Received: {protocol!r}"
        )
    real = _as_images(real, "real")
    fake = _as_images(fake, "fake")
    if real.shape != fake.shape:
        raise DataError(
            f"`real` and `fake` must have the same shape. Received {real.shape} "
            f"and {fake.shape}."
        )
    if not len(real):
        raise DataError("No images to evaluate.")
    if not data_range > 0:
        raise DataError(f"`data_range` must be positive. Received: {data_range!r}")
    if subject_ids is not None:
        subject_ids = [str(s) for s in subject_ids]
        if len(subject_ids) != len(real):
            raise DataError(
                f"`subject_ids` has {len(subject_ids)} entries for {len(real)} images."
            )
    if mask is not None and protocol != "brain_mask":
        raise DataError(
            f"A `mask` applies to protocol='brain_mask' only (got {protocol!r})."
        )
    size = _crop_size(crop, real.shape)
    if protocol == "brain_mask":
        mask = derive_mask(real, mask_threshold) if mask is None else mask
        mask = _centre_crop(_as_mask(mask, real.shape), size)
    used_range = float(data_range)
    if protocol == "per_image_max":
        real = _per_image_max(real, data_min)
        fake = _per_image_max(fake, data_min)
        used_range = 1.0
    real = _centre_crop(real, size)
    fake = _centre_crop(fake, size)
    if min(real.shape[1:3]) < 11:
        raise DataError(
            f"SSIM needs images of at least 11x11 pixels; these are {real.shape[1:3]}."
        )
    values = _metrics(real, fake, used_range, mask)
    if mask is not None:
        empty = ~mask.reshape(len(mask), -1).any(axis=1)
        for name in METRIC_NAMES:
            values[name][empty] = math.nan

    rows = [
        {
            "index": i,
            "subject": None if subject_ids is None else subject_ids[i],
            **{name: float(values[name][i]) for name in METRIC_NAMES},
        }
        for i in range(len(real))
    ]
    groups: dict[str, list[int]] = {}
    for i, subject in enumerate(subject_ids or ()):
        groups.setdefault(subject, []).append(i)
    subjects = []
    for subject, indices in groups.items():
        entry = {"subject": subject, "images": len(indices)}
        for name in METRIC_NAMES:
            entry[name] = _aggregate(values[name][indices])[0]
        subjects.append(entry)
    over = "subjects" if subject_ids is not None else "images"
    units = subjects if subject_ids is not None else rows
    mean, std = {}, {}
    for name in METRIC_NAMES:
        mean[name], std[name] = _aggregate([unit[name] for unit in units])
    summary = {
        "protocol": protocol,
        "data_range": used_range,
        "crop": None if size is None else list(size),
        "images": len(rows),
        "over": over,
        "subjects": subjects,
        "mean": mean,
        "std": std,
    }
    return rows, summary


def _unit_count(summary):
    if summary["over"] == "subjects":
        return len(summary["subjects"])
    return summary["images"]


def summary_rows(summary: dict) -> list[dict]:
    """The summary as table rows: one per subject, then `mean` and `std`.

    Args:
        summary: the summary returned by `evaluate_pairs`.

    Returns:
        A list of dicts with `subject`, `images`, `psnr`, `ssim`, `mae`; the
        last two rows have `subject` `"mean"` and `"std"` (over subjects, or
        over images when no subject IDs were given).

    Example:
    ```python
    write_csv(summary_rows(summary), "summary.csv")
    ```
    """
    rows = [dict(entry) for entry in summary["subjects"]]
    count = _unit_count(summary)
    for kind in ("mean", "std"):
        rows.append({"subject": kind, "images": count, **summary[kind]})
    return rows


def write_csv(rows: Sequence[dict], path: str | os.PathLike) -> pathlib.Path:
    """Writes dict rows as a CSV file, atomically.

    The columns are the keys of the rows, in the order first seen. Missing
    values are left empty; floats are written with full precision (`inf` and
    `nan` as such). Missing parent folders are created.

    Args:
        rows: the rows (e.g. from `evaluate_pairs` or `summary_rows`).
        path: the CSV file to write.

    Returns:
        The path written, as a `pathlib.Path`.

    Raises:
        DataError: if `rows` is empty.
        OSError: if the folder cannot be written.

    Example:
    ```python
    rows, summary = evaluate_pairs(real, fake)
    write_csv(rows, "results/per_image.csv")
    ```
    """
    rows = list(rows)
    if not rows:
        raise DataError("No rows to write.")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = pathlib.Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _format_value(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


_DIGITS = {"psnr": 2, "ssim": 4, "mae": 4}
_HEADINGS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "mae": "MAE"}


def format_table(summary: dict) -> str:
    """A plain-text table of a summary: one line per subject, then mean +- std.

    Args:
        summary: the summary returned by `evaluate_pairs`.

    Returns:
        The table as a string (no trailing newline).

    Example:
    ```python
    print(format_table(summary))
    # Protocol full (data range 2.0): 16 images of 2 subjects
    # subject   images   PSNR (dB)       SSIM              MAE
    # ...
    # mean +- std over 2 subjects: ...
    ```
    """
    header = (
        f"Protocol {summary['protocol']} (data range {summary['data_range']:g}"
        + (f", centre crop {tuple(summary['crop'])}" if summary.get("crop") else "")
        + f"): {summary['images']} images"
        + (f" of {len(summary['subjects'])} subject(s)" if summary["subjects"] else "")
    )
    table = [["subject", "images", *(_HEADINGS[n] for n in METRIC_NAMES)]]
    for entry in summary["subjects"]:
        table.append(
            [
                str(entry["subject"]),
                str(entry["images"]),
                *(_format_value(entry[n], _DIGITS[n]) for n in METRIC_NAMES),
            ]
        )
    count = _unit_count(summary)
    table.append(
        [
            "mean +- std",
            str(count),
            *(
                f"{_format_value(summary['mean'][n], _DIGITS[n])} +- "
                f"{_format_value(summary['std'][n], _DIGITS[n])}"
                for n in METRIC_NAMES
            ),
        ]
    )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [header]
    for i, row in enumerate(table):
        if i == len(table) - 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append(
            "  ".join(
                cell.ljust(w) if j == 0 else cell.rjust(w)
                for j, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    lines.append(f"(mean +- std over {summary['over']})")
    return "\n".join(lines)
