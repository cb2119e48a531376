"""IXI slice pairs in any direction between T1, T2 and PD: `load_ixi_pairs`.

IXI's T1 images are stored sagittal, its T2 and PD images axial; T2 and PD
are the two echoes of one dual-echo acquisition and share one grid (the
loader takes a volume already on the source's grid as it is, and resamples
one on another grid through the affines). The subjects are found by
`list_ixi_subjects` (`keras_pix2pix.datasets.ixi_subjects`, where the IXI
file names, the download and the licence are described; its names are
importable from here too), the slices cut by
`keras_pix2pix.datasets.volume_pairs`, the seed paper's pairing is
`keras_pix2pix.datasets.paper_pairing.paper_pairs`.

Example:
```python
from keras_pix2pix.datasets import SliceSpec, SubjectSelection, load_ixi_pairs

t1, t2, info = load_ixi_pairs("~/data/IXI", SliceSpec(image_size=256))
t2, pd, info = load_ixi_pairs("~/data/IXI", source="T2", target="PD")
t1_t2, pd, info = load_ixi_pairs("~/data/IXI", source=("T1", "T2"), target="PD")
t1_t2.shape[-1]  # 2: T1, then T2
```
"""

import dataclasses
import os
import pathlib
from collections.abc import Sequence

from keras_pix2pix.datasets.ixi_subjects import (
    _DOWNLOAD_HINT,
    MODALITIES,
    SITES,
    IXIFileName,
    IXIReport,
    IXISubject,
    _roots,
    list_ixi_subjects,
    parse_ixi_filename,
)
from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.paper_pairing import paper_pairs
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.subject_selection import SubjectSelection
from keras_pix2pix.datasets.volume_pairs import (
    _check_contrasts,
    _check_on_error,
    _check_spec,
    _refuse_removed,
    _slice_pairs,
)
from keras_pix2pix.errors import DataError, DatasetNotFoundError

__all__ = [
    "CONTRASTS",
    "MODALITIES",
    "PAIRINGS",
    "PUBLISHED_SLICES",
    "SITES",
    "IXIFileName",
    "IXIReport",
    "IXISubject",
    "list_ixi_subjects",
    "load_ixi_pairs",
    "parse_ixi_filename",
]

PAIRINGS = ("aligned", "registered", "paper")
# The IXI modalities that slice pairs can be made of (MRA and DTI cannot).
CONTRASTS = ("T1", "T2", "PD")
# The published protocol's slices (SynDiff, following pGAN): about 100
# central axial slices with brain per subject (its subjects and split:
# `SubjectSelection.published`).
PUBLISHED_SLICES = 100


