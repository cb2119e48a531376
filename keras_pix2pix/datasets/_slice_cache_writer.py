"""How `build_slice_cache` writes a cache: part files, arrays, manifest.

The steps of one build, run inside the folder's exclusive lock (see
`keras_pix2pix.datasets.slice_cache` for the layout and the guarantees): each
subject to prepare goes to a pair of temporary part files (by worker
processes, in order), the final arrays are assembled from the parts and the
old arrays one subject at a time, the manifest is written last, and the files
of earlier builds are removed.
"""

import contextlib
import json
import sys
import time
import uuid

import numpy as np

from keras_pix2pix.datasets.slice_cache import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    _open,
    _slice_shapes,
    _to_json,
)
from keras_pix2pix.datasets.workers import check_workers, worker_map
from keras_pix2pix.errors import DataError
from keras_pix2pix.utils.atomic_files import atomic_path


def _check_pair(subject_id, source, target, slice_shapes):
    source = np.asarray(source)
    target = np.asarray(target)
    if source.ndim != 4 or target.ndim != 4 or source.shape[:3] != target.shape[:3]:
        raise DataError(
            f"`prepare({subject_id!r})` must return source and target arrays "
            "(n, H, W, C) with the same n, H and W (the channels may differ). "
            f"Received {source.shape} and {target.shape}."
        )
    shapes = (tuple(source.shape[1:]), tuple(target.shape[1:]))
    if slice_shapes is not None and shapes != tuple(slice_shapes):
        raise DataError(
            f"`prepare({subject_id!r})` returned source and target slices of "
            f"shapes {shapes}; earlier subjects had {tuple(slice_shapes)}."
        )
    return source.astype(np.float32, copy=False), target.astype(np.float32, copy=False)


class _Progress:
    """`done/total subjects` on stderr: a line redrawn on a terminal, else
    the last one only; or nothing. No keras: the preparation runs without it.
    """

    def __init__(self, total, enabled):
        self.total = total if enabled else 0
        self.start = time.perf_counter()
        self.live = self.total and sys.stderr.isatty()

    def update(self, done):
        if not self.total or (done < self.total and not self.live):
            return
        seconds = time.perf_counter() - self.start
        line = (
            f"{done}/{self.total} subjects prepared, {seconds:.0f} s "
            f"({seconds / done:.1f} s/subject)"
        )
        end = "\n" if done == self.total else ""
        print(("\r" if self.live else "") + line, end=end, file=sys.stderr, flush=True)


def _save_part(path, array):
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.save(file, array, allow_pickle=False)


def build(directory, ids, stamps, prepare, settings, progress, workers):
    """`build_slice_cache` inside the folder's exclusive lock."""
    old = _open(directory)
    reusable = {}
    if old is not None and old.manifest["settings"] == settings:
        for entry in old.manifest["subjects"]:
            sid = entry["subject_id"]
            if sid in stamps and entry["files"] == stamps[sid]:
                reusable[sid] = entry
        if (
            list(reusable) == ids
            and [e["subject_id"] for e in old.manifest["subjects"]] == ids
        ):
            return old
    to_prepare = [sid for sid in ids if sid not in reusable]
    token = uuid.uuid4().hex[:12]
    arrays = (directory / f"source-{token}.npy", directory / f"target-{token}.npy")
    parts = {}  # subject ID -> (source part path, target part path)
    try:
        slice_shapes, entries = _prepare_parts(
            directory,
            token,
            to_prepare,
            prepare,
            _slice_shapes(old.manifest) if reusable else None,
            parts,
            progress,
            workers,
        )
        for sid, entry in reusable.items():
            entries[sid] = {"count": int(entry["count"]), "info": entry["info"]}
        subjects = _manifest_subjects(ids, entries, stamps)
        for final, role, slice_shape in zip(
            arrays, ("source", "target"), slice_shapes, strict=True
        ):
            pieces = (_piece(entry, role, parts, reusable, old) for entry in subjects)
            _assemble(final, slice_shape, subjects, pieces)
        _write_manifest(directory, settings, subjects, slice_shapes, arrays)
    except BaseException:
        for path in arrays:
            path.unlink(missing_ok=True)
        raise
    finally:
        for pair in parts.values():
            for path in pair:
                path.unlink(missing_ok=True)
        old = None  # release the old memory-maps before deleting their files
    _remove_stale(directory, {path.name for path in arrays})
    cache = _open(directory)
    if cache is None:  # pragma: no cover - just written
        raise OSError(f"The slice cache just written to {directory} is unreadable.")
    cache.prepared = list(to_prepare)
    return cache


