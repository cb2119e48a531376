"""Subjects prepared by worker processes give the arrays of one process."""

import numpy as np
import pytest

from keras_pix2pix.datasets import SliceSpec, load_ixi_pairs, write_phantom_ixi
from keras_pix2pix.datasets.workers import (
    MIN_PARALLEL_SUBJECTS,
    available_cores,
    check_workers,
    default_workers,
)
from keras_pix2pix.errors import ImageFileError

SPEC = SliceSpec(image_size=32)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi-workers")
    write_phantom_ixi(root, 4, shape=(40, 40, 24), seed=7)
    return root


def _same(first, second):
    for a, b in zip(first[:2], second[:2], strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert first.info.subjects == second.info.subjects
    assert first.info.per_subject == second.info.per_subject


def test_parallel_preparation_gives_the_serial_arrays(root, tmp_path):
    serial = load_ixi_pairs(root, SPEC, workers=1)
    _same(serial, load_ixi_pairs(root, SPEC, workers=2))
    cached = load_ixi_pairs(root, SPEC, workers=3, cache_dir=tmp_path / "cache")
    _same(serial, cached)
    reverse = load_ixi_pairs(root, SPEC, source="T2", target="T1", workers=1)
    _same(reverse, load_ixi_pairs(root, SPEC, source="T2", target="T1", workers=2))


def test_a_bad_file_in_a_worker_raises_or_is_skipped(root, tmp_path):
    for path in root.iterdir():
        (tmp_path / path.name).symlink_to(path)
    broken = sorted(tmp_path.glob("*-T2.nii.gz"))[2]
    broken.unlink()
    broken.write_bytes(root.joinpath(broken.name).read_bytes()[:300])
    with pytest.raises(ImageFileError, match=broken.name):
        load_ixi_pairs(tmp_path, SPEC, workers=2)
    with pytest.warns(UserWarning, match=broken.name):
        skipped = load_ixi_pairs(tmp_path, SPEC, workers=2, on_error="skip")
    assert list(skipped.info.skipped) == [broken.name.removesuffix("-T2.nii.gz")]
    assert len(skipped.info.subjects) == 3


def test_worker_counts():
    assert default_workers(MIN_PARALLEL_SUBJECTS - 1) == 1
    assert default_workers(100) == available_cores()
    assert check_workers(None, 2) == 1 and check_workers(3, 2) == 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="`workers` must be a positive integer"):
            check_workers(bad, 10)
