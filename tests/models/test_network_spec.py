"""NetworkSpec: validation, the size checks and the networks it builds."""

import keras
import numpy as np
import pytest

from keras_pix2pix import Pix2Pix
from keras_pix2pix.baselines import histogram_prior
from keras_pix2pix.errors import DataError
from keras_pix2pix.models import NetworkSpec
from keras_pix2pix.models.network_spec import default_depth


def _shape(size, channels):
    if keras.config.image_data_format() == "channels_first":
        return (channels, size, size)
    return (size, size, channels)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"generator": "vit"}, "`generator` must be one of"),
        ({"discriminator": "global"}, "`discriminator` must be one of"),
        ({"norm": "layer"}, "`norm` must be one of"),
        ({"filters": 0}, "`filters` must be an int >= 1"),
        ({"depth": True}, "`depth` must be an int >= 1"),
        ({"discriminator_layers": 2.0}, "`discriminator_layers`"),
    ],
)
def test_invalid_choices(changes, message):
    with pytest.raises(DataError, match=message):
        NetworkSpec(**changes)


def test_default_depth():
    assert [default_depth(n) for n in (256, 64, 48, 6)] == [8, 6, 4, 1]


@pytest.mark.parametrize(
    ("spec", "size", "message"),
    [
        (NetworkSpec(depth=5), 48, "not divisible by 2\\*\\*depth = 32"),
        (NetworkSpec(), 6, "depth 1 only"),
        (NetworkSpec(generator="resnet"), 30, "not divisible by 4"),
        (NetworkSpec(discriminator_layers=4, depth=4), 32, "needs 48 pixels"),
        (NetworkSpec(depth=4), 16, "too small for a PatchGAN with 3 layers"),
    ],
)
def test_sizes_the_networks_cannot_take(spec, size, message):
    with pytest.raises(DataError, match=message):
        spec.check(size)
    with pytest.raises(DataError, match=message):
        spec.build(_shape(size, 1))


@pytest.mark.parametrize(
    ("spec", "generator", "discriminator"),
    [
        (NetworkSpec(filters=4), "UNetGenerator", "PatchGANDiscriminator"),
        (
            NetworkSpec(generator="resnet", discriminator="pixel", filters=4,
                        residual_blocks=2, norm="instance"),
            "ResNetGenerator",
            "PixelDiscriminator",
        ),
    ],
)  # fmt: skip
def test_build_makes_the_named_networks(spec, generator, discriminator):
    model = spec.build(_shape(32, 3), output_channels=1)
    assert isinstance(model, Pix2Pix)
    assert type(model.generator).__name__ == generator
    assert type(model.discriminator).__name__ == discriminator
    images = np.zeros((2, *_shape(32, 3)), np.float32)
    assert tuple(model.predict(images, verbose=0).shape) == (2, *_shape(32, 1))
    if generator == "UNetGenerator":  # as many blocks as 32 allows
        assert model.generator.get_config()["num_downsampling_blocks"] == 5


def test_build_with_a_prior_and_a_slice_spec():
    from keras_pix2pix.datasets import SliceSpec

    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    target = -source[..., 1:2]
    prior = histogram_prior(source, target)
    spec = SliceSpec(image_size=16, context=1)
    model = NetworkSpec(filters=4, discriminator_layers=2).build(
        _shape(16, 3), 1, prior=prior, slice_spec=spec
    )
    assert type(model.generator).__name__ == "PriorResidualGenerator"
    assert model.slice_spec == spec
    with pytest.raises(DataError, match="one-channel targets"):
        histogram_prior(source, np.concatenate([target, target], axis=-1))