def load_ixi_pairs(
    root: str | os.PathLike | Sequence[str | os.PathLike],
    spec: SliceSpec | None = None,
    selection: SubjectSelection | None = None,
    *,
    source: str | Sequence[str] = "T1",
    target: str = "T2",
    pairing: str | None = None,
    on_error: str = "raise",
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    **removed,
) -> PairedSlices:
    """Loads IXI source / target slice pairs (T1 -> T2 by default) in [-1, 1].

    Any direction between T1, T2 and PD works (`source="T2", target="PD"`),
    and several source contrasts at once (`source=("T1", "T2")`): they become
    the channels of the source slices, in the order given (each with its
    `spec.context` neighbours), each on the first one's grid and scaled on
    its own. Subjects with every requested contrast are found by
    `list_ixi_subjects`,
    chosen by `selection` (`SubjectSelection`: a list of IDs, one split of
    `split_subjects`, or the published protocol), and read one at a time
    (only one subject's volumes are in memory at once).

    - `pairing="aligned"` (default): `paired_volume_slices` per subject: the
      volumes reoriented to RAS+, the others resampled onto the (first)
      source's grid through the affines (T2 and PD share a grid: no
      resampling between them), slices along `plane` of that grid (by
      default the slices that hold the head, see `brain_slice_range`), each
      volume scaled by its 0.5 / 99.5 percentiles inside the head, centred
      in `image_size` pixels.
    - `pairing="registered"`: the same, but the others are registered onto
      the source by `registration.register_affine` (affine, mutual
      information; needs SimpleITK, `pip install
      keras-pix2pix[registration]`) instead of only resampled, as pGAN and
      SynDiff did with FSL FLIRT. Each subject's registration report is in
      `info.per_subject[id]["alignment"]`; a poor one is warned about.
    - `pairing="paper"`: `paper_pairs`, the seed paper's selection (different
      anatomy in each pair; warns); T1 -> T2 only, as the paper did. Only
      `spec.image_size` applies.

    `SubjectSelection.published()` follows the published protocol (SynDiff,
    after pGAN): the first 40 subjects in sorted order, split in order 25 / 5
    / 10 into train / val / test (`published_split`; its `split` selects one,
    `None` gives all 40), registered pairing by default, the 100 central axial
    slices of each subject's brain range (`central_slices`; all of them when
    fewer). The papers then scale each volume by its maximum and pad to 256;
    here each volume is scaled by its percentiles, as for the other pairings.

    With `cache_dir`, the prepared slices go through `build_slice_cache` in
    the sub-folder `cache_dir / (selection.split or "all")` for T1 -> T2, and
    e.g. `cache_dir / "train-T2-to-PD"` for other directions (so splits and
    directions do not evict each other), keyed on every argument that
    affects them; a later call
    with the same arguments and unchanged files reads them back without
    preparing anything. The returned arrays are then read-only memory-maps
    of the cache files (`np.array(t1)` makes a writable copy).

    Args:
        root: a folder, or a list of folders, holding the IXI files.
        spec: how the slices are cut (`SliceSpec`: plane, frame and size,
            neighbouring slices, which slices, intensity scaling, bias
            correction); `None` for `SliceSpec()`. With the published
            protocol, its `plane` must be axial and its `slices` `None`.
        selection: which subjects (`SubjectSelection`); `None` for all.
        source: the source contrast, `"T1"`, `"T2"` or `"PD"`, or several
            of them in channel order.
        target: the target contrast, one not among the sources.
        pairing: `"aligned"`, `"registered"` or `"paper"`. Defaults to
            `"registered"` with the published protocol, else `"aligned"`.
        on_error: `"raise"` to stop at an unreadable or unusable file
            (`ImageFileError` naming it; `DataError` for a constant volume),
            `"skip"` to skip its subject and list it in a warning.
        cache_dir: a folder to cache the prepared slices in (aligned and
            registered pairings only); see above.
        workers: processes preparing subjects at once; `None` (default)
            for the machine's cores when 4 or more subjects are to be
            prepared, else 1 (see `keras_pix2pix.datasets.workers`). The
            arrays are the same whatever the number.
        **removed: the arguments that `spec` and `selection` replaced
            (`plane`, `image_size`, `split`, `preset`, ...) raise a
            `TypeError` that says so.

    Returns:
        `PairedSlices(source, target, info)`: two `float32` arrays of shape
        `(N, height, width, len(sources) * spec.channels)` and
        `(N, height, width, 1)` with values in [-1, 1], subject by subject,
        and a `SliceInfo` (contrasts, subjects, their slices and intensity
        parameters, registration reports, skipped subjects, cache folder).

    Raises:
        DatasetNotFoundError: if no IXI file is found, or no subject has
            every requested contrast.
        ImageFileError: with `on_error="raise"`, if a file is unreadable.
        DataError: if an argument is invalid (unknown contrast, `pairing` or
            subject ID, options that do not go together), the published protocol
            finds fewer than 40 subjects, or no subject is left.
        ImportError: for `pairing="registered"` or a `bias_correction`
            without SimpleITK.

    Example:
    ```python
    spec = SliceSpec(image_size=256)
    t1, t2, info = load_ixi_pairs(
        "~/data/IXI", spec, SubjectSelection(split="train", seed=0)
    )
    test = load_ixi_pairs("~/data/IXI", spec, SubjectSelection(split="test"))
    train = load_ixi_pairs(
        "~/data/IXI",
        spec,
        SubjectSelection.published(split="train"),
        cache_dir="~/.cache/ixi",
    )
    t2, pd, info = load_ixi_pairs("~/data/IXI", spec, source="T2", target="PD")
    ```
    """
    _refuse_removed(removed)
    spec = _check_spec(spec)
    sources, target = _check_contrasts(source, target, CONTRASTS, "IXI")
    selection = SubjectSelection() if selection is None else selection
    if not isinstance(selection, SubjectSelection):
        raise DataError(
            f"`selection` must be a SubjectSelection. Received: {selection!r}"
        )
    published = selection.protocol == "published"
    if pairing is None:
        pairing = "registered" if published else "aligned"
    _check_options(spec, pairing, on_error, cache_dir, published, sources, target)
    chosen = _chosen_subjects(root, selection, (*sources, target))
    if pairing == "paper":
        source_slices, target_slices, info = paper_pairs(
            chosen, image_size=spec.image_size, on_error=on_error
        )
        info = dataclasses.replace(info, selection=selection)
        return PairedSlices(source_slices, target_slices, info)
    direction = (
        ""
        if (sources, target) == (("T1",), "T2")
        else (f"-{'+'.join(sources)}-to-{target}")
    )
    source_slices, target_slices, details = _slice_pairs(
        [
            (s.subject_id, tuple(s.paths[m] for m in sources), s.paths[target])
            for s in chosen
        ],
        spec=spec,
        pairing=pairing,
        max_slices=PUBLISHED_SLICES if published else None,
        on_error=on_error,
        workers=workers,
        cache_dir=(
            None
            if cache_dir is None
            else pathlib.Path(os.fspath(cache_dir)).expanduser()
            / f"{selection.split or 'all'}{direction}"
        ),
    )
    info = SliceInfo(
        pairing,
        spec,
        selection=selection,
        source_contrasts=sources,
        target_contrast=target,
        **details,
    )
    return PairedSlices(source_slices, target_slices, info)


