"""Normalization JSON files and the run folders of older versions."""

import json
import pathlib
import shutil

import pytest
from conftest import BACKEND

from keras_pix2pix.cli import main
from keras_pix2pix.errors import DataError
from keras_pix2pix.run_folders import read_normalization, read_run_contract

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
PARAMETERS = {"lower": 10.0, "upper": 90.0}


@pytest.mark.parametrize(
    "content", [PARAMETERS, {"target_normalization": PARAMETERS, "other": 1}]
)
def test_reads_the_parameters_alone_or_in_an_entry(tmp_path, content):
    path = tmp_path / "normalization.json"
    path.write_text(json.dumps(content))
    assert read_normalization(path) == PARAMETERS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "Cannot read"),
        ("{not json", "Cannot read"),
        ('{"lower": 1.0}', "must hold 'lower' and 'upper'"),
        ('{"target_normalization": [1, 2]}', "must hold 'lower' and 'upper'"),
        ("[1, 2]", "must hold 'lower' and 'upper'"),
    ],
)
def test_unusable_files_name_the_file_and_what_it_must_hold(tmp_path, text, message):
    path = tmp_path / "normalization.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=message) as error:
        read_normalization(path)
    assert str(path) in str(error.value)


def test_a_run_folder_without_its_files_gives_nothing(tmp_path):
    assert read_run_contract(tmp_path / "model.keras", channels=1) == (None, None)


def test_a_run_folder_reads_its_normalization_file(tmp_path):
    (tmp_path / "normalization.json").write_text(json.dumps(PARAMETERS))
    assert read_run_contract(tmp_path / "model.keras", 1) == (None, PARAMETERS)
    (tmp_path / "normalization.json").write_text('{"upper": 1.0}')
    with pytest.raises(DataError, match="must hold 'lower' and 'upper'"):
        read_run_contract(tmp_path / "model.keras", 1)


def test_synthesize_names_the_option_and_the_file_at_fault(tmp_path, capsys):
    model = tmp_path / "model.keras"
    shutil.copy(FIXTURES / f"tiny_pix2pix_{BACKEND}.keras", model)
    source = tmp_path / "t1.nii.gz"
    source.write_bytes(b"")  # never read: the options fail first
    normalization = tmp_path / "norm.json"
    normalization.write_text('{"lower": 0.0}')
    args = ["synthesize", "--model", str(model), "--input", str(source)]
    with pytest.raises(SystemExit) as error:
        main([*args, "--output", str(tmp_path / "out.nii.gz"),
              "--normalization", str(normalization)])  # fmt: skip
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert f"--normalization: {normalization} must hold 'lower' and 'upper'" in message
