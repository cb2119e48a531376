"""Pix2Pix: the training step, losses, compile defaults and serialization."""

import pathlib
import warnings

import keras
import numpy as np
import pytest
from conftest import BACKEND, tiny_pix2pix, toy_pairs, weights_of

from keras_pix2pix import Pix2Pix
from keras_pix2pix.datasets import SliceSpec
from keras_pix2pix.losses import LeastSquaresGANLoss
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator


def variables_of(network):
    return [keras.ops.convert_to_numpy(v).copy() for v in network.trainable_variables]


def changed(before, after):
    return [not np.array_equal(b, a) for b, a in zip(before, after, strict=True)]


def test_default_model_is_the_reference_pix2pix():
    model = Pix2Pix()
    assert model.generator.output_shape == (None, 256, 256, 3)
    assert model.discriminator.output_shape == (None, 30, 30, 1)
    assert isinstance(model.generator, UNetGenerator)
    assert isinstance(model.discriminator, PatchGANDiscriminator)


def test_fit_without_compile_uses_the_paper_defaults_and_says_so():
    model = tiny_pix2pix()
    source, target = toy_pairs(count=4)
    with pytest.warns(UserWarning, match="paper's defaults"):
        model.fit(source, target, batch_size=2, epochs=1, verbose=0)
    for optimizer in (model.generator_optimizer, model.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert optimizer.beta_1 == 0.5
    assert model.reconstruction_weight == 100.0
    assert type(model.reconstruction_loss) is keras.losses.MeanAbsoluteError
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(source, target, batch_size=2, epochs=1, verbose=0)


def test_each_half_of_the_step_updates_only_its_network():
    source, target = toy_pairs(count=4)
    frozen = {"learning_rate": 0.0}
    # Generator optimizer does nothing: only the discriminator moves.
    model = tiny_pix2pix()
    model.compile(keras.optimizers.SGD(**frozen), keras.optimizers.SGD(0.1))
    g_before, d_before = (
        variables_of(model.generator),
        variables_of(model.discriminator),
    )
    model.train_on_batch(source, target)
    assert not any(changed(g_before, variables_of(model.generator)))
    assert any(changed(d_before, variables_of(model.discriminator)))
    # Discriminator optimizer does nothing: only the generator moves.
    model = tiny_pix2pix()
    model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(**frozen))
    g_before, d_before = (
        variables_of(model.generator),
        variables_of(model.discriminator),
    )
    model.train_on_batch(source, target)
    assert any(changed(g_before, variables_of(model.generator)))
    assert not any(changed(d_before, variables_of(model.discriminator)))
    assert int(model.generator_optimizer.iterations) == 1
    assert int(model.discriminator_optimizer.iterations) == 1
    assert int(model.optimizer.iterations) == 1


def test_discriminator_update_ignores_the_generator_losses():
    # The discriminator's half sees the detached generated image only, so the
    # weight of the generator's reconstruction loss cannot change it.
    source, target = toy_pairs(count=4)
    results = []
    for weight in (0.0, 1000.0):
        keras.utils.set_random_seed(1)
        model = tiny_pix2pix()
        model.compile(
            keras.optimizers.SGD(0.1),
            keras.optimizers.SGD(0.1),
            reconstruction_weight=weight,
        )
        model.train_on_batch(source, target)
        results.append(variables_of(model.discriminator))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_logged_losses_are_consistent():
    model = tiny_pix2pix()
    model.compile(reconstruction_weight=10.0)
    source, target = toy_pairs(count=4)
    logs = model.train_on_batch(source, target, return_dict=True)
    assert set(logs) == {
        "discriminator_loss",
        "generator_adversarial_loss",
        "reconstruction_loss",
        "generator_loss",
    }
    assert logs["generator_loss"] == pytest.approx(
        logs["generator_adversarial_loss"] + 10.0 * logs["reconstruction_loss"],
        rel=1e-5,
    )
    # A freshly initialised discriminator is near chance: 0.5 * 2 * log(2).
    assert logs["discriminator_loss"] == pytest.approx(np.log(2), abs=0.15)


