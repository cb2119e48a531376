"""Marks shared by the test modules."""

import keras
import pytest

# Tests of minutes whose subject does not depend on the backend: the benchmark
# scripts' short training runs (the library's training is tested on every
# backend elsewhere) and data preparation of full-size real volumes. They run
# once, in the PyTorch session, where they are fastest, so that the three-backend
# CI run stays within its time.
once = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent and minutes long: run once, on the PyTorch backend",
)
