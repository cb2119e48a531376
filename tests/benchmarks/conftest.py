"""The benchmark scripts, loaded as modules for their tests."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quality():
    """`benchmarks/quality.py` as a module."""
    spec = importlib.util.spec_from_file_location(
        "quality", ROOT / "benchmarks" / "quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
