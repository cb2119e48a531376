"""PyTorch's fused Adam kernel computes Keras's Adam update (torch backend)."""

import keras
import numpy as np
import pytest
from conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "torch", reason="torch backend only")

SHAPES = [(3, 3, 4, 8), (8,), (5, 7)]


def _variables(seed, torch_order=False):
    rng = np.random.default_rng(seed)
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    if torch_order:
        # A convolution kernel as `store_kernel_in_backend_order` keeps it:
        # same shape and values, memory in torch's channels-last order.
        value = variables[0].value
        value.data = value.data.permute(3, 0, 1, 2).contiguous().permute(1, 2, 3, 0)
    return variables


def _gradients(step):
    import torch

    rng = np.random.default_rng(100 + step)
    return [torch.tensor(rng.normal(size=s).astype("float32")) for s in SHAPES]


@pytest.mark.parametrize("ema", [False, True], ids=["", "ema"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "torch.compile"])
@pytest.mark.parametrize("torch_order", [False, True], ids=["keras", "torch"])
@pytest.mark.parametrize(
    "learning_rate",
    [2e-4, keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5)],
)
def test_the_fused_update_is_keras_adam(learning_rate, torch_order, compiled, ema):
    import torch

    from keras_pix2pix.trainers.torch_fused_adam import apply_adam, can_fuse

    update = apply_adam
    if compiled:  # called from a step compiled by `jit_compile=True`
        update = torch.compile(lambda *args: apply_adam(*args))

    optimizers, variables = [], []
    for is_fused in (False, True):
        optimizer = keras.optimizers.Adam(
            learning_rate, beta_1=0.5, epsilon=1e-3, use_ema=ema, ema_momentum=0.8
        )
        weights = _variables(0, torch_order=is_fused and torch_order)
        optimizer.build(weights)
        optimizers.append(optimizer)
        variables.append(weights)
    keras_adam, fused_adam = optimizers
    assert can_fuse(fused_adam, variables[1])
    for step in range(5):
        with torch.no_grad():
            keras_adam.apply(_gradients(step), variables[0])
            update(fused_adam, _gradients(step), variables[1])
    assert int(fused_adam.iterations.value) == int(keras_adam.iterations.value) == 5
    kernel = variables[1][0].value.permute(3, 2, 0, 1)
    assert kernel.is_contiguous(memory_format=torch.channels_last) == torch_order
    for expected, fused in zip(variables[0], variables[1], strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(fused),
            keras.ops.convert_to_numpy(expected),
            rtol=1e-5,
            atol=1e-6,
        )
    for expected, fused in zip(keras_adam.variables, fused_adam.variables, strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(fused),
            keras.ops.convert_to_numpy(expected),
            rtol=1e-5,
            atol=1e-7,
        )
    if ema:  # the averages moved away from the weights, as Keras's did
        average = keras.ops.convert_to_numpy(
            fused_adam._model_variables_moving_average[1]
        )
        weight = keras.ops.convert_to_numpy(variables[1][1])
        assert np.abs(average - weight).max() > 1e-5


@pytest.mark.parametrize(
    "optimizer",
    [
        keras.optimizers.Adam(clipnorm=1.0),
        keras.optimizers.Adam(global_clipnorm=1.0),
        keras.optimizers.Adam(amsgrad=True),
        keras.optimizers.Adam(weight_decay=0.01),
        keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=2),
        keras.optimizers.Adam(gradient_accumulation_steps=2),
        keras.optimizers.AdamW(),
        keras.optimizers.SGD(),
    ],
    ids=lambda o: type(o).__name__,
)
def test_other_optimizers_are_left_to_keras(optimizer):
    from keras_pix2pix.trainers.torch_fused_adam import can_fuse

    variables = _variables(0)
    optimizer.build(variables)
    assert not can_fuse(optimizer, variables)