def _check_options(spec, pairing, on_error, cache_dir, published, sources, target):
    """Refuses options that do not go together, with a clear error."""
    if pairing not in PAIRINGS:
        raise DataError(f"`pairing` must be one of {PAIRINGS}. Received: {pairing!r}")
    _check_on_error(on_error)
    if pairing == "paper" and (sources, target) != (("T1",), "T2"):
        raise DataError(
            "The paper pairing reproduces the seed paper's T1 -> T2 only. "
            f"Received: source={sources}, target={target!r}; use "
            "pairing='aligned' or 'registered' for other directions."
        )
    if pairing == "paper" and (
        spec != SliceSpec(image_size=spec.image_size) or cache_dir is not None
    ):
        raise DataError(
            "The paper pairing takes slices 90-109 along the last stored axis "
            "of each volume; of the SliceSpec only `image_size` applies to it, "
            "and `cache_dir` applies to the aligned and registered pairings. "
            f"Received: {spec}"
        )
    if published and (
        spec.slices is not None or spec.plane != "axial" or pairing == "paper"
    ):
        raise DataError(
            "The published protocol takes axial slices: do not pass a "
            "SliceSpec with `slices` or a `plane` other than axial, or "
            "pairing='paper', with it."
        )


def _chosen_subjects(root, selection, contrasts):
    """The IXI subjects under `root` with every contrast, that `selection` picks."""
    roots = _roots(root, ())
    report = list_ixi_subjects(*roots, modalities=contrasts)
    by_id = {subject.subject_id: subject for subject in report.subjects}
    if not by_id:
        raise DatasetNotFoundError(
            f"No IXI subject under {[str(r) for r in roots]} has all of "
            f"{'/'.join(contrasts)} ({len(report.missing)} lack one: e.g. "
            f"{dict(list(report.missing.items())[:3])}). "
            + _DOWNLOAD_HINT.format(folder=roots[0])
        )
    return [by_id[subject_id] for subject_id in selection.select(by_id)]
