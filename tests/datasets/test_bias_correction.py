"""Tests of the N4 bias field correction and of its place in the pairing."""

import pathlib

import nibabel as nib
import numpy as np
import pytest

from keras_pix2pix.datasets import SliceSpec, ixi, nifti, slice_pairs, volume_pairs
from keras_pix2pix.datasets.phantom import make_phantom_volume
from keras_pix2pix.errors import DataError

pytest.importorskip("SimpleITK", reason="bias correction needs SimpleITK")

from keras_pix2pix.datasets.bias_correction import correct_bias

REAL = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL_ID = "IXI002-Guys-0828"
WHITE_MATTER = 5  # the phantom's label


@pytest.fixture(scope="module")
def phantoms():
    """One phantom head with a strong bias field, and the same head without."""
    biased = make_phantom_volume((64, 64, 48), seed=1, bias_strength=0.3)
    clean = make_phantom_volume((64, 64, 48), seed=1, bias_strength=0.0)
    return biased, clean


def _variation(values):
    return float(values.std() / values.mean())


@pytest.mark.parametrize("contrast", ["t1", "t2"])
def test_correct_bias_removes_a_known_field(phantoms, contrast):
    biased, clean = phantoms
    image = nib.Nifti1Image(getattr(biased, contrast), biased.affine)
    corrected, report = correct_bias(image, shrink=2)
    assert np.asarray(corrected.dataobj).dtype == np.float32
    np.testing.assert_array_equal(corrected.affine, biased.affine)
    # What is left of the field: the corrected image over the bias-free one,
    # which varies only by the field, up to a constant gain.
    white = biased.labels == WHITE_MATTER
    reference = getattr(clean, contrast)[white]
    before = _variation(getattr(biased, contrast)[white] / reference)
    after = _variation(np.asarray(corrected.dataobj)[white] / reference)
    assert before > 0.1
    assert after < 0.35 * before
    assert report["method"] == "n4" and report["shrink"] == 2
    low, high = report["field_range"]
    assert 0 < low < 1 < high
    assert report["iterations"] == [50, 50, 50, 50] and report["seconds"] > 0


def test_correct_bias_leaves_an_empty_background_empty(phantoms):
    biased, _ = phantoms
    head = biased.labels > 0
    data = np.where(head, biased.t1, 0).astype(np.float32)
    corrected, _ = correct_bias(nib.Nifti1Image(data, biased.affine), shrink=2)
    corrected = np.asarray(corrected.dataobj)
    assert np.all(corrected[~head] == 0)
    assert np.all(corrected[head & (data > 0)] > 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shrink": 0}, "`shrink` must be a positive int"),
        ({"shrink": 1.5}, "`shrink` must be a positive int"),
        ({"iterations": ()}, "`iterations` must be a non-empty"),
        ({"iterations": (50, 0)}, "`iterations` must be a non-empty"),
        ({"convergence": 0}, "`convergence` must be > 0"),
        ({"mask": np.ones((2, 2, 2), bool)}, r"mask has shape \(2, 2, 2\)"),
        ({"mask": np.zeros((16, 16, 8), bool)}, "selects no voxel"),
    ],
)
def test_correct_bias_rejects_bad_arguments(kwargs, message):
    image = nib.Nifti1Image(np.ones((16, 16, 8), np.float32), np.eye(4))
    with pytest.raises(DataError, match=message):
        correct_bias(image, **kwargs)


def test_correct_bias_says_when_the_volume_is_too_small_for_the_shrink():
    image = nib.Nifti1Image(np.ones((6, 6, 6), np.float32), np.eye(4))
    with pytest.raises(DataError, match=r"the \(6, 6, 6\) volume shrunk 4x"):
        correct_bias(image)


def test_correct_bias_rejects_a_4d_image():
    image = nib.Nifti1Image(np.ones((4, 4, 4, 2), np.float32), np.eye(4))
    with pytest.raises(DataError, match="3-D"):
        correct_bias(image)


@pytest.fixture(scope="module")
def pair():
    """A biased phantom pair as in-memory images on one grid."""
    phantom = make_phantom_volume((48, 48, 32), seed=2, bias_strength=0.3)
    return (
        nib.Nifti1Image(phantom.t1, phantom.affine),
        nib.Nifti1Image(phantom.t2, phantom.affine),
    )


