"""The IXI dataset: paired T1-weighted / T2-weighted brain MRI of healthy adults.

IXI ("Information eXtraction from Images") holds about 600 MR scans of healthy
subjects from three London hospitals: Guy's (Philips 1.5 T), Hammersmith (HH,
Philips 3 T) and the Institute of Psychiatry (IOP, GE 1.5 T). Download
`IXI-T1.tar` and `IXI-T2.tar` from https://brain-development.org/ixi-dataset/
and unpack them into one folder (or two). The data are licensed under the
Creative Commons CC BY-SA 3.0 licence; acknowledge the IXI project
(brain-development.org) when you use them.

Files are named `IXI{number}-{site}-{id}-{modality}.nii.gz`, e.g.
`IXI002-Guys-0828-T1.nii.gz`; the subject ID is everything before the last
`-` (`IXI002-Guys-0828`).

The T1 images are stored sagittal (orientation PSR, typically 256 x 256 x 150
voxels of 0.94 x 0.94 x 1.2 mm) and the T2 images axial (LAS, 256 x 256 x
130 voxels of 0.94 x 0.94 x 1.25 mm). They are NOT co-registered voxel to
voxel, but their affines place both in the scanner space of one session, so
resampling the T2 image onto the T1 grid through the affines aligns them.
`load_ixi_pairs(pairing="aligned")` does that; `pairing="registered"` also
corrects motion between the scans by an affine registration, as published
work does; `pairing="paper"` reproduces the seed paper's selection, which
pairs slices of different anatomy. `SubjectSelection.published()` selects subjects,
splits and slices as pGAN / SynDiff did, and `cache_dir` keeps the prepared
slices on disk (memory-mapped, see `keras_pix2pix.datasets.slice_cache`).

Example:
```python
from keras_pix2pix.datasets import (
    SliceSpec,
    SubjectSelection,
    list_ixi_subjects,
    load_ixi_pairs,
)

report = list_ixi_subjects("~/data/IXI")
len(report.subjects), report.missing  # e.g. 577, {"IXI116-Guys-0739": ("T2",)}
t1, t2, info = load_ixi_pairs(
    "~/data/IXI", SliceSpec(image_size=256), SubjectSelection(split="train")
)
t1.shape  # (N, 256, 256, 1), float32 in [-1, 1]
```
"""

import dataclasses
import os
import pathlib
import re
import warnings
import zlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import nibabel as nib
import numpy as np

from keras_pix2pix.datasets import nifti
from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.subject_selection import SubjectSelection
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError

SITES = ("Guys", "HH", "IOP")
MODALITIES = ("T1", "T2", "PD", "MRA", "DTI")
PAIRINGS = ("aligned", "registered", "paper")
VOLUME_PAIRINGS = ("aligned", "registered")

# The seed paper's selection: T1 volumes with 150 slices and T2 volumes with
# 130 slices along the last array axis, slices 90 to 109 of each.
PAPER_T1_SLICES = 150
PAPER_T2_SLICES = 130
PAPER_SLICES = range(90, 110)

# The published protocol's slices (SynDiff, following pGAN): about 100
# central axial slices with brain per subject (its subjects and split:
# `SubjectSelection.published`).
PUBLISHED_SLICES = 100

# DTI files carry a direction number after the modality: IXI002-Guys-0828-DTI-00.
_NAME = re.compile(
    r"^(?P<subject>IXI\d+-(?P<site>[A-Za-z]+)-\d+)-(?P<modality>[A-Za-z0-9]+)"
    r"(?:-\d+)?\.nii(?:\.gz)?$"
)
_DOWNLOAD_HINT = (
    "Download IXI-T1.tar and IXI-T2.tar from "
    "https://brain-development.org/ixi-dataset/ and unpack them into that folder "
    "(e.g. `tar -xf IXI-T1.tar -C {folder}`)."
)


class IXIFileName(NamedTuple):
    """The parts of an IXI file name: a `(subject_id, site, modality)` tuple."""

    subject_id: str
    site: str
    modality: str


