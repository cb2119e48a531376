"""Tests of the slice cache: reuse, invalidation, interrupted builds, memory-maps."""

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_pix2pix.datasets.slice_cache import (
    LOCK_NAME,
    MANIFEST_NAME,
    SliceCache,
    build_slice_cache,
    open_slice_cache,
)
from keras_pix2pix.errors import DataError

SETTINGS = {"image_size": 8, "plane": "axial", "pairing": "aligned"}


class Preparer:
    """A fake `prepare`: subject i has i + 2 slices of value i; counts calls."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.fail_on = fail_on

    def __call__(self, subject_id):
        self.calls.append(subject_id)
        if subject_id == self.fail_on:
            raise RuntimeError(f"cannot prepare {subject_id}")
        number = int(subject_id[-1])
        source = np.full((number + 2, 8, 8, 1), number, np.float32)
        return source, -source, {"normalization": {"lower": number, "upper": 9.0}}


@pytest.fixture
def subjects(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    out = []
    for number in range(3):
        paths = []
        for modality in ("T1", "T2"):
            path = files / f"s{number}-{modality}.nii.gz"
            path.write_bytes(b"x" * (number + 1))
            paths.append(path)
        out.append((f"s{number}", paths))
    return out


def _expected_source(numbers):
    return np.concatenate(
        [np.full((n + 2, 8, 8, 1), n, np.float32) for n in numbers], axis=0
    )


def _leftovers(directory):
    """Hidden files a build left, other than the folder's lock file."""
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name.startswith(".") and p.name != LOCK_NAME
    )


def test_build_then_reuse_without_preparing(tmp_path, subjects):
    prepare = Preparer()
    cache = build_slice_cache(tmp_path / "cache", subjects, prepare, SETTINGS)
    assert isinstance(cache, SliceCache)
    assert prepare.calls == ["s0", "s1", "s2"] == cache.prepared
    np.testing.assert_array_equal(cache.source, _expected_source([0, 1, 2]))
    np.testing.assert_array_equal(cache.target, -_expected_source([0, 1, 2]))
    assert cache.subject_ids == ["s0", "s1", "s2"]
    np.testing.assert_array_equal(cache.subject_of_slice, [0] * 2 + [1] * 3 + [2] * 4)
    assert cache.info["s1"] == {"normalization": {"lower": 1, "upper": 9.0}}
    assert cache.source[cache.slices_of("s2")].min() == 2
    assert len(cache) == 9

    again = Preparer()
    reused = build_slice_cache(tmp_path / "cache", subjects, again, SETTINGS)
    assert again.calls == [] and reused.prepared == []
    np.testing.assert_array_equal(reused.source, cache.source)


def test_arrays_are_read_only_memory_maps(tmp_path, subjects):
    cache = build_slice_cache(tmp_path / "cache", subjects, Preparer(), SETTINGS)
    for array in (cache.source, cache.target):
        assert isinstance(array, np.memmap)
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[0, 0, 0, 0] = 5.0


def test_setting_change_rebuilds_everything(tmp_path, subjects):
    build_slice_cache(tmp_path / "cache", subjects, Preparer(), SETTINGS)
    prepare = Preparer()
    cache = build_slice_cache(
        tmp_path / "cache", subjects, prepare, {**SETTINGS, "image_size": 16}
    )
    assert prepare.calls == ["s0", "s1", "s2"]
    assert cache.settings["image_size"] == 16
    # Only the arrays of the latest build remain.
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_touching_a_file_rebuilds_only_that_subject(tmp_path, subjects):
    build_slice_cache(tmp_path / "cache", subjects, Preparer(), SETTINGS)
    path = subjects[1][1][1]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    prepare = Preparer()
    cache = build_slice_cache(tmp_path / "cache", subjects, prepare, SETTINGS)
    assert prepare.calls == ["s1"]
    np.testing.assert_array_equal(cache.source, _expected_source([0, 1, 2]))


def test_added_and_removed_subjects(tmp_path, subjects):
    build_slice_cache(tmp_path / "cache", subjects[:2], Preparer(), SETTINGS)
    prepare = Preparer()
    cache = build_slice_cache(tmp_path / "cache", subjects[1:], prepare, SETTINGS)
    assert prepare.calls == ["s2"]
    assert cache.subject_ids == ["s1", "s2"]
    np.testing.assert_array_equal(cache.source, _expected_source([1, 2]))


def test_interrupted_build_leaves_nothing_and_reruns(tmp_path, subjects):
    directory = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="cannot prepare s1"):
        build_slice_cache(directory, subjects, Preparer(fail_on="s1"), SETTINGS)
    assert not (directory / MANIFEST_NAME).exists()
    assert _leftovers(directory) == []
    assert list(directory.glob("*.npy")) == []
    assert open_slice_cache(directory) is None

    prepare = Preparer()
    cache = build_slice_cache(directory, subjects, prepare, SETTINGS)
    assert prepare.calls == ["s0", "s1", "s2"]
    np.testing.assert_array_equal(cache.source, _expected_source([0, 1, 2]))


