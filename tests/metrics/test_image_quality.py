import keras
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from keras_pix2pix.metrics import MAE, PSNR, SSIM, mae, psnr, ssim

# (low, high, data_range): images in [-1, 1], [0, 1] and 8-bit [0, 255].
RANGES = [(-1.0, 1.0, 2.0), (0.0, 1.0, 1.0), (0.0, 255.0, 255.0)]


def numpy(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def skimage_ssim(y_true, y_pred, data_range, full=False):
    return structural_similarity(
        y_true,
        y_pred,
        data_range=data_range,
        channel_axis=-1,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=full,
    )


def random_pair(shape, low, high, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(low, high, shape)
    y_pred = np.clip(y_true + rng.normal(0, 0.1 * (high - low), shape), low, high)
    return y_true, y_pred


def structured_pair(shape, low, high, seed=0):
    """Gradients with a disc and a bright square; the prediction is blurred."""
    rng = np.random.default_rng(seed)
    batch, height, width, channels = shape
    rows, columns = np.mgrid[0:height, 0:width] / max(height, width)
    y_true = np.empty(shape)
    for i in range(batch):
        for c in range(channels):
            image = 0.5 * (rows * (c + 1) + columns * (i + 1)) % 1.0
            disc = (rows - 0.5) ** 2 + (columns - 0.4 - 0.1 * i) ** 2 < 0.05
            image = np.where(disc, 0.2, image)
            image[height // 6 : height // 3, width // 2 : width // 2 + 6] = 1.0
            y_true[i, :, :, c] = image
    y_pred = 0.5 * y_true + 0.25 * (
        np.roll(y_true, 1, axis=1) + np.roll(y_true, -1, axis=2)
    )
    y_pred = np.clip(y_pred + rng.normal(0, 0.05, shape), 0.0, 1.0)
    return low + (high - low) * y_true, low + (high - low) * y_pred


PAIRS = [
    pytest.param(
        make,
        channels,
        low,
        high,
        data_range,
        id=f"{name}-{channels}ch-{low:g}:{high:g}",
    )
    for name, make in (("random", random_pair), ("structured", structured_pair))
    for channels in (1, 3)
    for low, high, data_range in RANGES
]


@pytest.mark.parametrize(("make", "channels", "low", "high", "data_range"), PAIRS)
def test_matches_skimage(make, channels, low, high, data_range):
    y_true, y_pred = make((2, 16, 24, channels), low, high)
    psnr_values = numpy(psnr(y_true, y_pred, data_range))
    ssim_values = numpy(ssim(y_true, y_pred, data_range))
    mae_values = numpy(mae(y_true, y_pred))
    assert psnr_values.shape == ssim_values.shape == mae_values.shape == (2,)
    for values in (psnr_values, ssim_values, mae_values):
        assert values.dtype == np.float32
    for i in range(2):
        expected = peak_signal_noise_ratio(y_true[i], y_pred[i], data_range=data_range)
        np.testing.assert_allclose(psnr_values[i], expected, rtol=0, atol=1e-4)
        expected = skimage_ssim(y_true[i], y_pred[i], data_range)
        np.testing.assert_allclose(ssim_values[i], expected, rtol=0, atol=1e-3)
        expected = np.mean(np.abs(y_true[i] - y_pred[i]))
        np.testing.assert_allclose(mae_values[i], expected, rtol=1e-5)


def test_data_range_other_than_the_image_range():
    y_true, y_pred = structured_pair((2, 16, 24, 1), 0.0, 1.0)
    for data_range in (0.5, 4.0):
        expected = [
            skimage_ssim(t, p, data_range) for t, p in zip(y_true, y_pred, strict=True)
        ]
        np.testing.assert_allclose(
            numpy(ssim(y_true, y_pred, data_range)), expected, atol=1e-3
        )


def test_identical_images():
    y_true, _ = structured_pair((2, 16, 24, 3), -1.0, 1.0)
    np.testing.assert_allclose(numpy(ssim(y_true, y_true, 2.0)), [1.0, 1.0], atol=1e-6)
    assert np.all(np.isposinf(numpy(psnr(y_true, y_true, 2.0))))
    np.testing.assert_array_equal(numpy(mae(y_true, y_true)), [0.0, 0.0])


def test_any_input_dtype_computes_in_float32():
    y_true, y_pred = random_pair((2, 16, 24, 1), -1.0, 1.0)
    expected = numpy(ssim(y_true, y_pred, 2.0))
    result = ssim(y_true.astype("float16"), y_pred.astype("float16"), 2.0)
    assert numpy(result).dtype == np.float32
    np.testing.assert_allclose(numpy(result), expected, atol=1e-2)
    integers = (np.arange(2 * 16 * 24) % 256).reshape(2, 16, 24, 1).astype("uint8")
    shifted = np.roll(integers, 3, axis=1)
    expected = [
        peak_signal_noise_ratio(t, p, data_range=255)
        for t, p in zip(integers, shifted, strict=True)
    ]
    np.testing.assert_allclose(numpy(psnr(integers, shifted, 255)), expected, atol=1e-4)


@pytest.mark.parametrize("form", ["hw", "bhw", "bhw1", "bool"])
def test_psnr_and_mae_with_mask(form):
    y_true, y_pred = random_pair((2, 16, 24, 3), -1.0, 1.0)
    rng = np.random.default_rng(1)
    masks = rng.uniform(size=(2, 16, 24)) < 0.4
    if form == "hw":
        masks[1] = masks[0]
        mask = masks[0].astype("float32")
    elif form == "bhw":
        mask = masks.astype("float32")
    elif form == "bhw1":
        mask = masks[..., None].astype("float32")
    else:
        mask = masks
    psnr_values = numpy(psnr(y_true, y_pred, 2.0, mask=mask))
    mae_values = numpy(mae(y_true, y_pred, mask=mask))
    for i in range(2):
        t, p = y_true[i][masks[i]], y_pred[i][masks[i]]
        expected = peak_signal_noise_ratio(t, p, data_range=2.0)
        np.testing.assert_allclose(psnr_values[i], expected, atol=1e-4)
        np.testing.assert_allclose(mae_values[i], np.mean(np.abs(t - p)), rtol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_with_mask(channels):
    y_true, y_pred = structured_pair((2, 16, 24, channels), 0.0, 1.0)
    masks = np.zeros((2, 16, 24, 1), bool)
    masks[0, 3:13, 6:20] = True
    masks[1, :8, :] = True
    result = numpy(ssim(y_true, y_pred, 1.0, mask=masks))
    for i in range(2):
        _, ssim_map = skimage_ssim(y_true[i], y_pred[i], 1.0, full=True)
        cropped = ssim_map[5:-5, 5:-5].mean(axis=-1)
        expected = cropped[masks[i, 5:-5, 5:-5, 0]].mean()
        np.testing.assert_allclose(result[i], expected, atol=1e-3)
    everywhere = np.ones((16, 24))
    np.testing.assert_allclose(
        numpy(ssim(y_true, y_pred, 1.0, mask=everywhere)),
        numpy(ssim(y_true, y_pred, 1.0)),
        atol=1e-6,
    )


def test_bad_shapes_raise():
    images = np.zeros((16, 16, 1))
    with pytest.raises(ValueError, match="rank 4"):
        psnr(images, images, 2.0)
    small = np.zeros((1, 10, 16, 1))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(small, small, 2.0)
    batch = np.zeros((2, 16, 24, 1))
    with pytest.raises(ValueError, match="mask"):
        mae(batch, batch, mask=np.ones(16))


@pytest.mark.parametrize(
    ("metric", "function"),
    [
        (PSNR(data_range=1.0), lambda t, p: psnr(t, p, 1.0)),
        (SSIM(data_range=1.0), lambda t, p: ssim(t, p, 1.0)),
        (MAE(), mae),
    ],
    ids=["psnr", "ssim", "mae"],
)
def test_metric_accumulates_over_images_and_resets(metric, function):
    first = structured_pair((2, 16, 24, 1), 0.0, 1.0, seed=1)
    second = random_pair((2, 16, 24, 1), 0.0, 1.0, seed=2)
    per_image = np.concatenate([numpy(function(*first)), numpy(function(*second))])
    metric.update_state(*first)
    metric.update_state(*second)
    np.testing.assert_allclose(numpy(metric.result()), per_image.mean(), rtol=1e-5)
    metric.reset_state()
    metric.update_state(*second)
    np.testing.assert_allclose(numpy(metric.result()), per_image[2:].mean(), rtol=1e-5)
    metric.reset_state()
    assert float(numpy(metric.result())) == 0.0


def test_stateless_update_state():
    metric = SSIM(data_range=1.0)
    first = structured_pair((2, 16, 24, 1), 0.0, 1.0, seed=1)
    second = random_pair((2, 16, 24, 1), 0.0, 1.0, seed=2)
    variables = [v.value for v in metric.variables]
    for y_true, y_pred in (first, second):
        variables = metric.stateless_update_state(variables, y_true, y_pred)
    expected = np.mean(
        np.concatenate([numpy(ssim(*first, 1.0)), numpy(ssim(*second, 1.0))])
    )
    np.testing.assert_allclose(
        numpy(metric.stateless_result(variables)), expected, rtol=1e-5
    )
    assert float(numpy(metric.result())) == 0.0  # the metric's own state is untouched


@pytest.mark.parametrize(
    "metric", [PSNR(data_range=255.0, name="psnr_8bit"), SSIM(data_range=1.0), MAE()]
)
def test_config_round_trip(metric):
    config = metric.get_config()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric)
    )
    assert type(restored) is type(metric)
    assert restored.get_config() == config
    assert restored.name == metric.name
    if not isinstance(metric, MAE):
        assert config["data_range"] == metric.data_range
        assert restored.data_range == metric.data_range
    y_true, y_pred = structured_pair((2, 16, 24, 1), 0.0, 1.0)
    metric.update_state(y_true, y_pred)
    restored.update_state(y_true, y_pred)
    np.testing.assert_allclose(numpy(restored.result()), numpy(metric.result()))


def test_compile_and_evaluate():
    inputs = keras.Input((16, 24, 1))
    outputs = keras.layers.Conv2D(
        1, 1, use_bias=False, kernel_initializer=keras.initializers.Constant(0.8)
    )(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(loss="mae", metrics=[PSNR(), SSIM(), MAE()])
    targets, _ = structured_pair((10, 16, 24, 1), -1.0, 1.0)
    inputs = (targets + np.random.default_rng(3).normal(0, 0.1, targets.shape)).astype(
        "float32"
    )
    predictions = 0.8 * inputs
    # Batches of 4, 4 and 2: the means are over images, not over batches.
    logs = model.evaluate(inputs, targets, batch_size=4, verbose=0, return_dict=True)
    expected_psnr = np.mean(
        [
            peak_signal_noise_ratio(t, p, data_range=2.0)
            for t, p in zip(targets, predictions, strict=True)
        ]
    )
    expected_ssim = np.mean(
        [skimage_ssim(t, p, 2.0) for t, p in zip(targets, predictions, strict=True)]
    )
    np.testing.assert_allclose(logs["psnr"], expected_psnr, atol=1e-3)
    np.testing.assert_allclose(logs["ssim"], expected_ssim, atol=1e-3)
    np.testing.assert_allclose(
        logs["mae"], np.mean(np.abs(targets - predictions)), atol=1e-5
    )
