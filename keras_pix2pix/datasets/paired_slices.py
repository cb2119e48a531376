"""`PairedSlices`: what the volume loaders return, and `SliceInfo`, its record."""

import dataclasses
from typing import NamedTuple

import numpy as np

from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.subject_selection import SubjectSelection


@dataclasses.dataclass(frozen=True)
class SliceInfo:
    """What a volume loader loaded, subject by subject.

    Args:
        pairing: `"aligned"`, `"registered"` or `"paper"`.
        spec: the `SliceSpec` the slices were cut with (`None` for the
            paper's pairing, which cuts as the paper did).
        subjects: the subjects (or pair names) used, in the arrays' order.
        per_subject: for each subject, a JSON-serializable dict with at least
            `slices` (the slice indices taken), `source_normalizations` (a
            list, one per source contrast) and `target_normalization` (the
            `normalize_intensity` parameters of each volume); the aligned and
            registered pairings add the file paths, the canonical grid, and
            the registration and bias correction reports (see
            `paired_volume_slices`).
        skipped: subject -> why it was left out.
        cache_dir: the slice cache folder, or `None`.
        selection: the `SubjectSelection` of an IXI load, or `None`.
        source_contrasts: the source contrasts in channel order (e.g.
            `("T1",)`, `("T1", "T2")`), where the loader knows them (IXI);
            `()` for your own volumes.
        target_contrast: the target contrast (e.g. `"T2"`), or `None`.

    Example:
    ```python
    t1, t2, info = load_ixi_pairs("~/data/IXI", selection=SubjectSelection("train"))
    info.subjects[:2], len(info.slice_subjects()) == len(t1)
    info.target_normalization()  # {"method": "percentile", "lower": ..., ...}
    ```
    """

    pairing: str
    spec: SliceSpec | None
    subjects: list[str]
    per_subject: dict[str, dict]
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    cache_dir: str | None = None
    selection: SubjectSelection | None = None
    source_contrasts: tuple[str, ...] = ()
    target_contrast: str | None = None

    def slice_subjects(self) -> list[str]:
        """The subject of each slice, in the arrays' order."""
        return [
            subject
            for subject in self.subjects
            for _ in self.per_subject[subject]["slices"]
        ]

    def contrasts(self) -> dict | None:
        """The contrasts as a `Pix2Pix(contrasts=...)` takes them, or `None`.

        Returns:
            `{"sources": [...], "target": ...}` where the loader knows the
            contrasts (IXI), else `None`.
        """
        if not self.source_contrasts or self.target_contrast is None:
            return None
        return {"sources": list(self.source_contrasts), "target": self.target_contrast}

    def target_normalization(self) -> dict | None:
        """The targets' typical intensity scaling, for synthesis.

        Each target volume was scaled by its own percentiles, so its absolute
        intensities are lost; the median over the subjects of the percentile
        parameters is what a synthesized volume is best mapped back to.

        Returns:
            A `denormalize_intensity` dict (`method`, `low_percentile`,
            `high_percentile`, `lower`, `upper`, `subjects`), or `None` for
            the paper's min-max pairing.
        """
        params = [self.per_subject[s]["target_normalization"] for s in self.subjects]
        if self.spec is None or not params:
            return None
        return {
            "method": "percentile",
            "low_percentile": params[0]["low_percentile"],
            "high_percentile": params[0]["high_percentile"],
            "lower": float(np.median([p["lower"] for p in params])),
            "upper": float(np.median([p["upper"] for p in params])),
            "subjects": len(params),
        }


class PairedSlices(NamedTuple):
    """Source and target slices in [-1, 1], and what was loaded.

    Unpacks as `source, target, info = load_ixi_pairs(...)`.

    Attributes:
        source: `float32` array `(N, height, width, spec.channels)`.
        target: `float32` array `(N, height, width, 1)`.
        info: a `SliceInfo`.
    """

    source: np.ndarray
    target: np.ndarray
    info: SliceInfo
