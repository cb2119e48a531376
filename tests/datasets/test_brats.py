"""BraTS-style subject folders: `load_brats_pairs`, `list_brats_subjects` and
the phantom folders of `write_phantom_brats`."""

import itertools
import shutil

import nibabel as nib
import numpy as np
import pytest
from tissues import TISSUES, tissue_means

from keras_pix2pix.datasets import (
    SliceSpec,
    SubjectSelection,
    list_brats_subjects,
    load_brats_pairs,
    volume_pairs,
    write_phantom_brats,
)
from keras_pix2pix.datasets.brats import BRATS_2023_SUFFIXES
from keras_pix2pix.datasets.phantom import (
    CSF,
    GREY_MATTER,
    LESION,
    WHITE_MATTER,
    acquisition,
    tissue_signals,
)
from keras_pix2pix.datasets.phantom.anatomy import Grid, Head, subject_seeds
from keras_pix2pix.datasets.slicing import extract_slices
from keras_pix2pix.errors import DataError, DatasetNotFoundError

SHAPE = (48, 48, 32)
SIZE = 48
SEED = 7
CONTRASTS = ("t1", "t1ce", "t2", "flair")
PHYSICS = {"t1": "T1", "t1ce": "T1CE", "t2": "T2", "flair": "FLAIR"}
BRAIN = (*TISSUES, LESION)
SPEC = SliceSpec(image_size=SIZE)


@pytest.fixture(scope="module")
def brats_root(tmp_path_factory):
    """Four phantom subjects with every contrast and a segmentation."""
    root = tmp_path_factory.mktemp("brats")
    write_phantom_brats(root, 4, shape=SHAPE, seed=SEED)
    return root


def _labels(root, subject):
    """The phantom's tissue labels of subject number `subject`, on its grid."""
    image = nib.load(
        root / f"BraTS2021_{subject:05d}" / f"BraTS2021_{subject:05d}_t1.nii.gz"
    )
    head = Head(subject_seeds(SEED, subject)[0], True)
    grid = Grid(image.affine[:3, :3], image.affine[:3, 3], image.shape)
    return head.sample(grid)[0]


def test_the_phantom_folder_is_bratslike(brats_root):
    folders = sorted(p.name for p in brats_root.iterdir())
    assert folders == [f"BraTS2021_{i:05d}" for i in range(4)]
    names = sorted(p.name for p in (brats_root / folders[0]).iterdir())
    assert names == sorted(f"BraTS2021_00000_{c}.nii.gz" for c in (*CONTRASTS, "seg"))
    images = {
        c: nib.load(brats_root / folders[0] / f"{folders[0]}_{c}.nii.gz")
        for c in CONTRASTS
    }
    affines = {c: image.affine for c, image in images.items()}
    for affine in affines.values():  # one axis-aligned RAS grid for all
        np.testing.assert_array_equal(affine, affines["t1"])
    assert nib.aff2axcodes(affines["t1"]) == ("R", "A", "S")
    labels = _labels(brats_root, 0)
    brain = np.isin(labels, BRAIN)
    for image in images.values():  # skull-stripped: 0 outside the brain
        data = np.asarray(image.dataobj)
        assert data.dtype == np.int16 and not data[~brain].any()
        assert (data[brain] > 0).mean() > 0.99
    seg = np.asarray(
        nib.load(brats_root / folders[0] / f"{folders[0]}_seg.nii.gz").dataobj
    )
    np.testing.assert_array_equal(seg, np.where(labels == LESION, 4, 0))
    lesion, white = seg == 4, labels == WHITE_MATTER
    ratio = {
        c: np.asarray(image.dataobj)[lesion].mean()
        / np.asarray(image.dataobj)[white].mean()
        for c, image in images.items()
    }
    assert ratio["t1"] < 1 < 1.3 < ratio["t1ce"], ratio  # contrast uptake
    assert ratio["t2"] > 1.3 and ratio["flair"] > 1.3, ratio


def test_flair_and_t1ce_follow_their_signal_equations():
    signals = tissue_signals()
    flair, t1, t1ce = signals["FLAIR"], signals["T1"], signals["T1CE"]
    assert flair[CSF] < 0.05 * flair[GREY_MATTER]  # CSF nulled
    assert flair[LESION] > flair[GREY_MATTER] > flair[WHITE_MATTER]
    assert t1ce[LESION] > t1ce[WHITE_MATTER] > t1[LESION]  # contrast uptake
    others = np.arange(len(t1)) != LESION
    np.testing.assert_array_equal(t1ce[others], t1[others])


