"""Slice pairs from lists of paired volumes (IXI subjects or your own).

`load_paired_volumes` turns `(source, target)` NIfTI volume pairs into one
stack of 2-D slice pairs: each pair goes through
`keras_pix2pix.datasets.slice_pairs.paired_volume_slices` (resampled through the
affines, or registered with `pairing="registered"`), one pair at a time,
optionally through the slice cache (`keras_pix2pix.datasets.slice_cache`).
`load_ixi_pairs` (`keras_pix2pix.datasets.ixi`) prepares IXI subjects the
same way; `central_slices` keeps the central slices of each.
"""

import functools
import os
import pathlib
import warnings
from collections.abc import Sequence

import numpy as np

from keras_pix2pix.datasets import slice_pairs
from keras_pix2pix.datasets.paired_slices import PairedSlices, SliceInfo
from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.datasets.workers import check_workers, worker_map
from keras_pix2pix.errors import DataError, DatasetNotFoundError

VOLUME_PAIRINGS = ("aligned", "registered")
PathOrPaths = str | os.PathLike | Sequence[str | os.PathLike]


def _check_on_error(on_error):
    if on_error not in ("raise", "skip"):
        raise DataError(f"`on_error` must be 'raise' or 'skip'. Received: {on_error!r}")


def _warn_skipped(skipped, what):
    if skipped:
        lines = "\n".join(f"  {subject}: {reason}" for subject, reason in skipped)
        warnings.warn(
            f"Skipped {len(skipped)} subject(s) {what}:\n{lines}",
            UserWarning,
            stacklevel=3,
        )


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


def _prepare_pair(source_paths, target_path, *, spec, pairing, max_slices):
    """One pair's slices, cut as `spec` says."""
    source, target, info = slice_pairs.paired_volume_slices(
        source_paths,
        target_path,
        spec,
        align=_register if pairing == "registered" else None,
    )
    if max_slices is not None and len(info["slices"]) > max_slices:
        kept = central_slices(range(len(info["slices"])), max_slices)
        source, target = source[kept], target[kept]
        info["slices"] = [info["slices"][k] for k in kept]
    return source, target, info


def _check_contrasts(source, target, known, dataset):
    """`(sources, target)`: contrast names of `dataset`, checked.

    Args:
        source: one contrast name or several.
        target: one contrast name.
        known: the contrast names `dataset` has.
        dataset: what to call the dataset in the message (e.g. "IXI").

    Raises:
        DataError: if a name is unknown, no source is given, the target is a
            source or a source is repeated.
    """
    sources = (source,) if isinstance(source, str) else tuple(source)
    if not sources or any(c not in known for c in (*sources, target)):
        raise DataError(
            f"`source` and `target` must be {dataset} contrasts from "
            f"{tuple(known)} (`source` one or several). Received: "
            f"source={source!r}, target={target!r}"
        )
    if target in sources or len(set(sources)) < len(sources):
        raise DataError(
            "`target` must differ from the sources and each source must be "
            f"named once. Received: source={source!r}, target={target!r}"
        )
    return sources, target


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


def _prepare_item(item, *, spec, pairing, max_slices, on_error):
    """One `(name, source_paths, target_path)` item's slices, or why not.

    With `on_error="skip"`, an unusable item gives empty arrays and
    `{"skipped": reason}`. Module-level, so that worker processes can run it.
    """
    _, source_paths, target_path = item
    try:
        return _prepare_pair(
            source_paths,
            target_path,
            spec=spec,
            pairing=pairing,
            max_slices=max_slices,
        )
    except (DataError, DatasetNotFoundError) as e:  # ImageFileError included
        if on_error == "raise":
            raise
        height, width = spec.image_size
        channels = len(source_paths) * spec.channels
        source = np.zeros((0, height, width, channels), np.float32)
        target = np.zeros((0, height, width, 1), np.float32)
        return source, target, {"skipped": str(e)}


def _prepare_named(name, *, items, **options):
    """`_prepare_item` of the item called `name` (for the slice cache)."""
    return _prepare_item((name, *items[name]), **options)


def _slice_pairs(
    items,
    *,
    spec,
    pairing,
    max_slices,
    on_error,
    cache_dir,
    workers=None,
    progress=True,
):
    """Slice pairs of `(name, source_paths, target_path)` items, cached or not.

    Every item has the same number of source paths. The items are prepared
    by `workers` processes (`workers.check_workers`).

    Returns:
        `(source, target, details)`: the arrays and a dict with `subjects`,
        `per_subject`, `skipped` and `cache_dir` (`SliceInfo` fields).
    """
    options = {
        "spec": spec,
        "pairing": pairing,
        "max_slices": max_slices,
        "on_error": on_error,
    }
    if cache_dir is None:
        prepare = functools.partial(_prepare_item, **options)
        sources, targets, details = [], [], {}
        count = check_workers(workers, len(items))
        with worker_map(count) as mapped:
            for (name, *_), (source, target, info) in zip(
                items, mapped(prepare, items), strict=True
            ):
                sources.append(source)
                targets.append(target)
                details[name] = info
        source = np.concatenate(sources)
        target = np.concatenate(targets)
        cache = None
    else:
        source, target, details, cache = _cached_pairs(
            items, options, cache_dir, workers, progress
        )
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


