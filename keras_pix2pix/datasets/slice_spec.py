"""`SliceSpec`: how 2-D slices are cut from a pair of NIfTI volumes.

One frozen, validated, serializable object holds every choice that turns
volumes into the images a model sees: the plane, the frame and its size, the
neighbouring slices given as channels, which slices, the intensity scaling,
the resampling order and the bias correction. The loaders
(`paired_volume_slices`, `load_paired_volumes`, `load_ixi_pairs`), the slice
cache's key and `synthesize_volume` all take one, and a `Pix2Pix` trained on
NIfTI data keeps it in its `.keras` file, so synthesis cuts a new volume
exactly as the training volumes were cut.
"""

import dataclasses

import numpy as np

from keras_pix2pix.errors import DataError

PLANES = ("axial", "coronal", "sagittal")
FRAMES = ("grid", "head")
BIAS_CORRECTIONS = ("source", "target", "both")


def check_plane(plane):
    """Raises `DataError` unless `plane` is one of `PLANES`."""
    if plane not in PLANES:
        raise DataError(f"`plane` must be one of {PLANES}. Received: {plane!r}")


def check_context(context):
    """Raises `DataError` unless `context` is an int >= 0."""
    if (
        isinstance(context, bool)
        or not isinstance(context, (int, np.integer))
        or context < 0
    ):
        raise DataError(f"`context` must be an int >= 0. Received: {context!r}")


def check_bias_correction(bias_correction):
    """Raises `DataError` unless `bias_correction` is `None` or a known choice."""
    if bias_correction is not None and bias_correction not in BIAS_CORRECTIONS:
        raise DataError(
            f"`bias_correction` must be None or one of {BIAS_CORRECTIONS}. "
            f"Received: {bias_correction!r}"
        )


def frame_size(image_size):
    """`image_size` (None, an int or (height, width)) as None or a pair."""
    if image_size is None:
        return None
    try:
        size = (image_size,) * 2 if np.isscalar(image_size) else tuple(image_size)
        ok = len(size) == 2 and all(int(n) == n and n >= 1 for n in size)
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(image_size, bool):
        raise DataError(
            "`image_size` must be a positive int, (height, width) or None. "
            f"Received: {image_size!r}"
        )
    return int(size[0]), int(size[1])


def _check_percentiles(low, high):
    numbers = all(
        isinstance(p, (int, float, np.number)) and not isinstance(p, bool)
        for p in (low, high)
    )
    if not numbers or not 0 <= low < high <= 100:
        raise DataError(
            "`low_percentile` and `high_percentile` must be numbers with "
            f"0 <= low < high <= 100. Received: {low!r}, {high!r}"
        )


@dataclasses.dataclass(frozen=True)
class SliceSpec:
    """How 2-D slice pairs are cut from a source and a target volume.

    Both volumes are reoriented to RAS+, the target is put on the source's
    grid, slices are taken along `plane`, each volume is scaled to [-1, 1] by
    its intensity percentiles inside the head, and each slice is cut to an
    `image_size` frame padded with -1. Invalid values raise `DataError` when
    the spec is made.

    Args:
        plane: `"axial"`, `"coronal"` or `"sagittal"`, on the canonical
            source grid.
        image_size: height and width of the slices: an int for a square,
            `(height, width)`, or `None` to keep the grid's size.
        frame: `"grid"` (the frame is centred on the slices) or `"head"`
            (centred on the source head's bounding box, over the slices
            taken).
        context: neighbouring source slices on each side given as extra
            channels: the source then has `2 * context + 1` channels, the
            slice itself in the middle one.
        slices: slice indices along `plane` of the canonical source grid, or
            `None` for each volume's brain range (`brain_slice_range`).
        brain_fraction: with `slices=None`, the slices whose head area is at
            least this fraction of the largest are kept.
        low_percentile: the intensity percentile (inside the head) mapped to
            -1.
        high_percentile: the percentile mapped to 1.
        interpolation_order: spline order of the target's resampling onto the
            source grid (1: trilinear).
        bias_correction: `None`, or the volumes corrected for intensity
            non-uniformity (N4, needs SimpleITK) before anything else:
            `"source"`, `"target"` or `"both"`.

    Example:
    ```python
    spec = SliceSpec(image_size=(256, 128), frame="head", context=1)
    spec.channels  # 3
    SliceSpec.from_config(spec.get_config()) == spec  # True
    ```
    """

    plane: str = "axial"
    image_size: int | tuple[int, int] | None = 256
    frame: str = "grid"
    context: int = 0
    slices: tuple[int, ...] | None = None
    brain_fraction: float = 0.25
    low_percentile: float = 0.5
    high_percentile: float = 99.5
    interpolation_order: int = 1
    bias_correction: str | None = None

    def __post_init__(self):
        check_plane(self.plane)
        if self.frame not in FRAMES:
            raise DataError(
                f"`frame` must be one of {FRAMES}. Received: {self.frame!r}"
            )
        check_context(self.context)
        check_bias_correction(self.bias_correction)
        _check_percentiles(self.low_percentile, self.high_percentile)
        if not 0 < self.brain_fraction <= 1:
            raise DataError(
                f"`brain_fraction` must be in (0, 1]. Received: {self.brain_fraction!r}"
            )
        if self.interpolation_order not in range(6) or isinstance(
            self.interpolation_order, bool
        ):
            raise DataError(
                "`interpolation_order` must be an int from 0 to 5. "
                f"Received: {self.interpolation_order!r}"
            )
        set_field = object.__setattr__
        set_field(self, "image_size", frame_size(self.image_size))
        set_field(self, "context", int(self.context))
        if self.slices is not None:
            try:
                slices = tuple(int(i) for i in self.slices)
            except (TypeError, ValueError) as error:
                raise DataError(
                    f"`slices` must be slice indices or None. Received: {self.slices!r}"
                ) from error
            if not slices or min(slices) < 0:
                raise DataError(
                    "`slices` must be a non-empty sequence of indices >= 0. "
                    f"Received: {self.slices!r}"
                )
            set_field(self, "slices", slices)

    @property
    def channels(self) -> int:
        """Channels of a source slice: the slice and its neighbours."""
        return 2 * self.context + 1

    def replace(self, **changes) -> "SliceSpec":
        """A copy with some fields changed (and validated)."""
        return dataclasses.replace(self, **changes)

    def get_config(self) -> dict:
        """A JSON-serializable dict of the fields."""
        config = dataclasses.asdict(self)
        for key in ("image_size", "slices"):
            if config[key] is not None:
                config[key] = list(config[key])
        return config

    @classmethod
    def from_config(cls, config: dict) -> "SliceSpec":
        """The spec of a `get_config()` dict; unknown keys raise `DataError`."""
        if not isinstance(config, dict):
            raise DataError(f"A SliceSpec config must be a dict. Received: {config!r}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise DataError(
                f"Unknown SliceSpec field(s) {unknown}; known: {sorted(known)}."
            )
        return cls(**config)