def parse_ixi_filename(name: str | os.PathLike) -> IXIFileName | None:
    """Splits an IXI file name into subject ID, site and modality.

    Args:
        name: a file name or path, e.g. `"IXI002-Guys-0828-T1.nii.gz"`.

    Returns:
        `IXIFileName(subject_id, site, modality)` (a tuple), e.g.
        `("IXI002-Guys-0828", "Guys", "T1")`, or `None` when the name is not
        an IXI NIfTI name with a known site (Guys, HH, IOP) and modality (T1,
        T2, PD, MRA, DTI).

    Example:
    ```python
    parse_ixi_filename("IXI002-Guys-0828-T1.nii.gz")
    # IXIFileName(subject_id='IXI002-Guys-0828', site='Guys', modality='T1')
    parse_ixi_filename("IXI002-Guys-0828-T1-brainmask.nii.gz")  # None
    ```
    """
    match = _NAME.match(pathlib.PurePath(os.fspath(name)).name)
    if match is None:
        return None
    site, modality = match["site"], match["modality"]
    if site not in SITES or modality not in MODALITIES:
        return None
    if modality != "DTI" and match.group(0).count("-") != 3:
        return None  # a direction number is DTI-only
    return IXIFileName(match["subject"], site, modality)


@dataclasses.dataclass
class IXISubject:
    """One IXI subject: its ID, site and a file per modality.

    Attributes:
        subject_id: e.g. `"IXI002-Guys-0828"`.
        site: `"Guys"`, `"HH"` or `"IOP"`.
        paths: the file of each modality found, e.g. `{"T1": Path(...)}`.
    """

    subject_id: str
    site: str
    paths: dict[str, pathlib.Path]
    _shapes: dict = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def shape(self, modality: str) -> tuple[int, ...]:
        """The array shape of one modality's volume, read from its header only.

        Args:
            modality: e.g. `"T1"`.

        Returns:
            The shape as stored (e.g. `(256, 256, 150)` for a T1 volume).

        Raises:
            KeyError: if the subject has no file of that modality.
            ImageFileError: if the header cannot be read.
        """
        if modality not in self._shapes:
            path = self.paths[modality]
            try:
                self._shapes[modality] = tuple(int(n) for n in nib.load(path).shape)
            except (
                nib.filebasedimages.ImageFileError,
                OSError,
                EOFError,
                ValueError,
                zlib.error,
            ) as e:
                raise ImageFileError(f"Cannot read the header of {path}: {e}") from e
        return self._shapes[modality]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every modality's volume (headers read on first use)."""
        return {modality: self.shape(modality) for modality in self.paths}


@dataclasses.dataclass
class IXIReport:
    """What `list_ixi_subjects` found.

    Attributes:
        subjects: the subjects that have every requested modality, sorted by ID.
        missing: subject ID -> the requested modalities it lacks, for subjects
            with at least one requested modality but not all.
        unparsed: NIfTI files whose names are not IXI names.
        duplicates: files of a subject and modality seen before (ignored).
    """

    subjects: list[IXISubject]
    missing: dict[str, tuple[str, ...]]
    unparsed: list[pathlib.Path]
    duplicates: list[pathlib.Path]

    @property
    def subject_ids(self) -> list[str]:
        """The IDs of `subjects`, sorted."""
        return [subject.subject_id for subject in self.subjects]


def _roots(root, more_roots):
    roots = []
    for item in (root, *more_roots):
        if isinstance(item, (str, os.PathLike)):
            roots.append(pathlib.Path(os.fspath(item)).expanduser())
        else:
            roots.extend(pathlib.Path(os.fspath(r)).expanduser() for r in item)
    return roots


