"""Tests of `SliceSpec` (how slices are cut) and `SliceInfo` (what was loaded)."""

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

from keras_pix2pix.datasets import (
    PairedSlices,
    SliceInfo,
    SliceSpec,
    SubjectSelection,
    ixi,
    slice_cache,
)
from keras_pix2pix.datasets.phantom import write_phantom_ixi
from keras_pix2pix.errors import DataError

FIELDS = [field.name for field in dataclasses.fields(SliceSpec)]
HAS_SITK = importlib.util.find_spec("SimpleITK") is not None

# Validation.

IMAGE_SIZE = "`image_size` must be a positive int, \\(height, width\\) or None"
CONTEXT = "`context` must be an int >= 0"
SLICES = "`slices` must be a non-empty sequence of indices >= 0"
FRACTION = "`brain_fraction` must be in \\(0, 1\\]"
PERCENTILES = "`low_percentile` and `high_percentile` must be numbers with 0 <= low"
ORDER = "`interpolation_order` must be an int from 0 to 5"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"plane": "transverse"}, "`plane` must be one of \\('axial'"),
        ({"image_size": 0}, IMAGE_SIZE),
        ({"image_size": (0, 5)}, IMAGE_SIZE),
        ({"image_size": True}, IMAGE_SIZE),
        ({"frame": "brain"}, "`frame` must be one of \\('grid', 'head'\\)"),
        ({"context": -1}, CONTEXT),
        ({"context": 1.5}, CONTEXT),
        ({"context": True}, CONTEXT),
        ({"slices": []}, SLICES),
        ({"slices": [-1]}, SLICES),
        ({"slices": "ab"}, "`slices` must be slice indices or None"),
        ({"brain_fraction": 0}, FRACTION),
        ({"brain_fraction": 1.5}, FRACTION),
        ({"low_percentile": 50, "high_percentile": 50}, PERCENTILES),
        ({"low_percentile": 60, "high_percentile": 40}, PERCENTILES),
        ({"high_percentile": 101}, PERCENTILES),
        ({"interpolation_order": 6}, ORDER),
        ({"interpolation_order": True}, ORDER),
        ({"bias_correction": "x"}, "`bias_correction` must be None or one of"),
    ],
)
def test_invalid_fields_raise_a_data_error_naming_them(fields, message):
    with pytest.raises(DataError, match=message) as raised:
        SliceSpec(**fields)
    assert isinstance(raised.value, ValueError)
    assert repr(next(iter(fields.values()))) in str(raised.value)


def test_defaults_and_stored_forms():
    spec = SliceSpec()
    assert spec.plane == "axial" and spec.frame == "grid"
    assert spec.image_size == (256, 256)
    assert spec.context == 0 and spec.slices is None
    assert (spec.brain_fraction, spec.low_percentile, spec.high_percentile) == (
        0.25,
        0.5,
        99.5,
    )
    assert spec.interpolation_order == 1 and spec.bias_correction is None
    assert SliceSpec(image_size=None).image_size is None
    assert SliceSpec(image_size=(256, 128)).image_size == (256, 128)
    assert SliceSpec(slices=range(3, 6)).slices == (3, 4, 5)
    assert SliceSpec(slices=np.array([7, 2])).slices == (7, 2)
    assert type(SliceSpec(context=np.int64(2)).context) is int


# Configs.


@pytest.mark.parametrize(
    "spec",
    [
        SliceSpec(),
        SliceSpec(image_size=(256, 128), frame="head", context=1),
        SliceSpec(image_size=None, slices=(90, 91, 95)),
        SliceSpec(
            plane="sagittal",
            image_size=64,
            slices=[4],
            brain_fraction=0.5,
            low_percentile=1,
            high_percentile=99,
            interpolation_order=3,
            bias_correction="both",
        ),
    ],
)
def test_config_round_trips_through_json(spec):
    config = spec.get_config()
    assert sorted(config) == sorted(FIELDS)
    text = json.dumps(config)
    again = SliceSpec.from_config(json.loads(text))
    assert again == spec and hash(again) == hash(spec)
    assert SliceSpec.from_config(config) == spec
    assert again.image_size == spec.image_size and again.slices == spec.slices
    if spec.image_size is not None:
        assert isinstance(again.image_size, tuple)
    if spec.slices is not None:
        assert isinstance(again.slices, tuple)
        assert config["slices"] == list(spec.slices)


