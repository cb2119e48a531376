"""`SubjectSelection`: which subjects of a dataset to load.

All of them, a list of IDs, one split of a reproducible random split, or the
published IXI protocol (`SubjectSelection.published`): one frozen,
validated, serializable object, which `load_ixi_pairs` takes.
"""

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from keras_pix2pix.errors import DataError

SPLITS = ("train", "val", "test")
PROTOCOLS = ("published",)

# The published protocol (SynDiff, following pGAN): the first 40 subjects in
# sorted order, 25 / 5 / 10 for train / val / test, about 100 central axial
# slices with brain per subject.
PUBLISHED_SUBJECTS = 40
PUBLISHED_SPLIT = (25, 5, 10)


def _check_fractions(fractions):
    """`fractions` as a tuple, if three fractions adding up to 1 or counts."""
    try:
        values = tuple(fractions)
        numbers = all(isinstance(v, (int, float, np.number)) for v in values)
    except TypeError:
        values, numbers = (), False
    if (
        len(values) != 3
        or not numbers
        or any(isinstance(v, bool) or v < 0 for v in values)
    ):
        raise DataError(
            "`fractions` must be three non-negative fractions or counts "
            f"(train, val, test). Received: {fractions!r}"
        )
    counts = all(isinstance(v, (int, np.integer)) for v in values)
    if not counts and not np.isclose(sum(values), 1.0, atol=1e-6):
        raise DataError(f"`fractions` must add up to 1. Received: {fractions!r}")
    return values


