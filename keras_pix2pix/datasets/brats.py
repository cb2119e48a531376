"""BraTS-style multi-contrast subject folders: `load_brats_pairs`.

The BraTS challenges release co-registered, skull-stripped volumes (one
1 mm grid per subject), one folder per subject and one file per contrast:
`<root>/<subject>/<subject><suffix>.nii.gz`, with the suffixes `_t1`,
`_t1ce`, `_t2`, `_flair` (2020 / 2021: `BRATS_SUFFIXES`) or `-t1n`, `-t1c`,
`-t2w`, `-t2f` (2023: `BRATS_2023_SUFFIXES`); segmentations are ignored.
Other datasets in that layout work with their own `suffixes`. The data are
licensed by the challenge organisers (synapse.org); cite them as they ask.

Example:
```python
from keras_pix2pix.datasets import SliceSpec, load_brats_pairs
from keras_pix2pix.datasets.brats import BRATS_2023_SUFFIXES

t1, t2, info = load_brats_pairs("~/data/BraTS2021", SliceSpec(image_size=256))
t1_t2, flair, info = load_brats_pairs(
    "~/data/BraTS2023", source=("t1", "t2"), target="flair",
    suffixes=BRATS_2023_SUFFIXES,
)
```
"""

import dataclasses
import os
import pathlib
import warnings
from collections.abc import Mapping, Sequence

from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.subject_selection import SubjectSelection
from keras_pix2pix.datasets.volume_pairs import (
    _check_contrasts,
    _check_on_error,
    _check_spec,
    _slice_pairs,
)
from keras_pix2pix.errors import DataError, DatasetNotFoundError

__all__ = [
    "BRATS_2023_SUFFIXES",
    "BRATS_SUFFIXES",
    "BraTSReport",
    "BraTSSubject",
    "list_brats_subjects",
    "load_brats_pairs",
]

# Contrast name -> file-name suffix (before `.nii.gz` / `.nii`).
BRATS_SUFFIXES = {"t1": "_t1", "t1ce": "_t1ce", "t2": "_t2", "flair": "_flair"}
BRATS_2023_SUFFIXES = {"t1": "-t1n", "t1ce": "-t1c", "t2": "-t2w", "flair": "-t2f"}
_EXTENSIONS = (".nii.gz", ".nii")


@dataclasses.dataclass
class BraTSSubject:
    """One subject: its ID (the file names' stem) and a file per contrast."""

    subject_id: str
    paths: dict[str, pathlib.Path]


@dataclasses.dataclass
class BraTSReport:
    """What `list_brats_subjects` found.

    Attributes:
        subjects: the subjects with every requested contrast, sorted by ID.
        missing: subject ID -> the requested contrasts it lacks, for
            subjects with at least one of them but not all.
        duplicates: files of a subject and contrast seen before (ignored).
    """

    subjects: list[BraTSSubject]
    missing: dict[str, tuple[str, ...]]
    duplicates: list[pathlib.Path]

    @property
    def subject_ids(self) -> list[str]:
        """The IDs of `subjects`, sorted."""
        return [subject.subject_id for subject in self.subjects]


def _check_suffixes(suffixes):
    """`suffixes` as a dict of non-empty strings, checked."""
    if not isinstance(suffixes, Mapping) or not suffixes:
        raise DataError(
            "`suffixes` must be a non-empty mapping contrast name -> file-name "
            f"suffix, e.g. {BRATS_SUFFIXES}. Received: {suffixes!r}"
        )
    suffixes = dict(suffixes)
    if not all(isinstance(v, str) and v for v in (*suffixes, *suffixes.values())):
        raise DataError(
            f"`suffixes` must map names to non-empty strings. Received: {suffixes!r}"
        )
    return suffixes


def _match(name, suffixes):
    """`(subject_id, contrast)` of a file name, by its longest suffix, or None."""
    matches = [
        (len(suffix), name[: -len(suffix + extension)], contrast)
        for contrast, suffix in suffixes.items()
        for extension in _EXTENSIONS
        if name.endswith(suffix + extension) and len(name) > len(suffix + extension)
    ]
    return max(matches)[1:] if matches else None