def test_from_config_rejects_unknown_keys_and_non_dicts():
    config = {**SliceSpec().get_config(), "plain": "axial", "size": 4}
    with pytest.raises(
        DataError, match=r"Unknown SliceSpec field\(s\) \['plain', 'size'\]"
    ):
        SliceSpec.from_config(config)
    with pytest.raises(DataError, match="must be a dict"):
        SliceSpec.from_config([("plane", "axial")])
    with pytest.raises(DataError, match="`context` must be an int >= 0"):
        SliceSpec.from_config({"context": -2})
    assert SliceSpec.from_config({}) == SliceSpec()


# Immutability, replace, channels, equality.


def test_spec_is_frozen():
    spec = SliceSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.plane = "coronal"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.context = 2
    assert spec == SliceSpec()


def test_replace_validates_and_leaves_the_original():
    spec = SliceSpec(image_size=128)
    wider = spec.replace(context=2, slices=[5, 6])
    assert wider == SliceSpec(image_size=128, context=2, slices=(5, 6))
    assert spec.context == 0 and spec.slices is None
    with pytest.raises(DataError, match="`context` must be an int >= 0"):
        spec.replace(context=-1)
    with pytest.raises(DataError, match=IMAGE_SIZE):
        spec.replace(image_size=(0, 5))
    with pytest.raises(TypeError):
        spec.replace(size=3)


@pytest.mark.parametrize("context", [0, 1, 2, 5])
def test_channels_are_the_slice_and_its_neighbours(context):
    assert SliceSpec(context=context).channels == 2 * context + 1


def test_equal_specs_hash_equal():
    pairs = [
        (SliceSpec(image_size=128), SliceSpec(image_size=(128, 128))),
        (SliceSpec(slices=[3, 4]), SliceSpec(slices=(3, 4))),
        (SliceSpec(context=np.int64(1)), SliceSpec(context=1)),
        (SliceSpec(), SliceSpec.from_config(SliceSpec().get_config())),
    ]
    for first, second in pairs:
        assert first == second and hash(first) == hash(second)
    assert len({first for first, _ in pairs} | {s for _, s in pairs}) == 4
    assert SliceSpec(context=1) != SliceSpec(context=2)
    assert SliceSpec(slices=[3, 4]) != SliceSpec(slices=[4, 3])


# The slice cache's key.

BASE = SliceSpec(image_size=24)
# One change of each field; the phantom's canonical T1 grid is 16 x 24 x 24.
CHANGES = {
    "plane": "coronal",
    "image_size": (24, 20),
    "frame": "head",
    "context": 1,
    "slices": (10, 11),
    "brain_fraction": 0.5,
    "low_percentile": 1.0,
    "high_percentile": 99.0,
    "interpolation_order": 0,
    "bias_correction": "target",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ixi-spec")
    write_phantom_ixi(root, 2, shape=(24, 24, 16))
    return root


@pytest.fixture
def builds(monkeypatch):
    """The `SliceCache` of each `build_slice_cache` call the loaders make."""
    caches = []
    build = slice_cache.build_slice_cache

    def recording(*args, **kwargs):
        caches.append(build(*args, **kwargs))
        return caches[-1]

    monkeypatch.setattr(slice_cache, "build_slice_cache", recording)
    return caches


def test_every_field_has_a_change():
    assert sorted(CHANGES) == sorted(FIELDS)
    for field, value in CHANGES.items():
        assert BASE.replace(**{field: value}) != BASE


def test_the_same_spec_reuses_the_cache(root, tmp_path, builds):
    first = ixi.load_ixi_pairs(root, BASE, cache_dir=tmp_path)
    subjects = first.info.subjects
    assert len(subjects) == 2 and builds[-1].prepared == subjects
    assert isinstance(builds[-1], slice_cache.SliceCache)
    assert builds[-1].settings["spec"] == BASE.get_config()
    # An equal spec, made another way, is the same key.
    again = ixi.load_ixi_pairs(root, SliceSpec(image_size=(24, 24)), cache_dir=tmp_path)
    assert builds[-1].prepared == []
    assert again.info.cache_dir == first.info.cache_dir
    np.testing.assert_array_equal(again.source, first.source)


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(
            field,
            marks=pytest.mark.skipif(
                field == "bias_correction" and not HAS_SITK,
                reason="bias correction needs SimpleITK",
            ),
        )
        for field in FIELDS
    ],
)
def test_a_changed_field_prepares_the_cache_again(root, tmp_path, builds, field):
    changed = BASE.replace(**{field: CHANGES[field]})
    base = ixi.load_ixi_pairs(root, BASE, cache_dir=tmp_path)
    subjects = base.info.subjects
    assert builds[-1].prepared == subjects
    source, target, info = ixi.load_ixi_pairs(root, changed, cache_dir=tmp_path)
    assert builds[-1].prepared == subjects  # all prepared again
    assert info.cache_dir == base.info.cache_dir and info.spec == changed
    reopened = slice_cache.open_slice_cache(info.cache_dir)
    assert reopened.settings["spec"] == changed.get_config()
    np.testing.assert_array_equal(reopened.source, source)
    assert source.shape[1:] == (*changed.image_size, changed.channels)
    assert target.shape[1:] == (*changed.image_size, 1)
    # The same changed spec again: reused.
    ixi.load_ixi_pairs(root, changed, cache_dir=tmp_path)
    assert builds[-1].prepared == []
    # Back to the first spec: prepared again, the same arrays as at first.
    back = ixi.load_ixi_pairs(root, BASE, cache_dir=tmp_path)
    assert builds[-1].prepared == subjects
    np.testing.assert_array_equal(back.source, base.source)


