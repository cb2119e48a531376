"""The IXI dataset's files: T1-, T2- and PD-weighted brain MRI of healthy adults.

IXI ("Information eXtraction from Images") holds about 600 MR scans of healthy
subjects from three London hospitals: Guy's (Philips 1.5 T), Hammersmith (HH,
Philips 3 T) and the Institute of Psychiatry (IOP, GE 1.5 T). Download
`IXI-T1.tar`, `IXI-T2.tar` (and `IXI-PD.tar`) from
https://brain-development.org/ixi-dataset/ and unpack them into one folder
(or several). The data are licensed under the
Creative Commons CC BY-SA 3.0 licence; acknowledge the IXI project
(brain-development.org) when you use them.

Files are named `IXI{number}-{site}-{id}-{modality}.nii.gz`, e.g.
`IXI002-Guys-0828-T1.nii.gz`; the subject ID is everything before the last
`-` (`IXI002-Guys-0828`).

The T1 images are stored sagittal (orientation PSR, typically 256 x 256 x 150
voxels of 0.94 x 0.94 x 1.2 mm) and the T2 images axial (LAS, 256 x 256 x
130 voxels of 0.94 x 0.94 x 1.25 mm). T2 and PD are the two echoes of one
dual-echo acquisition, on one grid. They are NOT co-registered voxel to
voxel, but their affines place both in the scanner space of one session, so
resampling the T2 image onto the T1 grid through the affines aligns them.
`keras_pix2pix.datasets.ixi.load_ixi_pairs` does that, in any direction
between T1, T2 and PD.

This module holds the IXI file names (`parse_ixi_filename`) and the search for
subjects (`list_ixi_subjects`). The slice pairs are made by `load_ixi_pairs`
(`keras_pix2pix.datasets.ixi`); the slicing of volume pairs, IXI or not, is
in `keras_pix2pix.datasets.volume_pairs`, and the seed paper's pairing in
`keras_pix2pix.datasets.paper_pairing`.

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
t2, pd, info = load_ixi_pairs("~/data/IXI", source="T2", target="PD")
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

from keras_pix2pix.errors import DataError, DatasetNotFoundError, ImageFileError

SITES = ("Guys", "HH", "IOP")
MODALITIES = ("T1", "T2", "PD", "MRA", "DTI")

# DTI files carry a direction number after the modality: IXI002-Guys-0828-DTI-00.
_NAME = re.compile(
    r"^(?P<subject>IXI\d+-(?P<site>[A-Za-z]+)-\d+)-(?P<modality>[A-Za-z0-9]+)"
    r"(?:-\d+)?\.nii(?:\.gz)?$"
)
_DOWNLOAD_HINT = (
    "Download IXI-T1.tar, IXI-T2.tar (and IXI-PD.tar) from "
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
