"""SubjectSelection: validation, selection and config round trip."""

import json

import pytest

from keras_pix2pix.datasets import SubjectSelection
from keras_pix2pix.errors import DataError

IDS = [f"IXI{n:03d}-Guys-{n:04d}" for n in range(2, 62)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "training"}, "`split` must be None or one of"),
        ({"seed": 1.5}, "`seed` must be an int"),
        ({"fractions": (0.5, 0.5)}, "three non-negative"),
        ({"fractions": (0.8, 0.1, 0.2)}, "add up to 1"),
        ({"fractions": "abc"}, "three non-negative"),
        ({"subjects": []}, "`subjects` is empty"),
        ({"protocol": "syndiff"}, "`protocol` must be None"),
        ({"protocol": "published", "subjects": ["a"]}, "fixes the subjects"),
    ],
)
def test_invalid_selections(kwargs, message):
    with pytest.raises(DataError, match=message):
        SubjectSelection(**kwargs)


def test_splits_partition_the_subjects_reproducibly():
    splits = ("train", "val", "test")
    parts = {s: SubjectSelection(split=s, seed=4).select(IDS) for s in splits}
    assert [len(parts[s]) for s in splits] == [48, 6, 6]
    assert sorted(i for s in splits for i in parts[s]) == sorted(IDS)
    assert SubjectSelection(split="val", seed=4).select(reversed(IDS)) == parts["val"]
    assert SubjectSelection(split="val", seed=5).select(IDS) != parts["val"]
    assert SubjectSelection().select(IDS) == sorted(IDS)


def test_explicit_subjects_and_a_split_of_them():
    chosen = IDS[:10]
    assert SubjectSelection(subjects=reversed(chosen)).select(IDS) == chosen
    test = SubjectSelection(split="test", subjects=chosen).select(IDS)
    assert len(test) == 1 and test[0] in chosen
    with pytest.raises(DataError, match="Unknown or incomplete"):
        SubjectSelection(subjects=["IXI999"]).select(IDS)
    with pytest.raises(DataError, match="is empty"):
        SubjectSelection(split="val", fractions=(2, 0, 0)).select(IDS)


def test_published_protocol():
    parts = {
        split: SubjectSelection.published(split).select(IDS)
        for split in ("train", "val", "test")
    }
    assert parts["train"] == sorted(IDS)[:25]
    assert parts["test"] == sorted(IDS)[30:40]
    assert SubjectSelection.published().select(IDS) == sorted(IDS)[:40]
    with pytest.raises(DataError, match="first 40"):
        SubjectSelection.published().select(IDS[:39])


def test_config_round_trip():
    for selection in (
        SubjectSelection(split="test", seed=3, fractions=(25, 5, 10)),
        SubjectSelection(subjects=["b", "a"]),
        SubjectSelection.published("val"),
    ):
        config = json.loads(json.dumps(selection.get_config()))
        assert SubjectSelection.from_config(config) == selection
