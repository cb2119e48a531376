"""`.keras` files saved on each backend load and predict the same here."""

import pathlib

import keras
import numpy as np
import pytest

from keras_pix2pix import Pix2Pix
from keras_pix2pix.models import PriorResidualGenerator

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("kind", ["pix2pix", "prior_residual"])
@pytest.mark.parametrize("saved_on", ["tensorflow", "torch", "jax"])
def test_model_saved_on_another_backend_loads_predicts_and_trains(saved_on, kind):
    path = FIXTURES / f"tiny_{kind}_{saved_on}.keras"
    data = np.load(FIXTURES / f"tiny_{kind}_{saved_on}.npz", allow_pickle=False)
    model = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(model, Pix2Pix)
    if kind == "prior_residual":
        assert isinstance(model.generator, PriorResidualGenerator)
    assert type(model.reconstruction_loss) is keras.losses.MeanSquaredError
    assert int(model.optimizer.iterations) == 2
    assert int(model.discriminator_optimizer.iterations) == 2
    np.testing.assert_allclose(
        model.predict(data["source"], verbose=0), data["prediction"], atol=1e-4
    )
    history = model.fit(data["source"], data["target"], batch_size=2, verbose=0)
    assert np.isfinite(history.history["generator_loss"][0])
    assert int(model.optimizer.iterations) == 4