def list_ixi_subjects(
    root: str | os.PathLike,
    *more_roots: str | os.PathLike,
    modalities: Sequence[str] = ("T1", "T2"),
) -> IXIReport:
    """Finds IXI volumes under one or more folders and groups them by subject.

    Folders are searched recursively for `.nii` and `.nii.gz` files; no volume
    is read (shapes are read from the headers on demand, see
    `IXISubject.shape`). Files of modalities not requested are ignored.

    Args:
        root: a folder holding IXI files (e.g. the unpacked IXI-T1.tar).
        *more_roots: more folders (e.g. the unpacked IXI-T2.tar).
        modalities: the modalities every subject must have.

    Returns:
        An `IXIReport` with `subjects` (complete subjects, sorted by ID),
        `missing`, `unparsed` and `duplicates`.

    Raises:
        DataError: if `modalities` is empty or names an unknown modality.
        DatasetNotFoundError: if no IXI file of the requested modalities is
            found (the message says where to download IXI).

    Example:
    ```python
    report = list_ixi_subjects("IXI-T1", "IXI-T2")
    report.subjects[0].subject_id, report.subjects[0].shape("T1")
    # ('IXI002-Guys-0828', (256, 256, 150))
    ```
    """
    modalities = tuple(modalities)
    if not modalities or any(m not in MODALITIES for m in modalities):
        raise DataError(
            f"`modalities` must be a non-empty subset of {MODALITIES}. "
            f"Received: {modalities!r}"
        )
    roots = _roots(root, more_roots)
    files, archives = [], []
    for folder in roots:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.name.endswith((".nii", ".nii.gz")) and path.is_file():
                    files.append(path)
                elif path.name.endswith((".tar", ".tar.gz", ".tgz")):
                    archives.append(path)
    found: dict[str, IXISubject] = {}
    unparsed, duplicates = [], []
    for path in files:
        parsed = parse_ixi_filename(path.name)
        if parsed is None:
            unparsed.append(path)
            continue
        if parsed.modality not in modalities:
            continue
        subject = found.setdefault(
            parsed.subject_id, IXISubject(parsed.subject_id, parsed.site, {})
        )
        if parsed.modality in subject.paths:
            duplicates.append(path)
        else:
            subject.paths[parsed.modality] = path
    if not found:
        where = ", ".join(str(folder) for folder in roots)
        detail = ""
        if unparsed:
            detail += f" {len(unparsed)} NIfTI file(s) do not have IXI names."
        if archives:
            detail += f" Found archive(s) to unpack: {[a.name for a in archives]}."
        raise DatasetNotFoundError(
            f"No IXI {'/'.join(modalities)} volumes found under {where}.{detail} "
            + _DOWNLOAD_HINT.format(folder=roots[0])
        )
    subjects, missing = [], {}
    for subject_id in sorted(found):
        subject = found[subject_id]
        lacking = tuple(m for m in modalities if m not in subject.paths)
        if lacking:
            missing[subject_id] = lacking
        else:
            subjects.append(subject)
    return IXIReport(subjects, missing, unparsed, duplicates)


def _check_on_error(on_error):
    if on_error not in ("raise", "skip"):
        raise DataError(f"`on_error` must be 'raise' or 'skip'. Received: {on_error!r}")


def _warn_skipped(skipped, what):
    if skipped:
        lines = "\n".join(f"  {subject}: {reason}" for subject, reason in skipped)
        warnings.warn(
            f"Skipped {len(skipped)} IXI subject(s) {what}:\n{lines}",
            UserWarning,
            stacklevel=3,
        )


def _minmax_volume(path):
    """Loads a volume as stored and scales it min-max to [-1, 1]."""
    data = nifti.load_volume(path).get_fdata(dtype=np.float32)
    scaled, params = nifti.normalize_intensity(
        data, mask=np.ones(data.shape, bool), low=0.0, high=100.0, name=str(path)
    )
    params["method"] = "minmax"
    return scaled, params


