"""A disk cache of prepared 2-D slice pairs, memory-mapped on reuse.

Preparing slice pairs from NIfTI volumes (reorienting, resampling or
registering, normalizing) takes seconds per subject; a training run needs the
same slices every time. `build_slice_cache` prepares them once, subject by
subject, and stores them in a folder:

- `source-<token>.npy` and `target-<token>.npy`: all the slices of all the
  subjects, concatenated subject by subject, `float32`, shape `(N, H, W, C)`
  (the source and target channels may differ);
- `manifest.json`: the format version, the settings the slices were prepared
  with, and for each subject its source files (path, size, `mtime_ns`), its
  number of slices and offset in the arrays, and the `info` dict its
  preparation returned (normalization parameters, etc.).

The manifest is written last, atomically (`atomic_path`), and names the array
files it belongs to, so a reader only ever trusts a complete build: an
interrupted build leaves the previous manifest and arrays as they were, and its
temporary files are removed (after a kill, by the next build). A later call
reuses the cache when the settings and every file stamp (size and
modification time) match; when only some subjects' files changed (or subjects
were added), only those subjects are prepared again and the others are copied
from the previous arrays; when a setting changed, every subject is prepared
again. Array files that are missing,
truncated or unreadable make the cache untrusted and trigger a rebuild.

Memory stays flat in the number of subjects: each prepared subject goes to a
temporary `.npy` part file, and the final arrays are assembled into memory-maps
one subject at a time. The disk briefly holds two copies of the slices.

Several processes may share a cache folder (e.g. the workers of one training
run, or two users' runs): a build holds an exclusive lock on the folder's
`.slice-cache.lock` file (POSIX `flock`, released by the system even when the
process is killed), so builders take turns and the second one finds the first
one's cache and reuses it; a reader opens the arrays under a shared lock, so it
never sees a manifest whose arrays a build is replacing. Where `flock` does not
exist (Windows) or the lock file cannot be created (a read-only folder), there
is no lock: build such a folder from one process at a time.

Example:
```python
from keras_pix2pix.datasets.slice_cache import build_slice_cache

cache = build_slice_cache(
    "~/.cache/ixi-slices",
    [("IXI002-Guys-0828", ["IXI002-Guys-0828-T1.nii.gz", "IXI002-T2.nii.gz"])],
    prepare,  # subject_id -> (source, target, info)
    settings={"image_size": 256, "plane": "axial"},
)
cache.source.shape  # (N, 256, 256, 1), read-only numpy.memmap
```
"""

import contextlib
import json
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from keras_pix2pix.errors import DataError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".slice-cache.lock"

PrepareFunction = Callable[[str], tuple[np.ndarray, np.ndarray, dict]]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_json(value):
    """`value` as it reads back from JSON (tuples become lists, etc.)."""
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError) as e:
        raise DataError(f"Cannot store {value!r} as JSON: {e}") from e


def _stamp(path) -> dict:
    path = pathlib.Path(os.fspath(path)).expanduser().resolve()
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class SliceCache:
    """Prepared slice pairs stored by `build_slice_cache`, memory-mapped.

    Attributes:
        directory: the cache folder.
        source: `float32` array `(N, H, W, C)`, a read-only `numpy.memmap`
            (writing to it raises `ValueError`; `np.array(cache.source)` makes
            a writable in-memory copy).
        target: the same for the targets.
        subject_ids: the subjects, in the order of the slices.
        subject_of_slice: `int` array `(N,)`: the index in `subject_ids` of
            the subject of each slice.
        offsets: the first slice of each subject.
        counts: the number of slices of each subject.
        info: subject ID -> the `info` dict its preparation returned.
        settings: the settings the slices were prepared with.
        prepared: the subjects prepared by the call that returned this object
            (empty when the cache was reused as it was).
    """

    def __init__(self, directory, manifest, source, target, prepared=()):
        self.directory = pathlib.Path(directory)
        self.manifest = manifest
        self.source = source
        self.target = target
        subjects = manifest["subjects"]
        self.subject_ids = [s["subject_id"] for s in subjects]
        self.offsets = np.asarray([s["offset"] for s in subjects], np.int64)
        self.counts = np.asarray([s["count"] for s in subjects], np.int64)
        self.subject_of_slice = np.repeat(
            np.arange(len(subjects), dtype=np.int64), self.counts
        )
        self.info = {s["subject_id"]: s["info"] for s in subjects}
        self.settings = manifest["settings"]
        self.prepared = list(prepared)

    def __len__(self) -> int:
        return int(self.source.shape[0])

    def slices_of(self, subject_id: str) -> slice:
        """The slice of `source` / `target` that holds one subject's slices.

        Args:
            subject_id: one of `subject_ids`.

        Returns:
            A `slice` object, e.g. `cache.source[cache.slices_of("IXI002")]`.

        Raises:
            KeyError: if the subject is not in the cache.
        """
        index = self.subject_ids.index(subject_id)
        start = int(self.offsets[index])
        return slice(start, start + int(self.counts[index]))

    def __repr__(self) -> str:
        return (
            f"SliceCache({str(self.directory)!r}, subjects={len(self.subject_ids)}, "
            f"source={tuple(self.source.shape)})"
        )


