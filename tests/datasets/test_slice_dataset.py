"""Tests of PairedSliceDataset: batching, shuffling, jitter, and Pix2Pix.fit."""

import pickle

import keras
import numpy as np
import pytest

from keras_pix2pix import Pix2Pix
from keras_pix2pix.datasets.slice_cache import build_slice_cache
from keras_pix2pix.datasets.slice_dataset import PairedSliceDataset, resize_batch
from keras_pix2pix.errors import DataError
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator


def _pairs(count=10, size=32, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (count, size, size, channels)).astype(np.float32)
    # Tag each slice with its index in one corner pixel, to track the order.
    source[:, 0, 0, 0] = np.arange(count)
    return source, 2 * source + 1


def _indices(dataset):
    """The slice indices in the order the dataset batches them."""
    return np.concatenate([dataset[i][0][:, 0, 0, 0] for i in range(len(dataset))])


def test_batch_shapes_and_last_partial_batch():
    source, target = _pairs(10)
    dataset = PairedSliceDataset(source, target, batch_size=4, shuffle=False)
    assert len(dataset) == 3
    shapes = [tuple(dataset[i][0].shape) for i in range(3)]
    assert shapes == [(4, 32, 32, 1), (4, 32, 32, 1), (2, 32, 32, 1)]
    batch_source, batch_target = dataset[1]
    assert batch_source.dtype == batch_target.dtype == np.float32
    np.testing.assert_array_equal(batch_source, source[4:8])
    np.testing.assert_array_equal(batch_target, target[4:8])
    with pytest.raises(IndexError):
        dataset[3]


def test_shuffle_covers_each_slice_once_with_a_new_order_each_epoch():
    source, target = _pairs(10)
    dataset = PairedSliceDataset(source, target, batch_size=3, shuffle=True, seed=1)
    first = _indices(dataset)
    assert sorted(first) == list(range(10))
    dataset.on_epoch_end()
    second = _indices(dataset)
    assert sorted(second) == list(range(10))
    assert not np.array_equal(first, second)


def test_steps_per_epoch_streams_full_batches_across_passes():
    source, target = _pairs(10)
    dataset = PairedSliceDataset(
        source, target, batch_size=4, seed=2, steps_per_epoch=3
    )
    assert len(dataset) == 3
    stream = []
    for _ in range(5):  # 5 epochs x 3 batches x 4 = 60 slices = 6 passes
        batches = [dataset[i][0][:, 0, 0, 0] for i in range(len(dataset))]
        assert all(len(batch) == 4 for batch in batches)
        stream.extend(np.concatenate(batches))
        dataset.on_epoch_end()
    passes = np.reshape(stream, (6, 10))
    for one_pass in passes:  # every pass visits each slice once
        assert sorted(one_pass) == list(range(10))
    assert len({tuple(p) for p in passes}) == 6  # a new order each pass
    # The batches depend on the epoch and index only (workers may run ahead).
    again = PairedSliceDataset(source, target, batch_size=4, seed=2, steps_per_epoch=3)
    again.set_epoch(3)
    np.testing.assert_array_equal(again[1][0][:, 0, 0, 0], stream[40:44])


def test_same_seed_same_orders_and_jitter():
    source, target = _pairs(10)
    kwargs = {"batch_size": 4, "shuffle": True, "augment": True, "seed": 7}
    a = PairedSliceDataset(source, target, **kwargs)
    b = PairedSliceDataset(source, target, **kwargs)
    for _ in range(2):
        for i in range(len(a)):
            for x, y in zip(a[i], b[i], strict=True):
                np.testing.assert_array_equal(x, y)
        a.on_epoch_end()
        b.on_epoch_end()
    c = PairedSliceDataset(source, target, **{**kwargs, "seed": 8})
    assert not np.array_equal(_indices(a), _indices(c))


@pytest.mark.parametrize(
    "interpolation, function",
    [
        ("bilinear", lambda x: 2 * x + 1),  # bilinear commutes with affine maps
        ("nearest", lambda x: np.sin(3 * x) ** 2),  # nearest with any map
    ],
)
def test_jitter_is_identical_on_source_and_target(interpolation, function):
    source, _ = _pairs(8)
    target = function(source).astype(np.float32)
    dataset = PairedSliceDataset(
        source,
        target,
        batch_size=8,
        augment=True,
        seed=3,
        interpolation=interpolation,
    )
    batch_source, batch_target = dataset[0]
    assert batch_source.shape == source.shape
    np.testing.assert_allclose(batch_target, function(batch_source), atol=1e-5)
    # The jitter changed the images (crops and flips differ per image).
    assert not np.allclose(batch_source, source)


def test_context_channels_are_jittered_with_their_target():
    source, _ = _pairs(6)
    context = np.concatenate([source, 2 * source, 3 * source], axis=-1)
    dataset = PairedSliceDataset(context, source, batch_size=6, augment=True, seed=1)
    batch_context, batch_target = dataset[0]
    assert batch_context.shape == (*source.shape[:3], 3)
    assert batch_target.shape == source.shape
    for channel in range(3):
        np.testing.assert_allclose(
            batch_context[..., channel : channel + 1],
            (channel + 1) * batch_target,
            atol=1e-5,
        )


