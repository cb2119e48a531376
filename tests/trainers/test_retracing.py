"""`fit` traces the train and test steps once per batch shape, not per step.

A Python side effect in `train_step` runs only while the step is traced
(TensorFlow's `tf.function`, JAX's `jax.jit`), so counting its calls counts
the traces. On PyTorch, `jit_compile="auto"` is Keras's eager mode: nothing is
traced and the step runs as Python once per batch.
"""

import pytest
from conftest import BACKEND, tiny_pix2pix, toy_pairs


def _count_traces(model):
    counts = {"train": 0, "test": 0}
    train_step, test_step = model.train_step, model.test_step

    def counted_train_step(*args):
        counts["train"] += 1
        return train_step(*args)

    def counted_test_step(*args):
        counts["test"] += 1
        return test_step(*args)

    model.train_step, model.test_step = counted_train_step, counted_test_step
    return counts


@pytest.mark.skipif(
    BACKEND == "torch", reason="PyTorch runs eagerly with jit_compile='auto'"
)
def test_fit_traces_each_step_once_per_batch_shape():
    model = tiny_pix2pix(size=16, filters=4, depth=2)
    model.compile()
    counts = _count_traces(model)
    source, target = toy_pairs(count=10, size=16)
    validation_data = toy_pairs(count=4, size=16, seed=1)
    model.fit(
        source[:8],
        target[:8],
        batch_size=4,
        epochs=3,
        validation_data=validation_data,
        verbose=0,
    )
    assert counts == {"train": 1, "test": 1}
    # A last partial batch has another shape, traced once more and then
    # reused every epoch: `jax.jit` compiles per shape; on TensorFlow the new
    # dataset's batch dimension is unknown (it would have been traced once
    # had the first `fit` had a partial batch too).
    model.fit(source, target, batch_size=4, epochs=2, verbose=0)
    assert counts == {"train": 2, "test": 1}
    model.fit(source, target, batch_size=4, epochs=1, verbose=0)
    model.evaluate(*validation_data, batch_size=4, verbose=0)
    assert counts == {"train": 2, "test": 1}


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch's eager default")
def test_torch_runs_the_python_step_for_every_batch():
    model = tiny_pix2pix(size=16, filters=4, depth=2)
    model.compile()
    counts = _count_traces(model)
    model.fit(*toy_pairs(count=10, size=16), batch_size=4, epochs=2, verbose=0)
    assert model.jit_compile is False
    assert counts == {"train": 6, "test": 0}
