"""What `import keras_pix2pix` loads, in fresh processes."""

import os
import subprocess
import sys

import numpy as np
from conftest import BACKEND, tiny_pix2pix, toy_pairs


def _run(code):
    env = {**os.environ, "KERAS_BACKEND": BACKEND}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_package_alone_does_not_import_keras():
    # So that the command-line tool can still choose the backend.
    assert _run("import sys, keras_pix2pix; print('keras' in sys.modules)") == (
        "False\n"
    )


def test_a_saved_model_loads_after_importing_keras_then_the_package(tmp_path):
    model = tiny_pix2pix()
    source, _ = toy_pairs(count=2)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "source.npy", source)
    np.save(tmp_path / "expected.npy", model.predict(source, verbose=0))
    # No class of the library is named: the bare package import registers them.
    _run(
        "import keras, numpy as np\n"
        "import keras_pix2pix\n"
        f"model = keras.saving.load_model({str(path)!r})\n"
        f"source = np.load({str(tmp_path / 'source.npy')!r})\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "np.testing.assert_allclose(model.predict(source, verbose=0), expected,"
        " atol=1e-5)\n"
    )
