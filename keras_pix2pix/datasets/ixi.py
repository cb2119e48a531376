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

This module holds the IXI file names (`parse_ixi_filename`), the search for
subjects (`list_ixi_subjects`) and `load_ixi_pairs`. The slicing of volume
pairs, IXI or not, is in `keras_pix2pix.datasets.volume_pairs`, and the
seed paper's pairing in `keras_pix2pix.datasets.paper_pairing`.

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
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import nibabel as nib

from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.paper_pairing import paper_pairs
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.subject_selection import SubjectSelection
from keras_pix2pix.datasets.volume_pairs import (
    _check_on_error,
    _check_spec,
    _refuse_removed,
    _slice_pairs,
)
from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError

SITES = ("Guys", "HH", "IOP")
MODALITIES = ("T1", "T2", "PD", "MRA", "DTI")
PAIRINGS = ("aligned", "registered", "paper")

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
