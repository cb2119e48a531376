"""`keras.utils.set_random_seed` plus the same data gives the same weights."""

import keras
import numpy as np
from conftest import tiny_pix2pix, toy_pairs, weights_of


def _train(seed):
    keras.utils.set_random_seed(seed)
    # Depth 6 has a dropout block, so the dropout masks are covered too.
    model = tiny_pix2pix(size=64, filters=4, depth=6)
    model.compile()
    source, target = toy_pairs(count=8, size=64)
    model.fit(source, target, batch_size=4, epochs=2, shuffle=True, verbose=0)
    return weights_of(model)


def test_same_seed_same_weights_after_training():
    first, second = _train(7), _train(7)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = _train(8)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
