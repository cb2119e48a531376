"""The quality benchmark's split by subject, on phantom subjects.

`benchmarks/quality.py --split subjects` trains on some IXI subjects and tests
on others: the split the issue's quality target needs, which the one real
subject in ../shared/data cannot give. Here it runs on phantom subjects
written like IXI (T1 sagittal, T2 axial, on different grids), with brain
masks from their tissue labels, on every backend.
"""

import numpy as np
import pytest
from marks import once

SHAPE = (64, 64, 38)  # each phantom's T1 grid
IMAGE_SIZE = (64, 32)  # the head frame of its axial slices


@pytest.fixture(scope="module")
def phantoms(quality, tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi-phantoms")
    return root, quality.write_phantom_subjects(root, 4, shape=SHAPE)


def test_each_subject_is_on_one_side_with_all_its_brain_slices(quality, phantoms):
    root, ids = phantoms
    t1, t2, mask, slices, train, test, subjects = quality.split_by_subject(
        root, image_size=IMAGE_SIZE, context=1
    )
    assert len(subjects["test"]) == 1  # a quarter of four
    assert sorted(subjects["train"] + subjects["test"]) == ids
    assert t1.shape == (len(slices), *IMAGE_SIZE, 3)
    assert t2.shape == (len(slices), *IMAGE_SIZE, 1) and mask.shape == t1.shape[:3]
    # Training subjects first, in order, each with every slice through its
    # brain: the same slices as loading that subject alone gives.
    start = 0
    for subject in subjects["train"] + subjects["test"]:
        alone = quality.load_subject(
            root, image_size=IMAGE_SIZE, context=1, subject=subject
        )
        kept = quality.brain_slices(alone[2])
        assert len(kept) < len(alone[3])  # slices without brain are left out
        part = np.arange(start, start + len(kept))
        for array, whole in zip((t1, t2, mask, slices), alone, strict=True):
            np.testing.assert_array_equal(array[part], whole[kept])
        start += len(kept)
    assert start == len(slices)
    count = len(slices) - len(test)
    np.testing.assert_array_equal(train, np.arange(count))
    np.testing.assert_array_equal(test, np.arange(count, len(slices)))
    # The same draw every time; more test subjects when asked.
    again = quality.split_by_subject(root, image_size=IMAGE_SIZE)[-1]
    assert again == subjects
    two = quality.split_by_subject(root, 2, image_size=IMAGE_SIZE)[-1]
    assert len(two["test"]) == 2 and not set(two["test"]) & set(two["train"])


@once
def test_the_benchmark_trains_on_some_subjects_and_scores_another(
    quality, phantoms, tmp_path
):
    root, _ = phantoms
    t1, t2, mask, slices, train, test, subjects = quality.split_by_subject(
        root, image_size=IMAGE_SIZE
    )
    results, predictions, histories = quality.compare_models(
        t1,
        t2,
        mask,
        train,
        test,
        models=("pix2pix_l1",),
        steps=len(train) * 2,
        filters=4,
        image_size=IMAGE_SIZE,
        depth=5,
        prior="histogram",
    )
    loss = histories["pix2pix_l1"]["reconstruction_loss"]
    assert loss[-1] < loss[0], loss
    # The mapping fitted on the other heads inverts the test head's contrast:
    # far closer to its T2 than its T1 is (12.9 against 7.4 dB).
    identity = quality.score(t2[test], t1[test], mask[test])["brain"]["psnr"][0]
    mapping = results["scores"]["histogram"]["brain"]["psnr"][0]
    assert mapping > identity + 3, (mapping, identity)
    scores = results["scores"]["pix2pix_l1/eval"]
    assert np.isfinite([scores[r][m][0] for r in scores for m in scores[r]]).all()
    assert predictions["pix2pix_l1/eval"].shape == t2[test].shape
    settings = {
        "split": "subjects",
        "subjects": subjects,
        "train_slices": [int(slices[train[0]]), int(slices[train[-1]])],
        "test_slices": [int(slices[test[0]]), int(slices[test[-1]])],
        "train_images": len(train),
        "test_images": len(test),
        "backend": "any",
        "image_size": list(IMAGE_SIZE),
        "depth": 5,
        "filters": 4,
        "batch_size": 1,
        "seed": 0,
    }
    table = quality.write_table([{**settings, **results}], tmp_path / "table.md")
    (test_subject,) = subjects["test"]
    assert table.read_text().startswith(
        f"3 training subjects ({len(train)} brain slices), 1 test subject "
        f"({len(test)} slices: {test_subject}); aligned pairing"
    )


def test_a_cache_prepares_each_subject_once(quality, phantoms, tmp_path, monkeypatch):
    from keras_pix2pix.datasets import volume_pairs

    root, ids = phantoms
    uncached = quality.split_by_subject(root, image_size=IMAGE_SIZE)
    cached = quality.split_by_subject(root, image_size=IMAGE_SIZE, cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ids  # a folder each

    def prepare(*args, **kwargs):
        raise AssertionError("a cached subject was prepared again")

    monkeypatch.setattr(volume_pairs, "_prepare_pair", prepare)
    again = quality.split_by_subject(root, image_size=IMAGE_SIZE, cache_dir=tmp_path)
    for arrays in (cached, again):
        assert arrays[-1] == uncached[-1]  # the same subjects on each side
        for array, expected in zip(arrays[:-1], uncached[:-1], strict=True):
            np.testing.assert_array_equal(array, expected)


def test_subjects_without_a_brain_mask_are_left_out(quality, tmp_path):
    ids = quality.write_phantom_subjects(tmp_path, 3, shape=SHAPE)
    assert sorted(p.name for p in (tmp_path / "ixi").iterdir()) == sorted(
        f"{subject}-{modality}.nii.gz" for subject in ids for modality in ("T1", "T2")
    )
    for subject in ids[1:]:
        quality.brain_mask_path(tmp_path, subject).unlink()
    with pytest.raises(SystemExit, match=rf"1 found \({ids[0]}\)"):
        quality.split_by_subject(tmp_path, image_size=IMAGE_SIZE)


@pytest.mark.parametrize("test_subjects", [0, 4])
def test_the_subject_split_needs_a_subject_on_each_side(
    quality, phantoms, test_subjects
):
    root, _ = phantoms
    with pytest.raises(SystemExit, match=f"{test_subjects} asked to test"):
        quality.split_by_subject(root, test_subjects, image_size=IMAGE_SIZE)