def list_brats_subjects(
    root: str | os.PathLike,
    contrasts: Sequence[str] = ("t1", "t1ce", "t2", "flair"),
    suffixes: Mapping[str, str] = BRATS_SUFFIXES,
) -> BraTSReport:
    """Finds the subjects and their contrast files under a BraTS-style folder.

    `root` is searched recursively for `.nii.gz` and `.nii` files named
    `<subject><suffix>` (BraTS puts them in a folder named `<subject>`).
    Other files (segmentations among them) are ignored; nothing is read.

    Args:
        root: the folder holding the subject folders.
        contrasts: the contrasts every subject must have (keys of `suffixes`).
        suffixes: contrast name -> file-name suffix; `BRATS_SUFFIXES`
            (BraTS 2020 / 2021) by default, `BRATS_2023_SUFFIXES` for 2023.

    Returns:
        A `BraTSReport` with `subjects` (complete, sorted by ID), `missing`
        and `duplicates`.

    Raises:
        DataError: if `contrasts` is empty or names a contrast `suffixes`
            has no suffix for.
        DatasetNotFoundError: if `root` holds no file of those contrasts
            (the message names the folder and the file names looked for).

    Example:
    ```python
    report = list_brats_subjects("~/data/BraTS2021", ("t1", "flair"))
    report.subject_ids[:1], report.missing  # ['BraTS2021_00000'], {}
    ```
    """
    suffixes = _check_suffixes(suffixes)
    contrasts = (contrasts,) if isinstance(contrasts, str) else tuple(contrasts)
    if not contrasts or any(c not in suffixes for c in contrasts):
        raise DataError(
            f"`contrasts` must be a non-empty subset of the contrasts of "
            f"`suffixes` {tuple(suffixes)}. Received: {contrasts!r}"
        )
    folder = pathlib.Path(os.fspath(root)).expanduser()
    found, duplicates = {}, []
    files = sorted(folder.rglob("*.nii*")) if folder.is_dir() else []
    for path in files:
        matched = _match(path.name, suffixes) if path.is_file() else None
        if matched is None or matched[1] not in contrasts:
            continue
        paths = found.setdefault(matched[0], {})
        if matched[1] in paths:
            duplicates.append(path)
        else:
            paths[matched[1]] = path
    if not found:
        looked_for = ", ".join(f"<subject>{suffixes[c]}.nii.gz" for c in contrasts)
        raise DatasetNotFoundError(
            f"No {'/'.join(contrasts)} volume found under {folder} (looked for "
            f"{looked_for}, or .nii, in subject folders). Pass the folder that "
            "holds the subject folders, and `suffixes=BRATS_2023_SUFFIXES` "
            "for BraTS 2023 names."
        )
    subjects, missing = [], {}
    for subject_id in sorted(found):
        lacking = tuple(c for c in contrasts if c not in found[subject_id])
        if lacking:
            missing[subject_id] = lacking
        else:
            subjects.append(BraTSSubject(subject_id, found[subject_id]))
    return BraTSReport(subjects, missing, duplicates)