def paper_pairs(
    subjects: Iterable[IXISubject],
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
        T1 (`source_normalization`) and T2 (`target_normalization`) min-max
        parameters.

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
            out.append(nifti.crop_or_pad(cut, image_size, value=-1.0)[..., None])
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
                "source_normalization": params[subject]["T1"],
                "target_normalization": params[subject]["T2"],
            }
            for subject in used
        },
        skipped=dict(skipped),
    )
    return PairedSlices(np.concatenate(sources), np.concatenate(targets), info)


def central_slices(indices: Sequence[int], count: int) -> list[int]:
    """The `count` central entries of a list of slice indices (all if fewer).

    Args:
        indices: slice indices, in order (e.g. a `brain_slice_range`).
        count: how many to keep.

    Returns:
        A list of at most `count` indices, centred in `indices` (an odd
        excess drops one more at the end).

    Example:
    ```python
    central_slices(range(10, 20), 4)  # [13, 14, 15, 16]
    ```
    """
    indices = [int(i) for i in indices]
    excess = max(0, len(indices) - int(count))
    start = excess // 2
    return indices[start : start + min(int(count), len(indices))]


def _register(moving, fixed):
    from keras_pix2pix.datasets.registration import register_affine

    return register_affine(moving, fixed)


def _prepare_pair(source_path, target_path, *, spec, pairing, max_slices):
    """One pair's slices, cut as `spec` says."""
    source, target, info = nifti.paired_volume_slices(
        source_path,
        target_path,
        spec,
        align=_register if pairing == "registered" else None,
    )
    if max_slices is not None and len(info["slices"]) > max_slices:
        kept = central_slices(range(len(info["slices"])), max_slices)
        source, target = source[kept], target[kept]
        info["slices"] = [info["slices"][k] for k in kept]
    return source, target, info


def _check_volume_pairing(pairing):
    if pairing not in VOLUME_PAIRINGS:
        raise DataError(
            f"`pairing` must be one of {VOLUME_PAIRINGS}. Received: {pairing!r}"
        )


def _warn_poor_registrations(details):
    poor = {
        name: info["alignment"]["similarity_after"]
        for name, info in details.items()
        if isinstance(info.get("alignment"), dict) and info["alignment"].get("poor")
    }
    if poor:
        lines = "\n".join(
            f"  {name}: head-mask Dice {figures['mask_dice']:.3f}, "
            f"NMI {figures['nmi']:.3f}"
            for name, figures in poor.items()
        )
        warnings.warn(
            f"The registration of {len(poor)} pair(s) looks poor (see "
            f"info.per_subject[...]['alignment']):\n{lines}",
            UserWarning,
            stacklevel=3,
        )


def _slice_pairs(
    items, *, spec, pairing, max_slices, on_error, cache_dir, progress=True
):
    """Slice pairs of `(name, source_path, target_path)` items, cached or not.

    Returns:
        `(source, target, details)`: the arrays and a dict with `subjects`,
        `per_subject`, `skipped` and `cache_dir` (`SliceInfo` fields).
    """
    options = {
        "spec": spec.get_config(),
        "pairing": pairing,
        "max_slices": max_slices,
    }
    height, width = spec.image_size

    def prepare(name, source_path, target_path):
        try:
            return _prepare_pair(
                source_path,
                target_path,
                spec=spec,
                pairing=pairing,
                max_slices=max_slices,
            )
        except (DataError, DatasetNotFoundError) as e:  # ImageFileError included
            if on_error == "raise":
                raise
            source = np.zeros((0, height, width, spec.channels), np.float32)
            target = np.zeros((0, height, width, 1), np.float32)
            return source, target, {"skipped": str(e)}

    if cache_dir is None:
        sources, targets, details = [], [], {}
        for name, source_path, target_path in items:
            source, target, info = prepare(name, source_path, target_path)
            sources.append(source)
            targets.append(target)
            details[name] = info
        source = np.concatenate(sources)
        target = np.concatenate(targets)
        cache = None
    else:
        from keras_pix2pix.datasets.slice_cache import build_slice_cache

        missing = [
            (name, f"Volume file not found: {os.fspath(p)}")
            for name, *files in items
            for p in files
            if not os.path.exists(p)
        ]
        if missing and on_error == "raise":
            raise DatasetNotFoundError(missing[0][1])
        gone = {name for name, _ in missing}
        items = [item for item in items if item[0] not in gone]
        if not items:
            raise DataError(f"No usable volume pair. Skipped: {dict(missing)}")
        paths = {name: (s, t) for name, s, t in items}
        cache = build_slice_cache(
            cache_dir,
            [(name, [s, t]) for name, s, t in items],
            lambda name: prepare(name, *paths[name]),
            settings={
                "kind": "keras_pix2pix.datasets.ixi paired volume slices",
                "on_error": on_error,
                **options,
            },
            progress=progress,
        )
        source, target, details = cache.source, cache.target, dict(cache.info)
        details.update({name: {"skipped": reason} for name, reason in missing})
    skipped = [(n, i["skipped"]) for n, i in details.items() if "skipped" in i]
    used = [n for n, i in details.items() if "skipped" not in i]
    _warn_skipped(skipped, "with unreadable or unusable files")
    _warn_poor_registrations(details)
    if not used:
        raise DataError(f"No usable volume pair. Skipped: {dict(skipped)}")
    return (
        source,
        target,
        {
            "subjects": used,
            "per_subject": {n: details[n] for n in used},
            "skipped": dict(skipped),
            "cache_dir": None if cache is None else str(cache.directory),
        },
    )