def test_interrupted_rebuild_keeps_the_previous_cache(tmp_path, subjects):
    directory = tmp_path / "cache"
    build_slice_cache(directory, subjects, Preparer(), SETTINGS)
    manifest = (directory / MANIFEST_NAME).read_text()
    with pytest.raises(RuntimeError):
        build_slice_cache(
            directory, subjects, Preparer(fail_on="s1"), {**SETTINGS, "plane": "x"}
        )
    assert (directory / MANIFEST_NAME).read_text() == manifest
    assert _leftovers(directory) == []
    prepare = Preparer()
    build_slice_cache(directory, subjects, prepare, SETTINGS)
    assert prepare.calls == []


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_damaged_array_files_trigger_a_rebuild(tmp_path, subjects, damage):
    directory = tmp_path / "cache"
    build_slice_cache(directory, subjects, Preparer(), SETTINGS)
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    path = directory / manifest["target_file"]
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(b"not a numpy file at all")
    prepare = Preparer()
    cache = build_slice_cache(directory, subjects, prepare, SETTINGS)
    assert prepare.calls == ["s0", "s1", "s2"]
    np.testing.assert_array_equal(cache.target, -_expected_source([0, 1, 2]))


def test_corrupt_manifest_triggers_a_rebuild(tmp_path, subjects):
    directory = tmp_path / "cache"
    build_slice_cache(directory, subjects, Preparer(), SETTINGS)
    (directory / MANIFEST_NAME).write_text("{ not json")
    prepare = Preparer()
    build_slice_cache(directory, subjects, prepare, SETTINGS)
    assert prepare.calls == ["s0", "s1", "s2"]


def test_progress_bar_goes_to_stderr(tmp_path, subjects, capsys):
    build_slice_cache(tmp_path / "a", subjects, Preparer(), SETTINGS)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and captured.out == ""
    build_slice_cache(tmp_path / "b", subjects, Preparer(), SETTINGS, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_invalid_input(tmp_path, subjects):
    with pytest.raises(DataError, match="empty"):
        build_slice_cache(tmp_path / "c", [], Preparer(), SETTINGS)
    with pytest.raises(DataError, match="unique"):
        build_slice_cache(tmp_path / "c", subjects[:1] * 2, Preparer(), SETTINGS)

    def mismatched(subject_id):
        return np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 4, 1)), {}

    with pytest.raises(DataError, match="same n, H and W"):
        build_slice_cache(tmp_path / "c", subjects, mismatched, SETTINGS)
    assert _leftovers(tmp_path / "c") == []
    with pytest.raises(FileNotFoundError):
        build_slice_cache(
            tmp_path / "c", [("x", [tmp_path / "missing"])], Preparer(), SETTINGS
        )


def test_source_and_target_may_have_different_channels(tmp_path, subjects):
    def context(subject_id):
        count = int(subject_id[1:]) + 1
        source = np.arange(count * 4 * 4 * 3, dtype=np.float32).reshape(count, 4, 4, 3)
        return source, source[..., 1:2] * 2, {}

    cache = build_slice_cache(tmp_path / "c", subjects, context, SETTINGS)
    assert cache.source.shape == (6, 4, 4, 3)
    assert cache.target.shape == (6, 4, 4, 1)
    np.testing.assert_array_equal(cache.target, cache.source[..., 1:2] * 2)
    reopened = open_slice_cache(tmp_path / "c")
    assert reopened.source.shape == (6, 4, 4, 3)
    assert reopened.target.shape == (6, 4, 4, 1)


def test_two_builders_at_once_leave_one_valid_cache(tmp_path):
    """Two processes build one folder together: they take turns on its lock."""
    files = tmp_path / "files"
    files.mkdir()
    for i in range(3):
        (files / f"volume-{i}.nii.gz").write_bytes(b"x" * (i + 1))
    cache = tmp_path / "cache"
    child = pathlib.Path(__file__).with_name("_concurrent_builder.py")
    start_at = time.time() + 8.0  # both processes imported by then
    results = [tmp_path / f"result-{i}.json" for i in range(2)]
    arguments = [str(child), str(cache), str(files), str(start_at)]
    builders = [
        subprocess.Popen([sys.executable, *arguments, str(result)])
        for result in results
    ]
    try:
        for builder in builders:
            assert builder.wait(timeout=120) == 0
    finally:
        for builder in builders:
            builder.kill()
    results = [json.loads(result.read_text()) for result in results]
    # One built, the other waited and reused its cache: nothing prepared twice.
    assert sorted(len(r["prepared"]) for r in results) == [0, 3]
    expected = 2 * 16 * (0 + 1 + 2)
    assert all(r["source"] == expected and r["target"] == -expected for r in results)
    names = sorted(p.name for p in cache.iterdir() if p.name != LOCK_NAME)
    assert len(names) == 3 and names[0] == "manifest.json", names
    assert open_slice_cache(cache).source.shape == (6, 4, 4, 1)