def load_brats_pairs(
    root: str | os.PathLike,
    spec: SliceSpec | None = None,
    selection: SubjectSelection | None = None,
    *,
    source: str | Sequence[str] = "t1",
    target: str = "t2",
    suffixes: Mapping[str, str] = BRATS_SUFFIXES,
    on_error: str = "raise",
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
) -> PairedSlices:
    """Loads source / target slice pairs (t1 -> t2 by default) in [-1, 1].

    Any direction between the contrasts of `suffixes`, and several sources
    (`source=("t1", "t2")`): the channels of the source slices, in the order
    given, each scaled on its own. Subjects lacking a requested contrast are
    left out with a warning naming them; `selection` picks among the rest by
    subject (a list, or a split: no subject on two sides). Each subject goes
    through `paired_volume_slices` (aligned pairing; co-registered volumes
    share one grid, so nothing is resampled), one subject at a time.

    Skull-stripped volumes have a background of exactly 0: each volume's
    percentiles are taken over its voxels above 0 (the brain;
    `normalize_intensity`), so the background maps to -1, as the frame's
    padding does. The slices kept (`brain_slice_range` on the first source:
    voxels above 10 % of its 99th percentile) span the brain; on a FLAIR
    source the nulled CSF adds no area.

    With `cache_dir`, the slices are cached (see `load_ixi_pairs`) in the
    sub-folder `<split>-<sources>-to-<target>`, e.g. `train-t1+t2-to-flair`
    (`all-...` without a split), so splits and directions do not collide.

    Args:
        root: the folder holding the subject folders.
        spec: how the slices are cut (`SliceSpec`); `None` for `SliceSpec()`.
        selection: which subjects (`SubjectSelection`); `None` for all. The
            published protocol is IXI's and is refused.
        source: the source contrast (a key of `suffixes`), or several.
        target: the target contrast, one not among the sources.
        suffixes: contrast name -> file-name suffix (`BRATS_SUFFIXES`, or
            `BRATS_2023_SUFFIXES`).
        on_error: `"raise"` to stop at an unreadable or unusable file,
            `"skip"` to leave its subject out with a warning.
        cache_dir: a folder to cache the prepared slices in.
        workers: processes preparing subjects at once; `None` (default)
            for the machine's cores when 4 or more subjects are to be
            prepared, else 1 (see `keras_pix2pix.datasets.workers`). The
            arrays are the same whatever the number.

    Returns:
        `PairedSlices(source, target, info)`: `float32` arrays
        `(N, height, width, len(sources) * spec.channels)` and
        `(N, height, width, 1)` in [-1, 1], subject by subject, and a
        `SliceInfo` (with `source_contrasts` and `target_contrast`).

    Raises:
        DataError: if a contrast is unknown, the target is among the sources,
            `selection` is the published protocol or names an unknown
            subject, an argument is invalid, or no subject is usable.
        DatasetNotFoundError: if no subject has every requested contrast.
        ImageFileError: with `on_error="raise"`, if a file is unreadable.

    Example:
    ```python
    t1ce, flair, info = load_brats_pairs(
        "~/data/BraTS2021",
        SliceSpec(image_size=256),
        SubjectSelection(split="train", seed=0),
        source="t1ce",
        target="flair",
        cache_dir="~/.cache/brats",
    )
    ```
    """
    spec = _check_spec(spec)
    suffixes = _check_suffixes(suffixes)
    sources, target = _check_contrasts(source, target, suffixes, "BraTS")
    selection = _check_selection(selection)
    _check_on_error(on_error)
    chosen = _chosen_subjects(root, selection, (*sources, target), suffixes)
    direction = f"{selection.split or 'all'}-{'+'.join(sources)}-to-{target}"
    source_slices, target_slices, details = _slice_pairs(
        [
            (s.subject_id, tuple(s.paths[c] for c in sources), s.paths[target])
            for s in chosen
        ],
        spec=spec,
        pairing="aligned",
        max_slices=None,
        on_error=on_error,
        workers=workers,
        cache_dir=(
            None
            if cache_dir is None
            else pathlib.Path(os.fspath(cache_dir)).expanduser() / direction
        ),
    )
    info = SliceInfo(
        "aligned",
        spec,
        selection=selection,
        source_contrasts=sources,
        target_contrast=target,
        **details,
    )
    return PairedSlices(source_slices, target_slices, info)


def _check_selection(selection):
    selection = SubjectSelection() if selection is None else selection
    if not isinstance(selection, SubjectSelection):
        raise DataError(
            f"`selection` must be a SubjectSelection. Received: {selection!r}"
        )
    if selection.protocol is not None:
        raise DataError(
            f"The {selection.protocol!r} protocol is IXI's (its first 40 "
            "subjects, split 25 / 5 / 10); for BraTS folders pass a "
            "SubjectSelection of subjects or a split, e.g. "
            "SubjectSelection(split='train', seed=0)."
        )
    return selection


def _chosen_subjects(root, selection, contrasts, suffixes):
    """The complete subjects under `root` that `selection` picks; warns of the rest."""
    report = list_brats_subjects(root, contrasts, suffixes)
    folder = pathlib.Path(os.fspath(root)).expanduser()
    if not report.subjects:
        raise DatasetNotFoundError(
            f"No subject under {folder} has all of {'/'.join(contrasts)} "
            f"(files <subject>{{{', '.join(suffixes[c] for c in contrasts)}}}"
            f".nii.gz); {len(report.missing)} lack one, e.g. "
            f"{dict(list(report.missing.items())[:3])}."
        )
    if report.missing:
        lines = "\n".join(
            f"  {subject}: no {', '.join(lacking)}"
            for subject, lacking in report.missing.items()
        )
        warnings.warn(
            f"Left out {len(report.missing)} subject(s) under {folder} missing a "
            f"requested contrast:\n{lines}",
            UserWarning,
            stacklevel=3,
        )
    by_id = {subject.subject_id: subject for subject in report.subjects}
    return [by_id[subject_id] for subject_id in selection.select(by_id)]
