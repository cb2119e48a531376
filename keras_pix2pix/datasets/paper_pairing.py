"""The seed paper's IXI pairing, reproduced exactly: it pairs different anatomy.

"Medical Image Synthesis with Pix2Pix GANs" pairs slices 90 to 109 of each
subject's T1 volume (stored sagittal) with the same indices of its T2 volume
(stored axial), as stored and unregistered, so each pair shows different
anatomy. `paper_pairs` reproduces that selection only to compare with the
paper (`load_ixi_pairs(pairing="paper")` calls it); train a real T1 -> T2
model on `load_ixi_pairs(pairing="aligned")` or `"registered"`.
"""

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from keras_pix2pix.datasets import nifti, slicing
from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.volume_pairs import _check_on_error, _warn_skipped
from keras_pix2pix.errors import DataError, ImageFileError

if TYPE_CHECKING:
    from keras_pix2pix.datasets.ixi_subjects import IXISubject

# The seed paper's selection: T1 volumes with 150 slices and T2 volumes with
# 130 slices along the last array axis, slices 90 to 109 of each.
PAPER_T1_SLICES = 150
PAPER_T2_SLICES = 130
PAPER_SLICES = range(90, 110)


def _minmax_volume(path):
    """Loads a volume as stored and scales it min-max to [-1, 1]."""
    data = nifti.load_volume(path).get_fdata(dtype=np.float32)
    scaled, params = nifti.normalize_intensity(
        data, mask=np.ones(data.shape, bool), low=0.0, high=100.0, name=str(path)
    )
    params["method"] = "minmax"
    return scaled, params


def paper_pairs(
    subjects: Iterable["IXISubject"],
    *,
    image_size: int = 256,
    on_error: str = "raise",
) -> PairedSlices:
    """The seed paper's IXI slice pairs, reproduced exactly (not anatomical).

    The selection of "Medical Image Synthesis with Pix2Pix GANs": keep
    subjects whose T1 volume has 150 slices and whose T2 volume has 130
    slices along the last array axis (read from the headers; others are
    skipped, with a warning), take slices 90 to 109 of each along that axis,
    as stored (no reorientation), and pair them by index: 20 pairs per
    subject. Each volume is scaled min-max (its own minimum and maximum map to
    -1 and 1), standing in for the paper's per-image 8-bit conversion and
    Brownlee's `(x - 127.5) / 127.5`. Slices are centred in an
    `image_size x image_size` frame by `crop_or_pad` (padded with -1; IXI
    slices are already 256 x 256).

    Warning: the T1 slices are sagittal and the T2 slices axial, from volumes
    that are not registered, so a pair shows different anatomy. This exists
    only to reproduce the paper; use `load_ixi_pairs(pairing="aligned")` to
    train a real T1 -> T2 model.

    Args:
        subjects: `IXISubject` records with T1 and T2 files (e.g.
            `list_ixi_subjects(root).subjects`).
        image_size: height and width of the output slices.
        on_error: `"raise"` to stop at an unreadable file, `"skip"` to skip
            its subject (with a warning).

    Returns:
        `PairedSlices(t1, t2, info)`: two `float32` arrays of shape
        `(20 * subjects_used, image_size, image_size, 1)` in [-1, 1], and a
        `SliceInfo` whose `per_subject` entries hold the 20 `slices` and the
        T1 (`source_normalizations`, a list of one) and T2
        (`target_normalization`) min-max parameters.

    Raises:
        ImageFileError: with `on_error="raise"`, if a file is unreadable.
        DataError: if no subject passes the filter, or an argument is invalid.

    Example:
    ```python
    report = list_ixi_subjects("IXI")
    t1, t2, info = paper_pairs(report.subjects)  # warns: different anatomy
    t1.shape  # (20 * len(info.subjects), 256, 256, 1)
    ```
    """
    _check_on_error(on_error)
    warnings.warn(
        "IXI paper pairing: T1 slices (sagittal) are paired with T2 slices "
        "(axial) by index from volumes that are not registered, so each pair "
        "shows different anatomy. It exists only to reproduce the seed paper; "
        "use pairing='aligned' to train a T1 -> T2 model.",
        UserWarning,
        stacklevel=2,
    )
    sources, targets, used, skipped, params = [], [], [], [], {}
    for subject in subjects:
        try:
            t1_depth = subject.shape("T1")[-1]
            t2_depth = subject.shape("T2")[-1]
        except ImageFileError as e:
            if on_error == "raise":
                raise
            skipped.append((subject.subject_id, str(e)))
            continue
        if (t1_depth, t2_depth) != (PAPER_T1_SLICES, PAPER_T2_SLICES):
            skipped.append(
                (
                    subject.subject_id,
                    f"{t1_depth} T1 / {t2_depth} T2 slices along the last axis "
                    f"(the paper keeps {PAPER_T1_SLICES} / {PAPER_T2_SLICES})",
                )
            )
            continue
        try:
            t1, t1_params = _minmax_volume(subject.paths["T1"])
            t2, t2_params = _minmax_volume(subject.paths["T2"])
        except DataError as e:  # ImageFileError included
            if on_error == "raise":
                raise
            skipped.append((subject.subject_id, str(e)))
            continue
        for volume, out in ((t1, sources), (t2, targets)):
            cut = np.moveaxis(volume[..., np.asarray(PAPER_SLICES)], -1, 0)
            out.append(slicing.crop_or_pad(cut, image_size, value=-1.0)[..., None])
        used.append(subject.subject_id)
        params[subject.subject_id] = {"T1": t1_params, "T2": t2_params}
        del t1, t2
    _warn_skipped(skipped, "from the paper pairing")
    if not used:
        raise DataError(
            "No IXI subject has a 150-slice T1 and a 130-slice T2 volume; the "
            f"paper pairing is empty. Skipped: {dict(skipped)}"
        )
    info = SliceInfo(
        pairing="paper",
        spec=None,
        subjects=used,
        per_subject={
            subject: {
                "slices": list(PAPER_SLICES),
                "source_normalizations": [params[subject]["T1"]],
                "target_normalization": params[subject]["T2"],
            }
            for subject in used
        },
        skipped=dict(skipped),
        source_contrasts=("T1",),
        target_contrast="T2",
    )
    return PairedSlices(np.concatenate(sources), np.concatenate(targets), info)
