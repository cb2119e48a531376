import keras
import numpy as np
import pytest

from keras_pix2pix.layers import (
    DownsampleBlock,
    ReflectionPadding2D,
    ResidualBlock,
    UpsampleBlock,
)
from keras_pix2pix.layers._kernel_layout import Conv2D

# (layer class, init kwargs, input shape, expected output shape)
CASES = [
    (DownsampleBlock, {"filters": 8}, (2, 16, 16, 3), (2, 8, 8, 8)),
    (DownsampleBlock, {"filters": 4, "norm": "instance"}, (2, 16, 16, 3), (2, 8, 8, 4)),
    (
        DownsampleBlock,
        {"filters": 4, "strides": 1, "padding": 1, "norm": None},
        (2, 10, 10, 3),
        (2, 9, 9, 4),
    ),
    (
        DownsampleBlock,
        {"filters": 4, "kernel_size": 7, "strides": 1, "padding": 3},
        (1, 12, 12, 2),
        (1, 12, 12, 4),
    ),
    (UpsampleBlock, {"filters": 6}, (2, 8, 8, 4), (2, 16, 16, 6)),
    (UpsampleBlock, {"filters": 6, "dropout": 0.5}, (2, 8, 8, 4), (2, 16, 16, 6)),
    (
        UpsampleBlock,
        {"filters": 3, "kernel_size": 3, "padding": 1, "norm": "instance"},
        (1, 5, 7, 4),
        (1, 10, 14, 3),
    ),
    (ResidualBlock, {"norm": "batch", "dropout": 0.5}, (2, 8, 8, 4), (2, 8, 8, 4)),
    (ReflectionPadding2D, {"padding": 2}, (2, 8, 8, 3), (2, 12, 12, 3)),
    (
        Conv2D,
        {"filters": 4, "kernel_size": 4, "padding": 1},
        (2, 9, 8, 3),
        (2, 8, 7, 4),
    ),
]


def _ids(case):
    return f"{case[0].__name__}-{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_config_round_trip(case):
    cls, kwargs, _, _ = case
    layer = cls(**kwargs)
    config = layer.get_config()
    restored = cls.from_config(config)
    assert restored.get_config() == config
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(clone) is cls


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_symbolic_and_eager_shapes(case):
    cls, kwargs, input_shape, output_shape = case
    layer = cls(**kwargs)
    symbolic = layer(keras.KerasTensor((None, *input_shape[1:])))
    assert tuple(symbolic.shape) == (None, *output_shape[1:])
    inputs = np.random.default_rng(0).normal(size=input_shape).astype("float32")
    outputs = keras.ops.convert_to_numpy(layer(inputs))
    assert outputs.shape == output_shape
    assert np.all(np.isfinite(outputs))


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_training_step_and_save_load(case, tmp_path):
    cls, kwargs, input_shape, output_shape = case
    inputs = keras.Input(input_shape[1:])
    model = keras.Model(inputs, cls(**kwargs)(inputs))
    x = np.random.default_rng(1).normal(size=input_shape).astype("float32")
    y = np.zeros(output_shape, "float32")
    model.compile(optimizer="sgd", loss="mse")
    kernels = [w for w in model.trainable_weights if "kernel" in w.path]
    before = [keras.ops.convert_to_numpy(w).copy() for w in kernels]
    model.fit(x, y, epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in kernels]
    assert all(not np.allclose(b, a) for b, a in zip(before, after, strict=True))
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        atol=1e-6,
    )


def test_downsample_block_follows_reference_bias_rule():
    assert not DownsampleBlock(4, norm="batch").conv.use_bias
    assert DownsampleBlock(4, norm="instance").conv.use_bias
    assert DownsampleBlock(4, norm=None).conv.use_bias
    assert DownsampleBlock(4, norm="batch", use_bias=True).conv.use_bias


@pytest.mark.parametrize("strides", [1, 2])
def test_conv_integer_padding_is_zero_padding_then_valid(strides):
    x = np.random.default_rng(0).normal(size=(2, 9, 8, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    padded = Conv2D(4, 4, strides, 2, use_bias=True)  # Keras's positional order
    outputs = keras.ops.convert_to_numpy(padded(x))
    valid = keras.layers.Conv2D(4, 4, strides=strides)
    valid.build((None, 13, 12, 3))
    valid.set_weights(padded.get_weights())
    expected = valid(keras.layers.ZeroPadding2D(2)(x))
    np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(expected), atol=1e-5)
    assert padded.compute_output_shape((None, 9, 8, 3)) == (None, *outputs.shape[1:])
    assert padded.get_config()["padding"] == 2
    with pytest.raises(ValueError, match="padding=-1"):
        Conv2D(4, 3, padding=-1)


def test_reflection_padding_reflects():
    x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    padded = keras.ops.convert_to_numpy(ReflectionPadding2D(1)(x))[0, :, :, 0]
    np.testing.assert_array_equal(padded, np.pad(x[0, :, :, 0], 1, mode="reflect"))


def test_upsample_integer_padding_matches_pytorch_convention():
    # PyTorch ConvTranspose2d(k=3, s=2, padding=1, output_padding=1) keeps rows
    # 1..2n of the full transposed convolution: check with a one-hot input.
    block = UpsampleBlock(1, kernel_size=3, padding=1, norm=None, activation=None)
    x = np.zeros((1, 2, 2, 1), "float32")
    x[0, 0, 0, 0] = 1.0
    block.build(x.shape)
    kernel = np.arange(1, 10, dtype="float32").reshape(3, 3, 1, 1)
    block.conv.kernel.assign(kernel)
    out = keras.ops.convert_to_numpy(block(x))[0, :, :, 0]
    # The full output places the kernel at rows/cols 0..2; cropping one leading
    # row and column leaves the kernel's rows/cols 1..2 at the top-left.
    full = np.zeros((5, 5), "float32")
    full[:3, :3] = kernel[:, :, 0, 0]
    np.testing.assert_allclose(out, full[1:5, 1:5])


@pytest.mark.parametrize(
    "make",
    [
        lambda: DownsampleBlock(4, norm="group"),
        lambda: DownsampleBlock(4, activation="gelu"),
        lambda: DownsampleBlock(4, padding=1, padding_mode="circular"),
        lambda: UpsampleBlock(4, dropout=1.5),
        lambda: UpsampleBlock(4, padding=3),
        lambda: ReflectionPadding2D(-1),
        lambda: ResidualBlock(dropout=-0.1),
    ],
)
def test_bad_arguments_are_rejected(make):
    with pytest.raises(ValueError):
        make()