def _prepare_parts(
    directory, token, to_prepare, prepare, slice_shapes, parts, progress, workers
):
    """Prepares each subject into part files (recorded in `parts`).

    Returns:
        `(slice_shapes, entries)`: the source and target slice shapes, and
        each prepared subject's `{"count", "info"}`.
    """
    entries = {}
    bar = _Progress(len(to_prepare), progress)
    count = check_workers(workers, len(to_prepare))
    with worker_map(count) as mapped:
        results = mapped(prepare, to_prepare)
        for done, (sid, (source, target, info)) in enumerate(
            zip(to_prepare, results, strict=True), start=1
        ):
            source, target = _check_pair(sid, source, target, slice_shapes)
            slice_shapes = (tuple(source.shape[1:]), tuple(target.shape[1:]))
            info = _to_json(dict(info) if info is not None else {})
            paths = (
                directory / f".part-{token}-{len(parts)}-source.npy",
                directory / f".part-{token}-{len(parts)}-target.npy",
            )
            parts[sid] = paths
            _save_part(paths[0], source)
            _save_part(paths[1], target)
            entries[sid] = {"count": int(source.shape[0]), "info": info}
            del source, target
            bar.update(done)
    return slice_shapes, entries


def _manifest_subjects(ids, entries, stamps):
    """The manifest's subject records: files, offset, count and info."""
    subjects, offset = [], 0
    for sid in ids:
        count = entries[sid]["count"]
        subjects.append(
            {
                "subject_id": sid,
                "files": stamps[sid],
                "offset": offset,
                "count": count,
                "info": entries[sid]["info"],
            }
        )
        offset += count
    return subjects


def _piece(entry, role, parts, reusable, old):
    """One subject's `role` slices: its new part file, or the old array's rows."""
    sid = entry["subject_id"]
    if sid in parts:
        return np.load(parts[sid][role == "target"], mmap_mode="r", allow_pickle=False)
    start = reusable[sid]["offset"]
    return getattr(old, role)[start : start + entry["count"]]


def _assemble(final, slice_shape, subjects, pieces):
    """Writes the subjects' pieces into the array file `final`, atomically."""
    total = sum(entry["count"] for entry in subjects)
    with atomic_path(final) as temporary:
        out = np.lib.format.open_memmap(
            temporary, mode="w+", dtype=np.float32, shape=(total, *slice_shape)
        )
        for entry, piece in zip(subjects, pieces, strict=True):
            out[entry["offset"] : entry["offset"] + entry["count"]] = piece
            del piece
        out.flush()
        del out


def _write_manifest(directory, settings, subjects, slice_shapes, arrays):
    """Writes the manifest, last and atomically: it makes the build valid."""
    manifest = {
        "version": FORMAT_VERSION,
        "settings": settings,
        "total": sum(entry["count"] for entry in subjects),
        "slice_shape": list(slice_shapes[0]),
        "target_slice_shape": list(slice_shapes[1]),
        "dtype": "float32",
        "source_file": arrays[0].name,
        "target_file": arrays[1].name,
        "subjects": subjects,
    }
    with (
        atomic_path(directory / MANIFEST_NAME) as temporary,
        open(temporary, "w", encoding="utf-8") as file,
    ):
        json.dump(manifest, file, indent=1)


def _remove_stale(directory, keep):
    """Deletes what earlier or killed builds left: array files the manifest
    does not name, part files, and `atomic_path`'s temporary files."""
    for path in directory.iterdir():
        name = path.name
        if name in keep:
            continue
        array = name.endswith(".npy") and name.startswith(
            ("source-", "target-", ".part-")
        )
        if array or (name.startswith(".") and ".tmp-" in name):
            with contextlib.suppress(OSError):
                path.unlink()