def _cached_pairs(items, options, cache_dir, workers, progress):
    """`_slice_pairs` through the slice cache in `cache_dir`.

    Returns:
        `(source, target, details, cache)`.
    """
    from keras_pix2pix.datasets.slice_cache import build_slice_cache

    on_error = options["on_error"]
    missing = [
        (name, f"Volume file not found: {os.fspath(p)}")
        for name, source_paths, target_path in items
        for p in (*source_paths, target_path)
        if not os.path.exists(p)
    ]
    if missing and on_error == "raise":
        raise DatasetNotFoundError(missing[0][1])
    gone = {name for name, _ in missing}
    items = [item for item in items if item[0] not in gone]
    if not items:
        raise DataError(f"No usable volume pair. Skipped: {dict(missing)}")
    settings = {
        "spec": options["spec"].get_config(),
        "pairing": options["pairing"],
        "max_slices": options["max_slices"],
    }
    source_count = len(items[0][1])
    if source_count > 1:  # one source: the key existing caches were built with
        settings["sources"] = source_count
    paths = {name: (s, t) for name, s, t in items}
    cache = build_slice_cache(
        cache_dir,
        [(name, [*s, t]) for name, s, t in items],
        functools.partial(_prepare_named, items=paths, **options),
        settings={
            # The old module's name, kept so that existing caches stay valid.
            "kind": "keras_pix2pix.datasets.ixi paired volume slices",
            "on_error": on_error,
            **settings,
        },
        progress=progress,
        workers=workers,
    )
    details = dict(cache.info)
    details.update({name: {"skipped": reason} for name, reason in missing})
    return cache.source, cache.target, details, cache


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
    pairs: Sequence[tuple[PathOrPaths, str | os.PathLike]],
    spec: SliceSpec | None = None,
    *,
    pairing: str = "aligned",
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    on_error: str = "raise",
    **removed,
) -> PairedSlices:
    """Slice pairs from your own list of (source, target) NIfTI volume pairs.

    Each pair goes through `slice_pairs.paired_volume_slices` with `spec`, one pair
    at a time, as IXI subjects do in `load_ixi_pairs`: reoriented to RAS+,
    the target resampled onto the source grid through the affines
    (`"aligned"`) or registered onto it first (`"registered"`,
    `register_affine`, needs SimpleITK), then cut as `spec` says. A source
    may be a list of volumes of several contrasts (e.g. T1 and T2 -> PD):
    they become the channels of the source slices, contrast by contrast,
    each on the first one's grid and scaled on its own; every pair then
    needs the same number of them.

    Args:
        pairs: `(source, target_path)` pairs, e.g. `[("sub-01_T1w.nii.gz",
            "sub-01_T2w.nii.gz"), ...]`; `source` is a path or a list of
            paths (e.g. `(["sub-01_T1w.nii.gz", "sub-01_T2w.nii.gz"],
            "sub-01_PDw.nii.gz")`).
        spec: how the slices are cut (`SliceSpec`); `None` for
            `SliceSpec()`. It needs an `image_size`.
        pairing: `"aligned"` or `"registered"`.
        cache_dir: a folder to keep the prepared slices in (see
            `build_slice_cache`); they are prepared again only when a file or
            an option changes. The arrays returned are then read-only
            memory-maps of the cache files.
        on_error: `"raise"` or `"skip"` (a pair that cannot be used is left
            out, with a warning).
        workers: processes preparing subjects at once; `None` (default)
            for the machine's cores when 4 or more subjects are to be
            prepared, else 1 (see `keras_pix2pix.datasets.workers`). The
            arrays are the same whatever the number.
        **removed: the arguments that `spec` replaced (`plane`,
            `image_size`, ...) raise a `TypeError` that says so.

    Returns:
        `PairedSlices(source, target, info)`: `float32` arrays
        `(N, height, width, sources * spec.channels)` and
        `(N, height, width, 1)` in [-1, 1], pair by pair, and a `SliceInfo`
        (pairs are named `"{index}:{first source file name}"`).

    Raises:
        DataError: if `pairs` is empty or an argument is invalid, the pairs
            have different numbers of sources, or no pair is usable.
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
    items = [_pair_item(index, pair) for index, pair in enumerate(pairs)]
    if not items:
        raise DataError("`pairs` is empty.")
    counts = sorted({len(sources) for _, sources, _ in items})
    if len(counts) > 1:
        raise DataError(
            "Every pair needs the same number of source volumes (they are the "
            f"channels of one array). Received pairs with {counts} sources."
        )
    source, target, details = _slice_pairs(
        items,
        spec=spec,
        pairing=pairing,
        max_slices=None,
        on_error=on_error,
        workers=workers,
        cache_dir=cache_dir,
    )
    return PairedSlices(source, target, SliceInfo(pairing, spec, **details))


def _pair_item(index, pair):
    """`(name, source_paths, target_path)` of entry `index` of `pairs`."""
    try:
        sources, target_path = pair
        if isinstance(sources, (str, os.PathLike)):
            sources = (sources,)
        sources = tuple(sources)
        name = f"{index}:{pathlib.Path(os.fspath(sources[0])).name}"
    except (TypeError, ValueError, IndexError) as e:
        raise DataError(
            "Each entry of `pairs` must be (source_path, target_path) or "
            f"([source_path, ...], target_path). Received: {pair!r}"
        ) from e
    return name, sources, target_path


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