# SliceInfo.


def test_slice_info_of_a_load(root):
    loaded = ixi.load_ixi_pairs(root, BASE.replace(context=1))
    assert isinstance(loaded, PairedSlices)
    source, target, info = loaded
    assert source is loaded.source and target is loaded.target
    assert info is loaded.info and isinstance(info, SliceInfo)
    assert info.spec == BASE.replace(context=1) and source.shape[-1] == 3
    assert info.pairing == "aligned" and info.selection == SubjectSelection()
    assert info.cache_dir is None and info.skipped == {}
    per_slice = info.slice_subjects()
    assert len(per_slice) == len(source) == len(target)
    counts = [len(info.per_subject[s]["slices"]) for s in info.subjects]
    pairs = zip(info.subjects, counts, strict=True)
    assert per_slice == [s for s, n in pairs for _ in range(n)]
    params = [info.per_subject[s]["target_normalization"] for s in info.subjects]
    normalization = info.target_normalization()
    assert normalization == {
        "method": "percentile",
        "low_percentile": 0.5,
        "high_percentile": 99.5,
        "lower": float(np.median([p["lower"] for p in params])),
        "upper": float(np.median([p["upper"] for p in params])),
        "subjects": 2,
    }
    json.dumps(normalization)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.subjects = []


def _info(lowers, uppers, slice_counts, spec=BASE):
    subjects = [f"s{i}" for i in range(len(lowers))]
    per_subject = {
        subject: {
            "slices": list(range(count)),
            "target_normalization": {
                "method": "percentile",
                "low_percentile": 2.0,
                "high_percentile": 98.0,
                "lower": lower,
                "upper": upper,
            },
        }
        for subject, lower, upper, count in zip(
            subjects, lowers, uppers, slice_counts, strict=True
        )
    }
    return SliceInfo("aligned", spec, subjects, per_subject)


def test_target_normalization_is_the_median_of_the_subjects():
    info = _info([1.0, 10.0, 2.0], [5.0, 100.0, 7.0], [3, 1, 2])
    assert info.slice_subjects() == ["s0", "s0", "s0", "s1", "s2", "s2"]
    normalization = info.target_normalization()
    assert normalization["lower"] == 2.0 and normalization["upper"] == 7.0
    assert normalization["method"] == "percentile"
    assert normalization["low_percentile"] == 2.0
    assert normalization["high_percentile"] == 98.0
    assert normalization["subjects"] == 3
    even = _info([1.0, 3.0], [10.0, 20.0], [1, 1]).target_normalization()
    assert (even["lower"], even["upper"]) == (2.0, 15.0)
    assert _info([1.0], [2.0], [1], spec=None).target_normalization() is None
    assert _info([], [], []).target_normalization() is None
    assert _info([], [], []).slice_subjects() == []
