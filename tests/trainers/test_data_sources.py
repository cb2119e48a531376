"""fit / evaluate / predict take every input pipeline Keras supports."""

import importlib.util

import keras
import numpy as np
import pytest
from conftest import BACKEND, tiny_pix2pix, toy_pairs


class PairSequence(keras.utils.PyDataset):
    def __init__(self, source, target, batch_size):
        super().__init__()
        self.source, self.target, self.batch_size = source, target, batch_size

    def __len__(self):
        return len(self.source) // self.batch_size

    def __getitem__(self, index):
        batch = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.source[batch], self.target[batch]


def _fit_and_check(model, data, steps, validation_data=None):
    model.compile()
    history = model.fit(data, epochs=2, validation_data=validation_data, verbose=0)
    assert int(model.optimizer.iterations) == 2 * steps
    assert all(np.isfinite(history.history["generator_loss"]))
    return history


def test_py_dataset():
    source, target = toy_pairs(count=8)
    model = tiny_pix2pix()
    history = _fit_and_check(
        model, PairSequence(source, target, 4), 2, PairSequence(source, target, 4)
    )
    assert "val_reconstruction_loss" in history.history
    results = model.evaluate(
        PairSequence(source, target, 4), verbose=0, return_dict=True
    )
    assert np.isfinite(results["discriminator_loss"])


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="tensorflow is not installed"
)
def test_tf_data_dataset():
    import tensorflow as tf

    source, target = toy_pairs(count=8)
    dataset = tf.data.Dataset.from_tensor_slices((source, target)).batch(4)
    model = tiny_pix2pix()
    _fit_and_check(model, dataset, 2)
    fake = model.predict(dataset.map(lambda s, t: s), verbose=0)
    assert fake.shape == source.shape


@pytest.mark.skipif(
    BACKEND != "torch", reason="torch DataLoader needs the torch backend"
)
def test_torch_data_loader():
    import torch

    source, target = toy_pairs(count=8)
    dataset = torch.utils.data.TensorDataset(torch.tensor(source), torch.tensor(target))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    model = tiny_pix2pix()
    _fit_and_check(model, loader, 2, validation_data=loader)
