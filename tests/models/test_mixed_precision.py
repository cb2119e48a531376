"""Training under Keras's mixed-precision dtype policies, on every backend."""

import keras
import numpy as np
import pytest
from conftest import BACKEND, tiny_pix2pix, toy_pairs, weights_of

from keras_pix2pix.trainers.loss_scaling import next_loss_scale

POLICIES = ["mixed_bfloat16", "mixed_float16"]


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_dtype_policy(request.param)
    yield request.param
    keras.mixed_precision.set_dtype_policy("float32")


def _mixed_pix2pix():
    model = tiny_pix2pix(size=16, filters=4, depth=2)
    model.compile(
        keras.optimizers.Adam(2e-3, beta_1=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    return model


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_loss_falls_with_float32_variables_and_outputs(policy, tmp_path):
    model = _mixed_pix2pix()
    compute_dtype = policy.removeprefix("mixed_")
    assert model.generator.get_layer("down_1").compute_dtype == compute_dtype
    source, target = toy_pairs(count=8, size=16)
    history = model.fit(source, target, batch_size=4, epochs=12, verbose=0)

    losses = history.history
    assert all(np.isfinite(losses[name]).all() for name in losses), losses
    assert losses["reconstruction_loss"][-1] < 0.9 * losses["reconstruction_loss"][0]
    assert {v.dtype for v in model.weights} == {"float32"}
    fake = model.predict(source, verbose=0)
    assert fake.dtype == np.float32 and np.isfinite(fake).all()
    scaler = model.optimizer
    if policy == "mixed_float16":
        # float16 overflows with the initial scale, 2**15: the first steps
        # are skipped and the scale halved until the gradients are finite.
        assert isinstance(scaler, keras.optimizers.LossScaleOptimizer)
        scale = float(keras.ops.convert_to_numpy(scaler.dynamic_scale))
        assert 1.0 <= scale < 2.0**15
        steps = int(keras.ops.convert_to_numpy(scaler.iterations))
        updates = int(keras.ops.convert_to_numpy(model.generator_optimizer.iterations))
        assert steps == 24 and 0 < updates < steps
    else:
        assert not isinstance(scaler, keras.optimizers.LossScaleOptimizer)

    path = tmp_path / "mixed.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    for saved, loaded in zip(weights_of(model), weights_of(restored), strict=True):
        np.testing.assert_array_equal(saved, loaded)
    assert restored.generator.get_layer("down_1").compute_dtype == compute_dtype
    for saved, loaded in zip(
        model.optimizer.variables, restored.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(saved), keras.ops.convert_to_numpy(loaded)
        )
    np.testing.assert_array_equal(restored.predict(source, verbose=0), fake)


class _Scaler:
    dynamic_growth_steps = 3


@pytest.mark.parametrize(
    ("counter", "finite", "expected"),
    [
        (0, True, (1, 8.0)),
        (1, True, (2, 8.0)),
        (2, True, (0, 16.0)),  # `dynamic_growth_steps` finite steps: doubled.
        (2, False, (0, 4.0)),  # Non-finite gradients: halved.
    ],
)
def test_loss_scale_grows_and_shrinks_like_keras(counter, finite, expected):
    counter, scale = next_loss_scale(
        _Scaler(),
        keras.ops.convert_to_tensor(counter, "int32"),
        keras.ops.convert_to_tensor(8.0),
        keras.ops.convert_to_tensor(finite),
    )
    assert (int(counter), float(scale)) == expected


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_float16_under_a_tf_distribute_strategy_is_refused(policy):
    import tensorflow as tf

    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        model = _mixed_pix2pix()
    with pytest.raises(NotImplementedError, match="mixed_bfloat16"):
        model.fit(*toy_pairs(count=4, size=16), batch_size=4, verbose=0)