def _check_spec(spec):
    """`spec`, or the default `SliceSpec()`, checked for stacking volumes."""
    spec = SliceSpec() if spec is None else spec
    if not isinstance(spec, SliceSpec):
        raise DataError(f"`spec` must be a SliceSpec. Received: {spec!r}")
    if spec.image_size is None:
        raise DataError(
            "The slices of several volumes are stacked in one array, so they "
            "need one size: give the SliceSpec an `image_size`."
        )
    return spec


def load_paired_volumes(
    pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]],
    spec: SliceSpec | None = None,
    *,
    pairing: str = "aligned",
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    **removed,
) -> PairedSlices:
    """Slice pairs from your own list of (source, target) NIfTI volume pairs.

    Each pair goes through `nifti.paired_volume_slices` with `spec`, one pair
    at a time, as IXI subjects do in `load_ixi_pairs`: reoriented to RAS+,
    the target resampled onto the source grid through the affines
    (`"aligned"`) or registered onto it first (`"registered"`,
    `register_affine`, needs SimpleITK), then cut as `spec` says.

    Args:
        pairs: `(source_path, target_path)` pairs, e.g. `[("sub-01_T1w.nii.gz",
            "sub-01_T2w.nii.gz"), ...]`.
        spec: how the slices are cut (`SliceSpec`); `None` for
            `SliceSpec()`. It needs an `image_size`.
        pairing: `"aligned"` or `"registered"`.
        cache_dir: a folder to keep the prepared slices in (see
            `build_slice_cache`); they are prepared again only when a file or
            an option changes. The arrays returned are then read-only
            memory-maps of the cache files.
        on_error: `"raise"` or `"skip"` (a pair that cannot be used is left
            out, with a warning).
        **removed: the arguments that `spec` replaced (`plane`,
            `image_size`, ...) raise a `TypeError` that says so.

    Returns:
        `PairedSlices(source, target, info)`: `float32` arrays
        `(N, height, width, spec.channels)` and `(N, height, width, 1)` in
        [-1, 1], pair by pair, and a `SliceInfo` (pairs are named
        `"{index}:{source file name}"`).

    Raises:
        DataError: if `pairs` is empty or an argument is invalid, or no pair
            is usable.
        DatasetNotFoundError: with `on_error="raise"`, if a file is missing.
        ImageFileError: with `on_error="raise"`, if a file is unreadable.
        ImportError: for `pairing="registered"` or a `bias_correction`
            without SimpleITK.

    Example:
    ```python
    t1, t2, info = load_paired_volumes(
        [("a_T1w.nii.gz", "a_T2w.nii.gz"), ("b_T1w.nii.gz", "b_T2w.nii.gz")],
        SliceSpec(image_size=256, context=1),
        pairing="registered",
        cache_dir="~/.cache/my-pairs",
    )
    ```
    """
    _refuse_removed(removed)
    spec = _check_spec(spec)
    _check_volume_pairing(pairing)
    _check_on_error(on_error)
    items = []
    for index, pair in enumerate(pairs):
        try:
            source_path, target_path = pair
        except (TypeError, ValueError) as e:
            raise DataError(
                f"Each entry of `pairs` must be (source_path, target_path). "
                f"Received: {pair!r}"
            ) from e
        name = f"{index}:{pathlib.Path(os.fspath(source_path)).name}"
        items.append((name, source_path, target_path))
    if not items:
        raise DataError("`pairs` is empty.")
    source, target, details = _slice_pairs(
        items,
        spec=spec,
        pairing=pairing,
        max_slices=None,
        on_error=on_error,
        cache_dir=cache_dir,
    )
    return PairedSlices(source, target, SliceInfo(pairing, spec, **details))