@dataclasses.dataclass(frozen=True)
class SubjectSelection:
    """Which subjects to load: all, a list, one split, or a published protocol.

    Args:
        split: `None` for every selected subject, or `"train"`, `"val"` or
            `"test"`: one part of `split_subjects(..., fractions, seed)` (or of
            the protocol's split).
        seed: seed of the split's shuffle.
        fractions: three fractions (adding up to 1) or three counts, for
            train, val and test (see `split_subjects`).
        subjects: IDs to choose from (e.g. `["IXI002-Guys-0828"]`), or `None`
            for all the subjects found; the split is drawn from these.
        protocol: `None`, or `"published"`: use `SubjectSelection.published`.

    Example:
    ```python
    SubjectSelection(split="test", seed=1)
    SubjectSelection(subjects=["IXI002-Guys-0828", "IXI012-HH-1211"])
    SubjectSelection.published(split="train")  # 25 subjects, as SynDiff
    ```
    """

    split: str | None = None
    seed: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    subjects: tuple[str, ...] | None = None
    protocol: str | None = None

    def __post_init__(self):
        if self.split is not None and self.split not in SPLITS:
            raise DataError(
                f"`split` must be None or one of {SPLITS}. Received: {self.split!r}"
            )
        if self.protocol is not None and self.protocol not in PROTOCOLS:
            raise DataError(
                f"`protocol` must be None or one of {PROTOCOLS}. "
                f"Received: {self.protocol!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise DataError(f"`seed` must be an int. Received: {self.seed!r}")
        fractions = _check_fractions(self.fractions)
        object.__setattr__(self, "fractions", fractions)
        if self.subjects is not None:
            subjects = (
                (self.subjects,)
                if isinstance(self.subjects, str)
                else tuple(sorted(set(self.subjects)))
            )
            if not subjects:
                raise DataError("`subjects` is empty; pass None for all.")
            object.__setattr__(self, "subjects", subjects)
        if self.protocol is not None and (
            self.subjects is not None or fractions != (0.8, 0.1, 0.1)
        ):
            raise DataError(
                f"protocol={self.protocol!r} fixes the subjects and the split: "
                "do not pass `subjects` or `fractions` with it."
            )

    @classmethod
    def published(cls, split: str | None = None) -> "SubjectSelection":
        """The published IXI protocol (pGAN, SynDiff; see `published_split`)."""
        return cls(split=split, protocol="published")

    def select(self, available: Iterable[str]) -> list[str]:
        """The selected IDs among `available` ones, sorted.

        Raises:
            DataError: if a requested subject is not available, the protocol
                finds too few subjects, or the split is empty.
        """
        available = sorted(set(available))
        if self.protocol == "published":
            parts = published_split(available)
            if self.split:
                return parts[self.split]
            return sorted(i for ids in parts.values() for i in ids)
        pool = available
        if self.subjects is not None:
            unknown = sorted(set(self.subjects) - set(available))
            if unknown:
                raise DataError(
                    f"Unknown or incomplete subject(s): {unknown}. Available: "
                    f"{len(available)} (e.g. {available[:3]})."
                )
            pool = list(self.subjects)
        if self.split is None:
            return pool
        chosen = split_subjects(pool, self.fractions, seed=self.seed)[self.split]
        if not chosen:
            raise DataError(
                f"The {self.split!r} split of {len(pool)} subject(s) with "
                f"fractions {self.fractions} is empty."
            )
        return chosen

    def get_config(self) -> dict:
        """A JSON-serializable dict of the fields."""
        config = dataclasses.asdict(self)
        config["fractions"] = list(self.fractions)
        if self.subjects is not None:
            config["subjects"] = list(self.subjects)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "SubjectSelection":
        """The selection of a `get_config()` dict."""
        return cls(**config)


def split_subjects(
    subject_ids: Iterable[str],
    fractions: Sequence[float] | Sequence[int] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, list[str]]:
    """Splits subjects into disjoint train / val / test sets, reproducibly.

    The IDs are sorted, shuffled with `numpy.random.default_rng(seed)` and cut
    in order, so a seed always gives the same split whatever the input order.
    Fractions are turned into counts by largest remainders, so the counts add
    up to the number of subjects.

    Args:
        subject_ids: unique subject IDs.
        fractions: three fractions (floats adding up to 1) or three counts
            (ints adding up to at most the number of subjects; subjects left
            over are in no split).
        seed: seed of the shuffle.

    Returns:
        `{"train": [...], "val": [...], "test": [...]}`, each list sorted.

    Raises:
        DataError: if IDs repeat, or `fractions` is not three non-negative
            fractions adding up to 1 or three counts within the number of
            subjects.

    Example:
    ```python
    split_subjects([f"IXI{i:03d}" for i in range(10)], (0.8, 0.1, 0.1))
    # {'train': [8 IDs], 'val': [1 ID], 'test': [1 ID]}
    split_subjects(ids, (25, 5, 10), seed=1)  # counts, as in SynDiff
    ```
    """
    ids = sorted(subject_ids)
    if len(set(ids)) != len(ids):
        raise DataError("`subject_ids` must be unique.")
    values = _check_fractions(fractions)
    total = len(ids)
    if all(isinstance(v, (int, np.integer)) for v in values):
        counts = [int(v) for v in values]
        if sum(counts) > total:
            raise DataError(
                f"The split counts {counts} add up to more than the {total} subjects."
            )
    else:
        exact = np.asarray(values, float) * total
        counts = np.floor(exact).astype(int)
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[: total - counts.sum()]] += 1
        counts = counts.tolist()
    shuffled = [ids[i] for i in np.random.default_rng(seed).permutation(total)]
    ends = np.cumsum(counts)
    starts = ends - counts
    return {
        name: sorted(shuffled[start:end])
        for name, start, end in zip(SPLITS, starts, ends, strict=True)
    }


def published_split(subject_ids: Iterable[str]) -> dict[str, list[str]]:
    """The subjects and split of the published IXI protocol (pGAN, SynDiff).

    The first 40 subject IDs in sorted order; the first 25 of them for
    training, the next 5 for validation, the last 10 for testing (in order,
    no shuffle).

    Args:
        subject_ids: unique IDs of the subjects with both a T1 and a T2 volume.

    Returns:
        `{"train": [25 IDs], "val": [5 IDs], "test": [10 IDs]}`, sorted.

    Raises:
        DataError: if IDs repeat or there are fewer than 40.

    Example:
    ```python
    published_split(list_ixi_subjects("IXI").subject_ids)["val"]
    # the 26th to 30th subjects in sorted order
    ```
    """
    ids = sorted(subject_ids)
    if len(set(ids)) != len(ids):
        raise DataError("`subject_ids` must be unique.")
    if len(ids) < PUBLISHED_SUBJECTS:
        raise DataError(
            f"The published IXI protocol uses the first {PUBLISHED_SUBJECTS} "
            f"subjects with T1 and T2; only {len(ids)} are available."
        )
    ends = np.cumsum(PUBLISHED_SPLIT)
    starts = ends - np.asarray(PUBLISHED_SPLIT)
    return {
        name: ids[int(start) : int(end)]
        for name, start, end in zip(SPLITS, starts, ends, strict=True)
    }
