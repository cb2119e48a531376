"""A slice-cache build killed (SIGKILL) at any stage: the next run finishes,
yields the arrays of an uninterrupted build and leaves no stray files, and a
previous complete cache stays readable throughout."""

import os
import pathlib
import time

import numpy as np
import pytest
from _cache_child import SPEC
from conftest import sigkill_when_ready

from keras_pix2pix.datasets import ixi
from keras_pix2pix.datasets.phantom import write_phantom_ixi
from keras_pix2pix.datasets.slice_cache import LOCK_NAME, open_slice_cache

CHILD = pathlib.Path(__file__).with_name("_cache_child.py")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi-kill")
    write_phantom_ixi(root, 3, shape=(32, 32, 20), seed=2)
    return root


@pytest.fixture(scope="module")
def uninterrupted(root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("uninterrupted")
    source, target, info = ixi.load_ixi_pairs(root, SPEC, cache_dir=cache)
    return np.array(source), np.array(target), info.per_subject


def _kill_child_when_ready(root, cache, ready, mode):
    sigkill_when_ready([CHILD, root, cache, ready, mode], ready)


def _files(cache):
    """The cache's files (split "all"), other than its lock file."""
    return sorted(p.name for p in (cache / "all").iterdir() if p.name != LOCK_NAME)


@pytest.mark.parametrize(
    ("mode", "stray"),
    [
        ("mid-prepare", ".part-"),
        ("mid-assembly", ".source-"),
        ("mid-manifest", ".manifest.tmp-"),
    ],
)
def test_killed_first_build_is_finished_by_the_next_run(
    root, uninterrupted, tmp_path, mode, stray
):
    cache = tmp_path / "cache"
    _kill_child_when_ready(root, cache, tmp_path / "ready", mode)
    assert any(name.startswith(stray) for name in _files(cache))
    assert open_slice_cache(cache / "all") is None  # nothing half-built trusted

    source, target, info = ixi.load_ixi_pairs(root, SPEC, cache_dir=cache)
    np.testing.assert_array_equal(source, uninterrupted[0])
    np.testing.assert_array_equal(target, uninterrupted[1])
    assert info.per_subject == uninterrupted[2]
    names = _files(cache)
    assert names[0] == "manifest.json" and len(names) == 3
    assert names[1].startswith("source-") and names[2].startswith("target-")


def test_killed_rebuild_keeps_the_previous_cache(root, uninterrupted, tmp_path):
    cache = tmp_path / "cache"
    ixi.load_ixi_pairs(root, SPEC, cache_dir=cache)
    before = _files(cache)
    changed = sorted(root.glob("*-T2.nii.gz"))[1]
    os.utime(changed, ns=(time.time_ns(), time.time_ns()))  # one subject changed
    _kill_child_when_ready(root, cache, tmp_path / "ready", "mid-manifest")

    old = open_slice_cache(cache / "all")  # the previous build, still whole
    assert old is not None and set(before) <= set(_files(cache))
    np.testing.assert_array_equal(old.source, uninterrupted[0])

    source, target, _ = ixi.load_ixi_pairs(root, SPEC, cache_dir=cache)
    np.testing.assert_array_equal(source, uninterrupted[0])
    np.testing.assert_array_equal(target, uninterrupted[1])
    assert len(_files(cache)) == 3 and _files(cache) != before