def test_new_contrasts_leave_the_t1_t2_pd_arrays_unchanged():
    head = Head(subject_seeds(0, 0)[0], True)
    affine = np.diag([5.0, 5.0, 5.0, 1.0])
    affine[:3, 3] = -5.0 * 11.5

    def acquire(contrasts):
        rng = np.random.default_rng(1)
        return acquisition.simulate(
            head, (24, 24, 24), affine, rng, 0.03, 0.1, contrasts
        )

    _, old = acquire(("T1", "T2", "PD"))
    _, new = acquire(("T1", "T2", "PD", "FLAIR", "T1CE"))
    for contrast, volume in old.items():
        np.testing.assert_array_equal(volume, new[contrast])


@pytest.mark.parametrize("source, target", list(itertools.permutations(CONTRASTS, 2)))
def test_each_direction_shows_the_same_anatomy_at_each_pixel(
    brats_root, source, target
):
    signals = tissue_signals()
    one = SubjectSelection(subjects=["BraTS2021_00000"])
    source_slices, target_slices, info = load_brats_pairs(
        brats_root, SPEC, one, source=source, target=target
    )
    assert (info.source_contrasts, info.target_contrast) == ((source,), target)
    assert source_slices.shape == target_slices.shape
    assert source_slices.shape[1:] == (SIZE, SIZE, 1)
    assert source_slices.min() >= -1 and source_slices.max() <= 1
    labels = extract_slices(
        _labels(brats_root, 0), "axial", info.per_subject["BraTS2021_00000"]["slices"]
    )
    for slices, contrast in ((source_slices, source), (target_slices, target)):
        order = np.argsort(tissue_means(slices[..., 0], labels))
        expected = np.argsort(signals[PHYSICS[contrast]][list(TISSUES)])
        np.testing.assert_array_equal(order, expected, err_msg=contrast)
    brain = np.isin(labels, BRAIN)
    assert (source_slices[..., 0][~brain] == -1).all()  # background 0 -> -1
    ideal = signals[PHYSICS[target]][labels]
    aligned = np.corrcoef(target_slices[..., 0][brain], ideal[brain])[0, 1]
    shifted = np.roll(ideal, 2, axis=2)
    moved = np.corrcoef(target_slices[..., 0][brain], shifted[brain])[0, 1]
    assert aligned > 0.6 and aligned > moved + 0.1, (aligned, moved)


def test_several_sources_are_channels_in_the_order_given(brats_root):
    spec = SPEC.replace(context=1)
    both, flair, info = load_brats_pairs(
        brats_root, spec, source=("t2", "t1"), target="flair"
    )
    assert info.source_contrasts == ("t2", "t1")
    assert both.shape[-1] == 6 and flair.shape[-1] == 1
    t2, flair_again, _ = load_brats_pairs(brats_root, spec, source="t2", target="flair")
    np.testing.assert_array_equal(both[..., :3], t2)
    np.testing.assert_array_equal(flair, flair_again)
    t1, _, _ = load_brats_pairs(
        brats_root,
        spec.replace(slices=info.per_subject["BraTS2021_00000"]["slices"]),
        SubjectSelection(subjects=["BraTS2021_00000"]),
        source="t1",
        target="flair",
    )
    np.testing.assert_array_equal(both[: len(t1), :, :, 3:], t1)


def test_splits_are_subject_level(brats_root):
    parts = {
        split: load_brats_pairs(
            brats_root, SPEC, SubjectSelection(split=split, fractions=(2, 1, 1))
        ).info
        for split in ("train", "val", "test")
    }
    subjects = [set(info.subjects) for info in parts.values()]
    assert [len(s) for s in subjects] == [2, 1, 1]
    assert set.union(*subjects) == {f"BraTS2021_{i:05d}" for i in range(4)}
    assert sum(len(s) for s in subjects) == 4  # no subject on two sides
    assert all(info.selection.split == split for split, info in parts.items())


def test_a_subject_missing_a_contrast_is_left_out_with_a_warning(brats_root, tmp_path):
    shutil.copytree(brats_root, tmp_path / "brats", symlinks=True)
    (tmp_path / "brats" / "BraTS2021_00002" / "BraTS2021_00002_flair.nii.gz").unlink()
    report = list_brats_subjects(tmp_path / "brats")
    assert report.missing == {"BraTS2021_00002": ("flair",)}
    assert "BraTS2021_00002" not in report.subject_ids and len(report.subjects) == 3
    with pytest.warns(UserWarning, match="BraTS2021_00002: no flair"):
        _, _, info = load_brats_pairs(tmp_path / "brats", SPEC, target="flair")
    assert "BraTS2021_00002" not in info.subjects and len(info.subjects) == 3
    _, _, info = load_brats_pairs(tmp_path / "brats", SPEC)  # t1 -> t2: all there
    assert len(info.subjects) == 4


