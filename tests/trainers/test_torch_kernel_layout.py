"""Kernels kept in torch's memory order train as in Keras's (torch backend)."""

import keras
import numpy as np
import pytest
from conftest import BACKEND, tiny_pix2pix, toy_pairs, weights_of

from keras_pix2pix.layers import IntensityLookup
from keras_pix2pix.models import (
    PatchGANDiscriminator,
    PixelDiscriminator,
    PriorResidualGenerator,
    ResNetGenerator,
    UNetGenerator,
)

pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="kernels are only re-laid out on the torch backend"
)


def _kernels(model):
    """The kernel of every convolution in `model`."""
    return [
        layer.kernel
        for layer in model._flatten_layers()
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
    ]


def _assert_torch_order(model, count):
    import torch

    kernels = _kernels(model)
    assert len(kernels) == count
    for kernel in kernels:
        as_torch = kernel.value.permute(3, 2, 0, 1)  # Keras's axes -> torch's
        assert as_torch.is_contiguous(memory_format=torch.channels_last), kernel.path


def test_kernels_are_stored_as_torch_reads_them_and_stay_so_when_loaded(tmp_path):
    model = tiny_pix2pix()
    _assert_torch_order(model.generator, 10)  # 5 + 5 in the U-Net
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    _assert_torch_order(loaded.generator, 10)
    for expected, actual in zip(weights_of(model), weights_of(loaded), strict=True):
        np.testing.assert_array_equal(actual, expected)


# Every network the library builds, small; with 3 output channels, so that a
# kernel in the wrong order shows in its strides. The counts are of all their
# convolutions: a plain Keras convolution added anywhere fails the test.
NETWORKS = {
    # 5 down and 5 up.
    "unet": (
        lambda: UNetGenerator(
            input_shape=(32, 32, 3), filters=4, num_downsampling_blocks=5
        ),
        10,
    ),
    # The stem, 2 down, 2 per residual block, 2 up and the 7x7 head.
    "resnet": (
        lambda: ResNetGenerator(
            input_shape=(16, 16, 3), filters=4, num_residual_blocks=1
        ),
        8,
    ),
    # The network under a prior of one channel (3 source channels + the
    # prior's guess in, 1 out): 4 down and 4 up.
    "prior_residual": (
        lambda: PriorResidualGenerator(
            UNetGenerator(
                input_shape=(16, 16, 4),
                output_channels=1,
                filters=4,
                num_downsampling_blocks=4,
            ),
            IntensityLookup(channel=0),
        ),
        8,
    ),
    # The first layer, 2 more, the stride-1 layer and the logits.
    "patchgan": (
        lambda: PatchGANDiscriminator(input_shape=(32, 32, 3), filters=4),
        5,
    ),
    "pixel": (lambda: PixelDiscriminator(input_shape=(16, 16, 3), filters=4), 3),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_every_kernel_of_every_network_is_stored_as_torch_reads_it(name, tmp_path):
    make, count = NETWORKS[name]
    network = make()
    _assert_torch_order(network, count)
    network.save(tmp_path / "network.keras")
    _assert_torch_order(keras.models.load_model(tmp_path / "network.keras"), count)


def _train(model, steps=3):
    source, target = toy_pairs(count=1)
    model.compile()
    losses = [
        model.train_on_batch(source, target, return_dict=True)["generator_loss"]
        for _ in range(steps)
    ]
    return losses, weights_of(model)


def test_training_is_the_same_as_with_kernels_in_keras_order():
    keras.utils.set_random_seed(1)
    reordered = tiny_pix2pix()
    keras.utils.set_random_seed(1)
    plain = tiny_pix2pix()
    for variable in plain.variables:
        variable.value.data = variable.value.data.contiguous()
    assert not _kernels(plain)[0].value.permute(3, 2, 0, 1).is_contiguous()

    expected_losses, expected_weights = _train(plain)
    losses, weights = _train(reordered)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    for expected, actual in zip(expected_weights, weights, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
