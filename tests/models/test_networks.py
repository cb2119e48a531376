"""Generators and discriminators: shapes, reference parameter counts, init."""

import keras
import numpy as np
import pytest

from keras_pix2pix.models import (
    PatchGANDiscriminator,
    PixelDiscriminator,
    ResNetGenerator,
    UNetGenerator,
)

# Trainable parameter counts of the reference networks, printed by the plain
# PyTorch re-implementation in benchmarks/reference_pytorch.py.
REFERENCE_COUNTS = {
    "unet_256 3->3": 54_413_955,
    "unet_256 1->1": 54_407_809,
    "unet_128 3->3": 41_828_995,
    "resnet_9blocks 3->3": 11_383_427,
    "resnet_6blocks 3->3": 7_841_411,
    "patchgan n_layers=1, 6 ch": 139_585,
    "patchgan n_layers=2, 6 ch": 666_433,
    "patchgan n_layers=3, 6 ch": 2_768_705,
    "patchgan n_layers=4, 6 ch": 6_964_033,
    "patchgan n_layers=5, 6 ch": 11_159_361,
    "patchgan n_layers=3, 2 ch": 2_764_609,
    "pixel, 6 ch": 9_024,
}


def trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.parametrize(
    "name, make",
    [
        ("unet_256 3->3", lambda: UNetGenerator()),
        ("unet_256 1->1", lambda: UNetGenerator(input_shape=(256, 256, 1))),
        (
            "unet_128 3->3",
            lambda: UNetGenerator(input_shape=(128, 128, 3), num_downsampling_blocks=7),
        ),
        ("resnet_9blocks 3->3", lambda: ResNetGenerator()),
        ("resnet_6blocks 3->3", lambda: ResNetGenerator(num_residual_blocks=6)),
        ("patchgan n_layers=3, 6 ch", lambda: PatchGANDiscriminator()),
        (
            "patchgan n_layers=3, 2 ch",
            lambda: PatchGANDiscriminator(input_shape=(256, 256, 1)),
        ),
        *[
            (
                f"patchgan n_layers={n}, 6 ch",
                lambda n=n: PatchGANDiscriminator(num_layers=n),
            )
            for n in (1, 2, 4, 5)
        ],
        ("pixel, 6 ch", lambda: PixelDiscriminator(input_shape=(16, 16, 3))),
    ],
)
def test_parameter_counts_equal_the_reference(name, make):
    assert trainable_count(make()) == REFERENCE_COUNTS[name]


def test_default_networks_have_reference_shapes():
    generator = UNetGenerator()
    discriminator = PatchGANDiscriminator()
    assert generator.output_shape == (None, 256, 256, 3)
    assert discriminator.output_shape == (None, 30, 30, 1)
    assert discriminator.receptive_field == 70
    assert [PatchGANDiscriminator(num_layers=n).receptive_field for n in (1, 2)] == [
        16,
        34,
    ]


def test_unet_follows_reference_layout():
    generator = UNetGenerator()
    downs = [generator.get_layer(f"down_{i}") for i in range(1, 9)]
    assert [block.filters for block in downs] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert [block.norm for block in downs] == [None] + ["batch"] * 6 + [None]
    assert [block.activation for block in downs] == ["leaky_relu"] * 7 + [None]
    ups = [generator.get_layer(f"up_{i}") for i in range(1, 8)]
    assert [block.filters for block in ups] == [512, 512, 512, 512, 256, 128, 64]
    assert [block.dropout for block in ups] == [0.0, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0]
    # With BatchNorm only the outermost up-sampling convolution has a bias.
    convs = [
        layer
        for layer in generator._flatten_layers()
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
    ]
    assert [conv.name for conv in convs if conv.use_bias] == ["conv_transpose"]
    assert sum(conv.use_bias for conv in convs) == 1
    assert generator.get_layer("output_conv").conv.use_bias


def test_instance_norm_has_biases_and_no_norm_parameters():
    generator = UNetGenerator(
        input_shape=(32, 32, 1), filters=4, num_downsampling_blocks=5, norm="instance"
    )
    convs = [
        layer
        for layer in generator._flatten_layers()
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
    ]
    assert all(conv.use_bias for conv in convs)
    assert not generator.non_trainable_variables
    assert all("kernel" in v.path or "bias" in v.path for v in generator.weights)