def _open_array(path, shape):
    """Memory-maps a `.npy` file read-only; `None` if missing or not as expected."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if (
        not isinstance(array, np.ndarray)
        or array.dtype != np.float32
        or tuple(array.shape) != tuple(shape)
    ):
        return None
    return array


def _read_manifest(directory):
    try:
        with open(directory / MANIFEST_NAME, encoding="utf-8") as file:
            manifest = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != FORMAT_VERSION:
        return None
    return manifest


@contextlib.contextmanager
def _folder_lock(directory, exclusive):
    """Holds the folder's lock file, exclusive or shared, where there is one."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        handle = open(directory / LOCK_NAME, "a+b")  # noqa: SIM115
    except OSError:  # a read-only folder: nobody builds it
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_slice_cache(cache_dir: str | os.PathLike) -> SliceCache | None:
    """Opens a complete cache as it is, without checking its source files.

    Args:
        cache_dir: a folder written by `build_slice_cache`.

    Returns:
        The `SliceCache`, or `None` when the folder holds no complete,
        readable cache (no manifest, another format version, or array files
        missing or not of the recorded shape).

    Example:
    ```python
    cache = open_slice_cache("~/.cache/ixi-slices")
    if cache is not None:
        cache.source.shape
    ```
    """
    directory = pathlib.Path(os.fspath(cache_dir)).expanduser()
    if not directory.is_dir():
        return None
    with _folder_lock(directory, exclusive=False):
        return _open(directory)


def _open(directory):
    """`open_slice_cache` without the lock (its caller holds one)."""
    manifest = _read_manifest(directory)
    if manifest is None:
        return None
    try:
        total = int(manifest["total"])
        source_shape, target_shape = _slice_shapes(manifest)
        source = _open_array(
            directory / manifest["source_file"], (total, *source_shape)
        )
        target = _open_array(
            directory / manifest["target_file"], (total, *target_shape)
        )
        if source is None or target is None:
            return None
        return SliceCache(directory, manifest, source, target)
    except (KeyError, TypeError, ValueError):
        return None


def _slice_shapes(manifest):
    """The source and target slice shapes of a manifest."""
    source_shape = tuple(int(n) for n in manifest["slice_shape"])
    target_shape = manifest.get("target_slice_shape", source_shape)
    return source_shape, tuple(int(n) for n in target_shape)


def build_slice_cache(
    cache_dir: str | os.PathLike,
    subjects: Sequence[tuple[str, Sequence[str | os.PathLike]]],
    prepare: PrepareFunction,
    settings: dict,
    *,
    progress: bool = True,
    workers: int | None = 1,
) -> SliceCache:
    """Prepares slice pairs subject by subject into a disk cache, or reuses it.

    See the module docstring for the layout. The cache is reused as it is when
    its format version, `settings` (compared as JSON) and the size and
    modification time of every source file match, and its array files are
    readable and of the recorded shape; `prepare` is then not called.
    Otherwise the subjects whose files changed, or that are new, are prepared
    again, and the others are copied from the old arrays (all subjects are
    prepared again when `settings` changed or the old arrays are unreadable).
    Subjects no longer listed are dropped.

    Args:
        cache_dir: the cache folder; created if missing.
        subjects: `(subject_id, source_files)` pairs, in the order the slices
            should take: the files whose changes invalidate that subject's
            slices (e.g. its T1 and T2 volumes). IDs must be unique.
        prepare: `prepare(subject_id) -> (source, target, info)`: two arrays
            `(n, H, W, C)` with the same `n`, `H` and `W` (the channels may
            differ, e.g. neighbouring source slices as channels; cast to
            `float32`; `n` may be 0, and the slice shapes must be the same for
            every subject) and a JSON-serializable dict, kept in the manifest.
        settings: a JSON-serializable dict of everything that affects the
            slices (e.g. plane, image size, pairing).
        progress: show how many subjects are prepared, on stderr.
        workers: processes preparing subjects at once (`worker_map`; then
            `prepare` must be picklable where workers are spawned: a
            module-level function or a `functools.partial` of one); `None`
            for the machine's cores when there are enough subjects
            (`default_workers`). The subjects are written in order, one at a
            time, whatever the number of workers.

    Returns:
        A `SliceCache` whose `source` and `target` are read-only memory-maps.

    Raises:
        DataError: if `subjects` is empty or has repeated IDs, `settings` or
            an `info` is not JSON-serializable, or `prepare` returns arrays of
            the wrong shape.
        OSError: if a source file is missing or the folder is not writable.
        Exception: whatever `prepare` raises; the previous cache, if any, is
            left as it was and no temporary file remains.

    Example:
    ```python
    spec = SliceSpec(image_size=256)

    def prepare(subject_id):
        return paired_volume_slices(*files[subject_id], spec)

    cache = build_slice_cache(
        "cache", [(s, files[s]) for s in files], prepare, spec.get_config()
    )
    cache.prepared  # the IDs prepared now ([] when reused)
    ```
    """
    directory = pathlib.Path(os.fspath(cache_dir)).expanduser()
    subjects = [(str(sid), list(files)) for sid, files in subjects]
    ids = [sid for sid, _ in subjects]
    if not ids:
        raise DataError("`subjects` is empty: there is nothing to cache.")
    if len(set(ids)) != len(ids):
        raise DataError("The subject IDs in `subjects` must be unique.")
    settings = _to_json(settings)
    stamps = {sid: [_stamp(path) for path in files] for sid, files in subjects}
    directory.mkdir(parents=True, exist_ok=True)
    from keras_pix2pix.datasets._slice_cache_writer import build

    with _folder_lock(directory, exclusive=True):
        return build(directory, ids, stamps, prepare, settings, progress, workers)