@pytest.mark.parametrize("weight_shape", ["pixel", "pixel_channel", "slice"])
def test_sample_weights_follow_their_pair(weight_shape):
    source, _ = _pairs(6)
    # A weight map that is an affine function of the source, so that it
    # survives the bilinear jitter as the source does.
    weight = 0.5 * source[..., 0] + 0.5
    if weight_shape == "pixel_channel":
        weight = weight[..., None]
    elif weight_shape == "slice":
        weight = np.arange(6, dtype=np.float32) / 10
    dataset = PairedSliceDataset(
        source,
        source,
        sample_weight=weight,
        batch_size=3,
        shuffle=True,
        augment=True,
        seed=2,
    )
    for index in range(len(dataset)):
        batch_source, batch_target, batch_weight = dataset[index]
        assert batch_weight.shape == (3, *weight.shape[1:])
        np.testing.assert_array_equal(batch_target, batch_source)
        if weight_shape == "slice":
            order = dataset.order[index * 3 : (index + 1) * 3]
            np.testing.assert_array_equal(batch_weight, weight[order])
        else:
            expected = 0.5 * batch_source[..., 0] + 0.5
            np.testing.assert_allclose(
                batch_weight.reshape(expected.shape), expected, atol=1e-5
            )
    with pytest.raises(DataError, match="`sample_weight` has shape"):
        PairedSliceDataset(source, source, sample_weight=np.ones((6, 31, 32)))
    with pytest.raises(DataError, match=r"one weight per image \(6,\)"):
        PairedSliceDataset(source, source, sample_weight=np.ones(5))
    for bad in (-1.0, np.nan, np.inf):
        weight = np.ones(6)
        weight[2] = bad
        with pytest.raises(DataError, match="must be finite and non-negative"):
            PairedSliceDataset(source, source, sample_weight=weight)


def test_nearest_jitter_keeps_pixel_values():
    source, target = _pairs(4)
    dataset = PairedSliceDataset(
        source,
        target,
        batch_size=4,
        shuffle=False,
        augment=True,
        interpolation="nearest",
        seed=0,
    )
    batch_source, _ = dataset[0]
    for image, original in zip(batch_source, source, strict=True):
        assert np.isin(image, original).all()


def test_resize_batch():
    batch = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    up = resize_batch(batch, 8, 8, "nearest")
    np.testing.assert_array_equal(up[0, ::2, ::2, 0], batch[0, :, :, 0])
    smooth = resize_batch(batch, 8, 8, "bilinear")
    assert smooth.shape == (1, 8, 8, 1)
    assert smooth.min() >= 0 and smooth.max() <= 15
    np.testing.assert_allclose(resize_batch(batch, 4, 4), batch)


def test_from_a_slice_cache(tmp_path):
    source, target = _pairs(6, size=8)
    stamp = tmp_path / "file"
    stamp.write_text("x")
    cache = build_slice_cache(
        tmp_path / "cache",
        [("a", [stamp])],
        lambda subject_id: (source, target, {}),
        {"v": 1},
        progress=False,
    )
    dataset = PairedSliceDataset(cache, batch_size=4, shuffle=True, seed=0)
    batch_source, batch_target = dataset[0]
    assert batch_source.flags.writeable
    np.testing.assert_allclose(batch_target, 2 * batch_source + 1)
    assert sorted(_indices(dataset)) == list(range(6))
    # Worker processes get the file names, not copies of the arrays.
    copied = pickle.loads(pickle.dumps(dataset))
    assert isinstance(copied.source, np.memmap) and not copied.source.flags.writeable
    assert len(pickle.dumps(dataset)) < source.nbytes
    for x, y in zip(copied[0], dataset[0], strict=True):
        np.testing.assert_array_equal(x, y)


def test_invalid_arguments():
    source, target = _pairs(4)
    with pytest.raises(DataError, match="same N, H and W"):
        PairedSliceDataset(source, target[:2])
    with pytest.raises(DataError, match="same N, H and W"):
        PairedSliceDataset(source, target[:, :-1])
    with pytest.raises(DataError):
        PairedSliceDataset(source, target, batch_size=0)
    with pytest.raises(DataError):
        PairedSliceDataset(source, target, interpolation="cubic")
    with pytest.raises(DataError):
        PairedSliceDataset(source)
    for steps in (0, True):
        with pytest.raises(DataError, match="steps_per_epoch"):
            PairedSliceDataset(source, target, steps_per_epoch=steps)


def test_pyDataset_options_are_passed_on():
    source, target = _pairs(4)
    dataset = PairedSliceDataset(source, target, workers=2, max_queue_size=3)
    assert dataset.workers == 2 and dataset.max_queue_size == 3


def test_pix2pix_fits_on_the_dataset():
    source, target = _pairs(8)
    target = np.tanh(target).astype(np.float32)
    generator = UNetGenerator(
        input_shape=(32, 32, 1), filters=4, num_downsampling_blocks=5
    )
    discriminator = PatchGANDiscriminator(
        input_shape=(32, 32, 1), filters=4, num_layers=2
    )
    model = Pix2Pix(generator, discriminator)
    model.compile()
    dataset = PairedSliceDataset(
        source, target, batch_size=4, shuffle=True, augment=True, seed=0
    )
    history = model.fit(dataset, epochs=2, verbose=0)
    losses = next(iter(history.history.values()))
    assert len(losses) == 2 and np.isfinite(losses).all()
    assert dataset.epoch >= 1
    prediction = keras.ops.convert_to_numpy(model.generator(source[:2]))
    assert prediction.shape == (2, 32, 32, 1)