def test_weights_are_initialised_like_the_reference():
    generator = UNetGenerator(input_shape=(64, 64, 3), num_downsampling_blocks=6)
    kernels = np.concatenate(
        [
            keras.ops.convert_to_numpy(v).ravel()
            for v in generator.weights
            if "kernel" in v.path
        ]
    )
    assert abs(kernels.mean()) < 1e-3
    assert kernels.std() == pytest.approx(0.02, rel=0.02)
    gammas = np.concatenate(
        [
            keras.ops.convert_to_numpy(v).ravel()
            for v in generator.weights
            if "gamma" in v.path
        ]
    )
    assert gammas.mean() == pytest.approx(1.0, abs=5e-3)
    assert gammas.std() == pytest.approx(0.02, rel=0.1)
    biases = [
        keras.ops.convert_to_numpy(v) for v in generator.weights if "bias" in v.path
    ]
    assert all(np.all(b == 0) for b in biases)


@pytest.mark.parametrize(
    "size, channels, output_channels", [(32, 1, 1), (64, 3, 1), (32, 2, 3)]
)
def test_generator_shapes_and_range(size, channels, output_channels):
    generator = UNetGenerator(
        input_shape=(size, size, channels),
        output_channels=output_channels,
        filters=4,
        num_downsampling_blocks=5,
    )
    x = (
        np.random.default_rng(0)
        .normal(size=(2, size, size, channels))
        .astype("float32")
    )
    y = keras.ops.convert_to_numpy(generator(x))
    assert y.shape == (2, size, size, output_channels)
    assert np.all(np.abs(y) <= 1.0)


def test_non_square_images():
    generator = UNetGenerator(
        input_shape=(64, 32, 1), filters=4, num_downsampling_blocks=5
    )
    discriminator = PatchGANDiscriminator(input_shape=(64, 32, 1), filters=4)
    x = np.zeros((1, 64, 32, 1), "float32")
    assert keras.ops.convert_to_numpy(generator(x)).shape == (1, 64, 32, 1)
    assert discriminator.output_shape == (None, 6, 2, 1)


def test_resnet_generator_shapes():
    generator = ResNetGenerator(
        input_shape=(36, 28, 2), output_channels=1, filters=4, num_residual_blocks=2
    )
    x = np.zeros((2, 36, 28, 2), "float32")
    assert keras.ops.convert_to_numpy(generator(x)).shape == (2, 36, 28, 1)


def test_pixel_discriminator_keeps_the_image_size():
    discriminator = PixelDiscriminator(
        input_shape=(20, 12, 1), target_channels=2, filters=4
    )
    logits = discriminator([np.zeros((3, 20, 12, 1)), np.zeros((3, 20, 12, 2))])
    assert keras.ops.convert_to_numpy(logits).shape == (3, 20, 12, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: UNetGenerator(input_shape=(96, 96, 3)),
        lambda: UNetGenerator(input_shape=(32, 32), num_downsampling_blocks=5),
        lambda: UNetGenerator(input_shape=(32, 32, 1), norm="layer"),
        lambda: ResNetGenerator(input_shape=(30, 30, 1)),
        lambda: PatchGANDiscriminator(num_layers=0),
        lambda: PatchGANDiscriminator(input_shape=(0, 32, 1)),
    ],
)
def test_bad_arguments_name_the_problem(make):
    with pytest.raises(ValueError, match=r"input_shape|norm|num_layers|divisible"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: UNetGenerator(
            input_shape=(32, 32, 2),
            output_channels=1,
            filters=4,
            num_downsampling_blocks=5,
        ),
        lambda: ResNetGenerator(
            input_shape=(16, 16, 1), filters=4, num_residual_blocks=1
        ),
        lambda: PatchGANDiscriminator(
            input_shape=(32, 32, 1), target_channels=2, filters=4
        ),
        lambda: PixelDiscriminator(input_shape=(8, 8, 1), filters=4, norm="instance"),
    ],
)
def test_networks_round_trip_through_keras_files(make, tmp_path):
    model = make()
    config = model.get_config()
    assert type(model).from_config(config).get_config() == config
    inputs = [
        np.random.default_rng(i).normal(size=(2, *tensor.shape[1:])).astype("float32")
        for i, tensor in enumerate(model.inputs)
    ]
    inputs = inputs if len(inputs) > 1 else inputs[0]
    path = tmp_path / "network.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert type(restored) is type(model)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
        atol=1e-6,
    )