def test_nii_files_are_found_and_segmentations_ignored(brats_root, tmp_path):
    folder = tmp_path / "BraTS2021_00009"
    folder.mkdir()
    for contrast in ("t1", "t2", "seg"):
        image = nib.load(
            brats_root / "BraTS2021_00000" / f"BraTS2021_00000_{contrast}.nii.gz"
        )
        nib.save(image, folder / f"BraTS2021_00009_{contrast}.nii")
    report = list_brats_subjects(tmp_path, ("t1", "t2"))
    assert report.subject_ids == ["BraTS2021_00009"]
    assert report.subjects[0].paths["t1"].name == "BraTS2021_00009_t1.nii"


def test_errors_name_the_argument_and_what_was_expected(brats_root, tmp_path):
    with pytest.raises(DataError, match=r"`source` and `target`.*'t1', 't1ce'"):
        load_brats_pairs(brats_root, source="T1", target="t2")
    with pytest.raises(DataError, match="`target` must differ from the sources"):
        load_brats_pairs(brats_root, source=("t1", "t2"), target="t2")
    with pytest.raises(DataError, match=r"published.*IXI"):
        load_brats_pairs(brats_root, selection=SubjectSelection.published("train"))
    with pytest.raises(DataError, match="`contrasts`"):
        list_brats_subjects(brats_root, ("pd",))
    with pytest.raises(DatasetNotFoundError, match=r"under .*empty.*_t1\.nii\.gz"):
        load_brats_pairs(tmp_path / "empty")
    (tmp_path / "partial" / "a").mkdir(parents=True)
    shutil.copy(
        brats_root / "BraTS2021_00000" / "BraTS2021_00000_t1.nii.gz",
        tmp_path / "partial" / "a" / "a_t1.nii.gz",
    )
    with pytest.raises(DatasetNotFoundError, match=r"partial has all of t1/flair"):
        load_brats_pairs(tmp_path / "partial", target="flair")


def test_the_cache_is_reused_per_split_and_direction(brats_root, tmp_path, monkeypatch):
    spec = SPEC.replace(slices=range(12, 16))
    train = SubjectSelection(split="train", fractions=(2, 1, 1))
    source, target, info = load_brats_pairs(
        brats_root, spec, train, source=("t1", "t2"), target="flair", cache_dir=tmp_path
    )
    assert info.cache_dir.endswith("train-t1+t2-to-flair")

    def fail(*args, **kwargs):
        raise AssertionError("prepared again instead of read from the cache")

    monkeypatch.setattr(volume_pairs, "_prepare_pair", fail)
    again, target_again, info_again = load_brats_pairs(
        brats_root, spec, train, source=("t1", "t2"), target="flair", cache_dir=tmp_path
    )
    np.testing.assert_array_equal(again, source)
    np.testing.assert_array_equal(target_again, target)
    assert info_again.subjects == info.subjects


def test_brats_2023_names(tmp_path):
    paths = write_phantom_brats(
        tmp_path,
        2,
        shape=(32, 32, 24),
        contrasts=("t1", "flair"),
        suffixes=BRATS_2023_SUFFIXES,
    )
    assert [p.name for p in paths[:3]] == [
        "BraTS-GLI-00000-000-t1n.nii.gz",
        "BraTS-GLI-00000-000-t2f.nii.gz",
        "BraTS-GLI-00000-000-seg.nii.gz",
    ]
    assert set(np.unique(np.asarray(nib.load(paths[2]).dataobj))) <= {0, 3}
    t1, flair, info = load_brats_pairs(
        tmp_path,
        SliceSpec(image_size=32),
        source="t1",
        target="flair",
        suffixes=BRATS_2023_SUFFIXES,
    )
    assert t1.shape == flair.shape and t1.shape[1:] == (32, 32, 1)
    assert info.subjects == ["BraTS-GLI-00000-000", "BraTS-GLI-00001-000"]
    with pytest.raises(DatasetNotFoundError, match="BRATS_2023_SUFFIXES"):
        load_brats_pairs(tmp_path, source="t1", target="flair")