def test_paired_volume_slices_corrects_the_volumes_asked_for(pair):
    spec = SliceSpec(image_size=48)
    plain = slice_pairs.paired_volume_slices(*pair, spec)
    source_only = slice_pairs.paired_volume_slices(
        *pair, spec.replace(bias_correction="source")
    )
    both = slice_pairs.paired_volume_slices(*pair, spec.replace(bias_correction="both"))
    assert "bias_correction" not in plain[2]
    assert set(source_only[2]["bias_correction"]) == {"source"}
    assert set(both[2]["bias_correction"]) == {"source", "target"}
    assert both[2]["bias_correction"]["target"]["method"] == "n4"
    # The target of "source" is the plain one; the corrected sources differ.
    np.testing.assert_array_equal(source_only[1], plain[1])
    np.testing.assert_array_equal(source_only[0], both[0])
    assert np.abs(both[0] - plain[0]).mean() > 0.01
    assert np.abs(both[1] - plain[1]).mean() > 0.01
    target_only = slice_pairs.paired_volume_slices(
        *pair, spec.replace(bias_correction="target")
    )
    np.testing.assert_array_equal(target_only[0], plain[0])
    np.testing.assert_array_equal(target_only[1], both[1])


def test_slice_spec_rejects_an_unknown_bias_correction():
    with pytest.raises(DataError, match="`bias_correction` must be None or one of"):
        SliceSpec(bias_correction="n4")


def test_load_paired_volumes_caches_each_bias_correction_apart(pair, tmp_path):
    paths = []
    for name, image in zip(("t1", "t2"), pair, strict=True):
        paths.append(tmp_path / f"{name}.nii.gz")
        nib.save(image, paths[-1])
    cache_dir = tmp_path / "cache"
    spec = SliceSpec(image_size=48)
    corrects = spec.replace(bias_correction="both")
    plain, _, _ = volume_pairs.load_paired_volumes([paths], spec, cache_dir=cache_dir)
    corrected, _, info = volume_pairs.load_paired_volumes(
        [paths], corrects, cache_dir=cache_dir
    )
    (details,) = info.per_subject.values()
    assert set(details["bias_correction"]) == {"source", "target"}
    assert info.spec.bias_correction == "both"
    assert np.abs(np.asarray(corrected) - np.asarray(plain)).mean() > 0.01
    again, _, _ = volume_pairs.load_paired_volumes(
        [paths], corrects, cache_dir=cache_dir
    )
    np.testing.assert_array_equal(again, corrected)
    with pytest.raises(DataError, match="bias_correction"):
        spec.replace(bias_correction="T1")


def test_the_paper_pairing_takes_no_bias_correction(tmp_path):
    with pytest.raises(
        DataError, match=r"only `image_size` applies.*bias_correction='both'"
    ):
        ixi.load_ixi_pairs(tmp_path, SliceSpec(bias_correction="both"), pairing="paper")


@pytest.mark.skipif(
    not (REAL / "ixi").is_dir(), reason=f"real IXI subject not found at {REAL / 'ixi'}"
)
def test_real_t1_white_matter_is_level_after_correction():
    # Before: the brightest 30% of the brain (white matter) is 3% darker in
    # axial slice 178 (near the top) than in slice 150; after: within 0.1%.
    t1 = nifti.to_canonical(nifti.load_volume(REAL / "ixi" / f"{REAL_ID}-T1.nii.gz"))
    path = REAL / "ixi-brainmasks" / f"{REAL_ID}-T1-brainmask.nii.gz"
    brain = np.asarray(nifti.to_canonical(nib.load(path)).dataobj) > 0
    corrected, report = correct_bias(t1)
    gaps = []
    for volume in (t1.get_fdata(), corrected.get_fdata()):
        white = brain & (volume > np.percentile(volume[brain], 70))
        top, middle = (np.median(volume[..., z][white[..., z]]) for z in (178, 150))
        gaps.append(abs(1 - top / middle))
    assert gaps[0] > 0.02
    assert gaps[1] < 0.25 * gaps[0]
    low, high = report["field_range"]
    assert high / low > 1.1