def load_ixi_pairs(
    root: str | os.PathLike | Sequence[str | os.PathLike],
    spec: SliceSpec | None = None,
    selection: SubjectSelection | None = None,
    *,
    pairing: str | None = None,
    on_error: str = "raise",
    cache_dir: str | os.PathLike | None = None,
    **removed,
) -> PairedSlices:
    """Loads IXI T1 (source) / T2 (target) slice pairs, scaled to [-1, 1].

    Subjects with both a T1 and a T2 volume are found by `list_ixi_subjects`,
    chosen by `selection` (`SubjectSelection`: a list of IDs, one split of
    `split_subjects`, or the published protocol), and read one at a time
    (only one subject's volumes are in memory at once).

    - `pairing="aligned"` (default): `paired_volume_slices` per subject: both
      volumes reoriented to RAS+, T2 resampled onto the T1 grid through the
      affines, slices along `plane` of the T1 grid (by default the slices that
      hold the head, see `brain_slice_range`), each volume scaled by its 0.5 /
      99.5 percentiles inside the head, centred in `image_size` pixels.
    - `pairing="registered"`: the same, but T2 is registered onto T1 by
      `registration.register_affine` (affine, mutual information; needs
      SimpleITK, `pip install keras-pix2pix[registration]`) instead of only
      resampled, as pGAN and SynDiff did with FSL FLIRT. Each subject's
      registration report is in `info.per_subject[id]["alignment"]`; a
      poor one is warned about.
    - `pairing="paper"`: `paper_pairs`, the seed paper's selection (different
      anatomy in each pair; warns). Only `spec.image_size` applies.

    `SubjectSelection.published()` follows the published protocol (SynDiff,
    after pGAN): the first 40 subjects in sorted order, split in order 25 / 5
    / 10 into train / val / test (`published_split`; its `split` selects one,
    `None` gives all 40), registered pairing by default, the 100 central axial
    slices of each subject's brain range (`central_slices`; all of them when
    fewer). The papers then scale each volume by its maximum and pad to 256;
    here each volume is scaled by its percentiles, as for the other pairings.

    With `cache_dir`, the prepared slices go through `build_slice_cache` in
    the sub-folder `cache_dir / (selection.split or "all")` (so the splits do not evict
    each other), keyed on every argument that affects them; a later call
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
        pairing: `"aligned"`, `"registered"` or `"paper"`. Defaults to
            `"registered"` with the published protocol, else `"aligned"`.
        on_error: `"raise"` to stop at an unreadable or unusable file
            (`ImageFileError` naming it; `DataError` for a constant volume),
            `"skip"` to skip its subject and list it in a warning.
        cache_dir: a folder to cache the prepared slices in (aligned and
            registered pairings only); see above.
        **removed: the arguments that `spec` and `selection` replaced
            (`plane`, `image_size`, `split`, `preset`, ...) raise a
            `TypeError` that says so.

    Returns:
        `PairedSlices(t1, t2, info)`: two `float32` arrays of shape
        `(N, height, width, spec.channels)` and `(N, height, width, 1)` with
        values in [-1, 1], subject by subject, and a `SliceInfo` (subjects,
        their slices and intensity parameters, registration reports,
        skipped subjects, cache folder).

    Raises:
        DatasetNotFoundError: if no IXI file is found, or no subject has both
            a T1 and a T2 volume.
        ImageFileError: with `on_error="raise"`, if a file is unreadable.
        DataError: if an argument is invalid (unknown `pairing` or subject
            ID, options that do not go together), the published protocol
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
    ```
    """
    _refuse_removed(removed)
    spec = _check_spec(spec)
    selection = SubjectSelection() if selection is None else selection
    if not isinstance(selection, SubjectSelection):
        raise DataError(
            f"`selection` must be a SubjectSelection. Received: {selection!r}"
        )
    published = selection.protocol == "published"
    if pairing is None:
        pairing = "registered" if published else "aligned"
    if pairing not in PAIRINGS:
        raise DataError(f"`pairing` must be one of {PAIRINGS}. Received: {pairing!r}")
    _check_on_error(on_error)
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
    roots = _roots(root, ())
    report = list_ixi_subjects(*roots, modalities=("T1", "T2"))
    by_id = {subject.subject_id: subject for subject in report.subjects}
    if not by_id:
        raise DatasetNotFoundError(
            f"No IXI subject under {[str(r) for r in roots]} has both a T1 and "
            f"a T2 volume ({len(report.missing)} have only one). "
            + _DOWNLOAD_HINT.format(folder=roots[0])
        )
    pool = selection.select(by_id)
    chosen = [by_id[subject_id] for subject_id in pool]
    if pairing == "paper":
        source, target, info = paper_pairs(
            chosen, image_size=spec.image_size, on_error=on_error
        )
        info = dataclasses.replace(info, selection=selection)
        return PairedSlices(source, target, info)
    source, target, details = _slice_pairs(
        [(s.subject_id, s.paths["T1"], s.paths["T2"]) for s in chosen],
        spec=spec,
        pairing=pairing,
        max_slices=PUBLISHED_SLICES if published else None,
        on_error=on_error,
        cache_dir=(
            None
            if cache_dir is None
            else pathlib.Path(os.fspath(cache_dir)).expanduser()
            / (selection.split or "all")
        ),
    )
    info = SliceInfo(pairing, spec, selection=selection, **details)
    return PairedSlices(source, target, info)


_REMOVED_ARGUMENTS = (
    "plane", "image_size", "frame", "context", "slices", "bias_correction",
)  # fmt: skip
_SELECTION_ARGUMENTS = ("split", "seed", "fractions", "subjects", "preset")


def _refuse_removed(removed):
    if not removed:
        return
    names = sorted(removed)
    moved = [name for name in names if name in _REMOVED_ARGUMENTS]
    if moved:
        fields = ", ".join(f"{name}=..." for name in moved)
        raise TypeError(
            f"{', '.join(moved)}: how slices are cut is now one `SliceSpec`; "
            f"pass `SliceSpec({fields})` as `spec`."
        )
    chosen = [name for name in names if name in _SELECTION_ARGUMENTS]
    if chosen:
        raise TypeError(
            f"{', '.join(chosen)}: which subjects are loaded is now one "
            "`SubjectSelection` (e.g. `SubjectSelection(split='train', seed=0)`, "
            "`SubjectSelection.published(split='test')`); pass it as `selection`."
        )
    if "return_info" in names:
        raise TypeError(
            "`return_info` was removed: the loaders always return "
            "`PairedSlices(source, target, info)`."
        )
    raise TypeError(f"Unexpected keyword argument(s): {names}")