@pytest.mark.parametrize(
    "compile_kwargs",
    [
        {},
        {"reconstruction_loss": "l2", "adversarial_loss": "least_squares"},
        {"adversarial_loss": "hinge"},
        pytest.param(
            {"jit_compile": True},
            marks=pytest.mark.skipif(
                BACKEND == "torch", reason="torch.compile takes minutes to compile"
            ),
        ),
    ],
    # Without XLA: "default" on TensorFlow (graph mode) and torch. The eager
    # path is checked step by step against the compiled one below.
    ids=["default", "l2-lsgan", "hinge", "xla"],
)
def test_reconstruction_loss_falls_on_a_learnable_mapping(compile_kwargs):
    model = tiny_pix2pix()
    model.compile(
        keras.optimizers.Adam(2e-3, beta_1=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        **compile_kwargs,
    )
    source, target = toy_pairs(count=16)
    history = model.fit(source, target, batch_size=4, epochs=10, verbose=0)
    losses = history.history["reconstruction_loss"]
    assert losses[-1] < 0.6 * losses[0], losses


def test_eager_steps_match_the_compiled_steps():
    """`run_eagerly=True` runs the same step: the same losses, step by step.

    A small network, because eager JAX compiles every operation on its first
    call; the losses change from step to step, so a step that skipped an
    update would not match.
    """
    source, target = toy_pairs(count=4, size=16)
    losses = {}
    for run_eagerly in (False, True):
        keras.utils.set_random_seed(0)
        model = tiny_pix2pix(size=16, filters=4, depth=4)
        model.compile(
            keras.optimizers.Adam(2e-3, beta_1=0.5),
            keras.optimizers.Adam(2e-4, beta_1=0.5),
            run_eagerly=run_eagerly,
        )
        steps = [
            model.train_on_batch(source, target, return_dict=True) for _ in range(3)
        ]
        losses[run_eagerly] = {name: [s[name] for s in steps] for name in steps[0]}
    for name, compiled in losses[False].items():
        np.testing.assert_allclose(
            losses[True][name], compiled, rtol=1e-4, err_msg=name
        )
    reconstruction = losses[False]["reconstruction_loss"]
    assert abs(reconstruction[-1] - reconstruction[0]) > 1e-3 * reconstruction[0]


def test_generator_weight_averaging_ends_on_the_average():
    """Adam's `use_ema` averages the generator over the steps `fit` runs.

    Without dropout a step is deterministic, so the weights after one and two
    steps of a plain run give the average that a run with EMA must end on.
    """
    source, target = toy_pairs(count=4, size=16)

    def trained(batches, optimizer):
        keras.utils.set_random_seed(0)
        model = tiny_pix2pix(size=16, filters=4, depth=4, dropout=0.0)
        model.compile(optimizer, keras.optimizers.Adam(2e-4, beta_1=0.5))
        snapshots = []
        for first, last in batches:
            model.fit(
                source[first:last],
                target[first:last],
                batch_size=2,
                shuffle=False,
                verbose=0,
            )
            snapshots.append(weights_of(model.generator))
        return model, snapshots

    _, (after_one, after_two) = trained([(0, 2), (2, 4)], keras.optimizers.Adam(2e-3))
    averaging = keras.optimizers.Adam(2e-3, use_ema=True, ema_momentum=0.25)
    model, (final,) = trained([(0, 4)], averaging)
    # The average starts at the weights of step 1, then 0.25 old + 0.75 new.
    for got, one, two, variable in zip(
        final, after_one, after_two, model.generator.weights, strict=True
    ):
        expected = 0.25 * one + 0.75 * two if variable.trainable else two
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    moved = [np.abs(a - b).max() for a, b in zip(final, after_two, strict=True)]
    assert max(moved) > 1e-4  # the average is not the last weights


def test_training_goes_on_after_weight_averaging():
    """`fit` ends by giving the generator its averages; training can go on.

    On JAX the weights and their averages then share one buffer, which the
    compiled step, donating its state, cannot take twice.
    """
    source, target = toy_pairs(count=4, size=16)
    model = tiny_pix2pix(size=16, filters=4, depth=4)
    model.compile(
        keras.optimizers.Adam(2e-3, use_ema=True, ema_momentum=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    model.fit(source, target, batch_size=2, verbose=0)
    averaged = weights_of(model.generator)
    history = model.fit(source, target, batch_size=2, verbose=0).history
    assert np.isfinite(history["generator_loss"]).all()
    model.train_on_batch(source, target)
    moved = [
        np.abs(a - b).max()
        for a, b in zip(averaged, weights_of(model.generator), strict=True)
    ]
    assert max(moved) > 1e-4


def test_evaluate_and_predict():
    model = tiny_pix2pix()
    source, target = toy_pairs(count=8)
    model.compile()
    results = model.evaluate(source, target, batch_size=4, verbose=0, return_dict=True)
    assert set(results) == {
        "discriminator_loss",
        "generator_adversarial_loss",
        "reconstruction_loss",
        "generator_loss",
    }
    fake = model.predict(source, batch_size=4, verbose=0)
    expected = np.mean(np.abs(fake - target))
    assert results["reconstruction_loss"] == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(
        fake, keras.ops.convert_to_numpy(model(source)), atol=1e-5
    )


def test_validation_data_is_evaluated_during_fit():
    model = tiny_pix2pix()
    model.compile()
    source, target = toy_pairs(count=8)
    history = model.fit(
        source, target, validation_data=(source, target), epochs=2, verbose=0
    )
    assert len(history.history["val_reconstruction_loss"]) == 2


def test_inference_mode():
    source, _ = toy_pairs(count=2, size=64)
    generator = UNetGenerator(
        input_shape=(64, 64, 1), filters=4, num_downsampling_blocks=6
    )
    stochastic = Pix2Pix(generator, inference_mode="train")
    moving = weights_of(generator)
    first, second = (stochastic.predict(source, verbose=0) for _ in range(2))
    assert not np.allclose(first, second)  # dropout stays active
    # BatchNorm's moving statistics are what they were before (eval-mode
    # inference and further training use them).
    for before, after in zip(moving, weights_of(generator), strict=True):
        np.testing.assert_array_equal(before, after)
    deterministic = Pix2Pix(
        UNetGenerator(input_shape=(64, 64, 1), filters=4, num_downsampling_blocks=6)
    )
    first, second = (deterministic.predict(source, verbose=0) for _ in range(2))
    np.testing.assert_array_equal(first, second)


def test_save_load_restores_everything_and_resumes_exactly(tmp_path):
    source, target = toy_pairs(count=8)
    model = tiny_pix2pix()
    model.compile(
        keras.optimizers.Adam(1e-3, beta_1=0.5),
        keras.optimizers.SGD(0.01, momentum=0.9),
        adversarial_loss=LeastSquaresGANLoss(),
        reconstruction_loss="l2",
        reconstruction_weight=50.0,
    )
    model.fit(source, target, batch_size=4, epochs=2, verbose=0)
    path = tmp_path / "pix2pix.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)

    assert isinstance(restored, Pix2Pix)
    assert isinstance(restored.adversarial_loss, LeastSquaresGANLoss)
    assert type(restored.reconstruction_loss) is keras.losses.MeanSquaredError
    assert restored.reconstruction_weight == 50.0
    assert isinstance(restored.discriminator_optimizer, keras.optimizers.SGD)
    assert int(restored.optimizer.iterations) == 4
    assert int(restored.generator_optimizer.iterations) == 4
    for a, b in zip(
        model.optimizer.variables, restored.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    np.testing.assert_allclose(
        restored.predict(source, verbose=0), model.predict(source, verbose=0), atol=1e-6
    )
    # Training on from both gives the same weights: nothing was lost.
    model.fit(source, target, batch_size=4, epochs=1, shuffle=False, verbose=0)
    restored.fit(source, target, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(weights_of(model), weights_of(restored), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_config_round_trip():
    model = tiny_pix2pix(channels=2, output_channels=3)
    config = model.get_config()
    clone = Pix2Pix.from_config(config)
    assert clone.get_config() == config
    assert clone.generator.output_shape == (None, 32, 32, 3)


FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
NORMALIZATION = {
    "method": "percentile",
    "low_percentile": 0.5,
    "high_percentile": 99.5,
    "lower": 12.0,
    "upper": 980.5,
    "subjects": 3,
}


def sliced_pix2pix(spec=None, normalization=None, channels=3):
    """`tiny_pix2pix` (32 x 32, 4 filters) with a SliceSpec and parameters."""
    plain = tiny_pix2pix(channels=channels, output_channels=1, filters=4)
    return Pix2Pix(
        plain.generator,
        plain.discriminator,
        slice_spec=spec,
        target_normalization=normalization,
    )


def test_slice_spec_and_target_normalization_survive_config_and_file(tmp_path):
    spec = SliceSpec(image_size=32, frame="head", context=1, slices=[3, 4])
    model = sliced_pix2pix(spec, NORMALIZATION)
    config = model.get_config()
    assert config["slice_spec"] == spec.get_config()
    assert config["target_normalization"] == NORMALIZATION
    clone = Pix2Pix.from_config(config)
    assert clone.slice_spec == spec and isinstance(clone.slice_spec, SliceSpec)
    assert clone.target_normalization == NORMALIZATION
    assert clone.get_config() == config
    # The config dict works as well as the spec.
    assert sliced_pix2pix(spec.get_config()).slice_spec == spec
    model.save(tmp_path / "sliced.keras")
    restored = keras.saving.load_model(tmp_path / "sliced.keras", safe_mode=True)
    assert restored.slice_spec == spec
    assert restored.target_normalization == NORMALIZATION
    plain = tiny_pix2pix(filters=4)
    assert plain.slice_spec is None and plain.target_normalization is None


def sliced_with_contrasts(spec, contrasts, channels):
    plain = tiny_pix2pix(channels=channels, output_channels=1, filters=4)
    return Pix2Pix(
        plain.generator, plain.discriminator, slice_spec=spec, contrasts=contrasts
    )


def test_slice_spec_must_give_the_generators_channels():
    # Three channels: one source with context 1, or three sources of one slice.
    assert sliced_pix2pix(SliceSpec(image_size=32, context=1)).slice_spec.context == 1
    three = {"sources": ["T1", "T2", "PD"], "target": "FLAIR"}
    model = sliced_with_contrasts(SliceSpec(image_size=32), three, channels=3)
    assert model.get_config()["contrasts"] == three
    with pytest.raises(ValueError, match="3-channel images, but the slice_spec"):
        sliced_pix2pix(SliceSpec(image_size=32, context=2))  # 5 per source
    two = {"sources": ["T1", "T2"], "target": "PD"}
    with pytest.raises(ValueError, match="names 2 source"):
        sliced_with_contrasts(SliceSpec(image_size=32), two, channels=3)
    with pytest.raises(ValueError, match="`contrasts` must be a dict"):
        sliced_with_contrasts(None, {"sources": "T1", "target": "T2"}, channels=3)
    with pytest.raises(ValueError, match="must be a SliceSpec"):
        sliced_pix2pix("axial")
    with pytest.raises(ValueError, match="finite 'lower' and 'upper'"):
        sliced_pix2pix(normalization={"lower": 0.0})
    with pytest.raises(ValueError, match="finite 'lower' and 'upper'"):
        sliced_pix2pix(normalization={"lower": 0.0, "upper": float("nan")})


def test_a_model_saved_before_slice_specs_loads_without_one():
    path = FIXTURES / f"tiny_pix2pix_{BACKEND}.keras"
    model = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(model, Pix2Pix)
    assert model.slice_spec is None and model.target_normalization is None
    assert model.get_config()["slice_spec"] is None


def test_uncompiled_model_saves_and_loads(tmp_path):
    model = tiny_pix2pix()
    model.save(tmp_path / "untrained.keras")
    restored = keras.saving.load_model(tmp_path / "untrained.keras")
    assert not restored.compiled
    source, _ = toy_pairs(count=2)
    np.testing.assert_allclose(
        restored.predict(source, verbose=0), model.predict(source, verbose=0), atol=1e-6
    )


def test_bad_usage_gets_clear_errors():
    model = tiny_pix2pix()
    source, _ = toy_pairs(count=4)
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer instances"):
        model.compile(optimizer, optimizer)
    with pytest.raises(ValueError, match="does not take `loss`"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match="adversarial_loss"):
        model.compile(adversarial_loss="wasserstein")
    with pytest.raises(ValueError, match="reconstruction_loss"):
        model.compile(reconstruction_loss="l3")
    model.compile()
    with pytest.raises(ValueError, match="No target images"):
        model.fit(source, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="inference_mode"):
        Pix2Pix(inference_mode="sample")
    generator = UNetGenerator(
        input_shape=(32, 32, 1), filters=4, num_downsampling_blocks=5
    )
    with pytest.raises(ValueError, match="not both"):
        Pix2Pix(generator, input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="must match"):
        Pix2Pix(generator, PatchGANDiscriminator(input_shape=(32, 32, 3), filters=4))


def test_backend_is_the_one_requested():
    import os

    assert os.environ.get("KERAS_BACKEND", BACKEND) == BACKEND


def test_image_metrics_are_reported_by_fit_and_evaluate(tmp_path):
    from keras_pix2pix.metrics import PSNR, psnr, ssim

    source, target = toy_pairs(count=8)
    model = tiny_pix2pix()
    model.compile(metrics=["ssim", PSNR(data_range=2.0, name="psnr")])
    history = model.fit(
        source,
        target,
        batch_size=4,
        epochs=1,
        validation_data=(source, target),
        verbose=0,
    )
    for name in ("psnr", "ssim", "val_psnr", "val_ssim"):
        assert np.isfinite(history.history[name][0]), name
    results = model.evaluate(source, target, batch_size=8, verbose=0, return_dict=True)
    fake = model.predict(source, verbose=0)
    expected_psnr = np.mean(keras.ops.convert_to_numpy(psnr(target, fake, 2.0)))
    expected_ssim = np.mean(keras.ops.convert_to_numpy(ssim(target, fake, 2.0)))
    assert results["psnr"] == pytest.approx(expected_psnr, rel=1e-4)
    assert results["ssim"] == pytest.approx(expected_ssim, rel=1e-3, abs=1e-4)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert [m.name for m in restored.image_metrics] == ["ssim", "psnr"]
    again = restored.evaluate(source, target, batch_size=8, verbose=0, return_dict=True)
    assert again["psnr"] == pytest.approx(results["psnr"], rel=1e-5)


def test_auto_jit_compile_is_the_faster_mode_per_backend():
    model = tiny_pix2pix()
    model.compile()
    assert model.jit_compile == (BACKEND == "jax")
    model.compile(jit_compile=False)
    assert model.jit_compile is False
