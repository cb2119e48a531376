import warnings

import keras

from keras_pix2pix.layers._conventions import channel_axis
from keras_pix2pix.losses import get_adversarial_loss, get_reconstruction_loss
from keras_pix2pix.models._compile_config import (
    IMAGE_METRICS,
    OptimizerRouter,
    check_compile_kwargs,
    check_loss_weights,
    check_variable_order,
    deserialize_compile_config,
    get_image_metric,
    get_optimizers,
    serialize_compile_config,
)
from keras_pix2pix.models._data_contract import (
    check_contrasts,
    check_slice_spec,
    check_target_normalization,
)
from keras_pix2pix.models._inference_modes import (
    INFERENCE_MODES,
    check_inference_mode,
    generate,
    moving_statistics_kept,
)
from keras_pix2pix.models._input_checks import (
    check_image_arrays,
    check_networks,
    check_weight_array,
)
from keras_pix2pix.models.patchgan_discriminator import PatchGANDiscriminator
from keras_pix2pix.models.unet_generator import UNetGenerator
from keras_pix2pix.trainers import Pix2PixTrainer

LOSS_NAMES = (
    "discriminator_loss",
    "generator_adversarial_loss",
    "reconstruction_loss",
    "generator_loss",
)

__all__ = ["IMAGE_METRICS", "INFERENCE_MODES", "LOSS_NAMES", "Pix2Pix"]


def _per_pixel(target, fake, sample_weight):
    """Returns channels-last images and per-pixel weights `(N, H, W)`.

    Keras losses average over the last axis first, so per-pixel weights need
    the channels there; per-image weights `(N,)` are spread over the pixels.
    Any rank is taken (a traced TensorFlow step may not know it): the weights
    are flattened per image, then spread.
    """
    if channel_axis() == 1:
        target = keras.ops.moveaxis(target, 1, -1)
        fake = keras.ops.moveaxis(fake, 1, -1)
    count, height, width = keras.ops.shape(target)[:3]
    weight = keras.ops.reshape(sample_weight, (count, -1))
    weight = keras.ops.broadcast_to(weight, (count, height * width))
    return target, fake, keras.ops.reshape(weight, (count, height, width))


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class Pix2Pix(Pix2PixTrainer, keras.Model):
    """A conditional GAN for paired image-to-image translation (pix2pix).

    The model holds a generator (source image -> target image) and a
    discriminator (source and target pair -> real/fake logits) and trains
    both with `fit`, on every Keras backend, in the reference's order: one
    discriminator update on a real pair and the detached generated pair
    (its loss weighted by `discriminator_loss_weight`, 0.5), then one
    generator update on the adversarial loss plus `reconstruction_weight`
    times the reconstruction loss. Calling the model, or `predict`, runs the
    generator.

    `fit` logs `discriminator_loss`, `generator_adversarial_loss`,
    `reconstruction_loss` (unweighted) and `generator_loss` (the total the
    generator minimizes); `evaluate` reports the same on held-out pairs.

    A `sample_weight` (given to `fit` or `evaluate`, or as the third element
    of a dataset's batches) weights the reconstruction loss: one weight per
    image, `(N,)`, or one per pixel, `(N, H, W)` or `(N, H, W, 1)` (`(N, 1,
    H, W)` under `"channels_first"`), for example a mask of the pixels whose
    target the source can predict. The loss stays the mean over all pixels,
    so weights of 1 change nothing. The adversarial losses and the image
    metrics are not weighted.

    If `compile()` was not called, `fit` and `evaluate` compile with the
    paper's settings: Adam(2e-4, beta_1=0.5) for each network, the vanilla
    GAN loss and L1 weighted 100.

    Args:
        generator: a `keras.Model` from source to target images, or `None`
            for the reference `UNetGenerator` built for `input_shape`.
        discriminator: a `keras.Model` taking `[source, target]`, or `None`
            for the reference 70x70 `PatchGANDiscriminator`.
        input_shape: tuple or None. Shape of one source image when the
            generator is built here; `None` means `(256, 256, 3)`.
        output_channels: int or None. Channels of the target images when
            the generator is built here; `None` uses the input's.
        inference_mode: how `predict` (and `evaluate`) run the generator.
            `"per_image"` (default): each BatchNorm normalizes each image by
            its own statistics (what training with batches of one image
            does), no dropout: deterministic, and independent of the batch
            size; it scored above `"eval"` in every measurement (docs:
            Training, Inference behaviour). `"eval"`: BatchNorm's moving
            statistics and no dropout, as Keras does (the default before;
            a `.keras` file saved without an `inference_mode` loads with
            it). `"train"`: dropout active and each batch's own statistics,
            as the reference pix2pix does at test time unless run with
            `--eval`, and as the paper did. The moving statistics are left
            as they were in every mode.
        slice_spec: the `SliceSpec` the NIfTI training slices were cut with
            (e.g. `info.spec` of a loader's `SliceInfo`), or `None`;
            `synthesize_volume` cuts volumes with it.
        target_normalization: the training targets' typical intensity
            scaling (`info.target_normalization()`), or `None`;
            `synthesize_volume` maps its output to it.
        contrasts: the source contrasts, in channel order, and the target's
            (`info.contrasts()`, e.g. `{"sources": ["T1", "T2"], "target":
            "PD"}`), or `None`; named in synthesized volumes' headers.
        **kwargs: standard `keras.Model` arguments (`name`, `trainable`).

    Example:
    ```python
    model = keras_pix2pix.Pix2Pix(input_shape=(256, 256, 1), output_channels=1)
    model.compile(reconstruction_loss="l2")  # the paper's variant
    model.fit(source_images, target_images, batch_size=1, epochs=100)
    fake = model.predict(source_images)

    # Trained on NIfTI volumes: the model keeps how to cut and rescale them.
    t1, t2, info = load_ixi_pairs("~/data/IXI", SliceSpec(image_size=256))
    model = keras_pix2pix.Pix2Pix(
        input_shape=(256, 256, 1),
        output_channels=1,
        slice_spec=info.spec,
        target_normalization=info.target_normalization(),
        contrasts=info.contrasts(),
    )
    model.fit(t1, t2, batch_size=1, epochs=100)
    synthesize_volume(model, "IXI012-HH-1211-T1.nii.gz", "synthetic-T2.nii.gz")
    ```

    Reference:
    - [Isola et al., Image-to-Image Translation with Conditional Adversarial
      Networks, CVPR 2017](https://arxiv.org/abs/1611.07004)
    """

    def __init__(
        self,
        generator=None,
        discriminator=None,
        *,
        input_shape=None,
        output_channels=None,
        inference_mode="per_image",
        slice_spec=None,
        target_normalization=None,
        contrasts=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_inference_mode(inference_mode)
        if generator is None:
            generator = UNetGenerator(
                input_shape=input_shape or (256, 256, 3),
                output_channels=output_channels,
                name="generator",
            )
        elif input_shape is not None or output_channels is not None:
            raise ValueError(
                "Pass either a `generator` or `input_shape` / `output_channels` "
                "to build the default one, not both."
            )
        if discriminator is None:
            discriminator = PatchGANDiscriminator(
                input_shape=tuple(generator.input_shape[1:]),
                target_channels=generator.output_shape[channel_axis()],
                name="discriminator",
            )
        check_networks(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.inference_mode = inference_mode
        self.slice_spec = check_slice_spec(slice_spec, generator)
        self.target_normalization = check_target_normalization(target_normalization)
        self.contrasts = check_contrasts(contrasts, self.slice_spec, generator)
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in LOSS_NAMES]
        self.image_metrics = []
        self.built = True

    def call(self, inputs, training=None):
        return generate(self.generator, inputs, self.inference_mode, training)

    # === Compilation ===

    def compile(
        self,
        generator_optimizer=None,
        discriminator_optimizer=None,
        *,
        adversarial_loss="vanilla",
        reconstruction_loss="l1",
        reconstruction_weight=100.0,
        discriminator_loss_weight=0.5,
        metrics=None,
        **kwargs,
    ):
        """Configures the model for training.

        Args:
            generator_optimizer: optimizer of the generator (instance or
                name); `None` means Adam(2e-4, beta_1=0.5), as in the paper.
            discriminator_optimizer: optimizer of the discriminator; `None`
                means Adam(2e-4, beta_1=0.5). Must not be the generator's.
            adversarial_loss: an `AdversarialLoss` or `"vanilla"`,
                `"least_squares"`, `"hinge"`.
            reconstruction_loss: a `keras.losses.Loss` or `"l1"` (the
                reference) or `"l2"` (mean squared error, the paper's variant).
            reconstruction_weight: float. Weight of the reconstruction loss
                in the generator's loss (the reference's `lambda_L1`, 100).
            discriminator_loss_weight: float. Weight of the discriminator's
                loss (0.5 in the reference, which slows D relative to G).
            metrics: list of metrics of the generated images against the
                targets, reported by `fit` and `evaluate`: `"psnr"`, `"ssim"`,
                `"mae"` (for images in [-1, 1]) or `keras.metrics.Metric`
                instances such as `keras_pix2pix.metrics.PSNR(data_range=1.0)`.
            **kwargs: `run_eagerly`, `jit_compile`, `steps_per_execution`, as
                in `keras.Model.compile`. `jit_compile="auto"` (the default)
                is XLA on JAX and plain graph mode on TensorFlow, the faster
                of each backend's options for these networks on CPU.
        """
        check_loss_weights(
            reconstruction_weight=reconstruction_weight,
            discriminator_loss_weight=discriminator_loss_weight,
        )
        generator_optimizer, discriminator_optimizer = get_optimizers(
            generator_optimizer, discriminator_optimizer
        )
        check_compile_kwargs(kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.adversarial_loss = get_adversarial_loss(adversarial_loss)
        self.reconstruction_loss = get_reconstruction_loss(reconstruction_loss)
        self.reconstruction_weight = float(reconstruction_weight)
        self.discriminator_loss_weight = float(discriminator_loss_weight)
        self.image_metrics = [get_image_metric(m) for m in metrics or []]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"Metric names must be unique. Received: {names}")
        # One optimizer object that owns the variables of both, so that the
        # trainers of every backend (JAX's threads only `self.optimizer`)
        # carry and save the state of both.
        optimizer = keras.optimizers.MultiOptimizer(
            OptimizerRouter(
                self.generator, generator_optimizer, discriminator_optimizer
            )
        )
        if kwargs.get("jit_compile", "auto") == "auto":
            kwargs["jit_compile"] = self.auto_jit_compile
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)
        check_variable_order(self)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return serialize_compile_config(self)

    def compile_from_config(self, config):
        self.compile(**deserialize_compile_config(config))

    def _compile_if_needed(self):
        if not self.compiled:
            warnings.warn(
                "Pix2Pix was not compiled: compiling with the paper's defaults, "
                "Adam(2e-4, beta_1=0.5) for both networks, the vanilla GAN loss "
                "and L1 weighted 100. Call `compile()` to choose.",
                stacklevel=3,
            )
            self.compile()

    def fit(self, x=None, y=None, *args, **kwargs):
        self._compile_if_needed()
        check_image_arrays(self.generator, x, y)
        check_weight_array(kwargs.get("sample_weight"), x)
        validation = kwargs.get("validation_data")
        if isinstance(validation, (tuple, list)) and len(validation) >= 2:
            check_image_arrays(self.generator, *validation[:2], role="validation ")
            if len(validation) == 3:
                check_weight_array(validation[2], validation[0], role="validation ")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._compile_if_needed()
        check_image_arrays(self.generator, x, y)
        check_weight_array(kwargs.get("sample_weight"), x)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        check_image_arrays(self.generator, x)
        if self.inference_mode == "eval":
            return super().predict(x, *args, **kwargs)
        with moving_statistics_kept(self.generator):
            return super().predict(x, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        self._compile_if_needed()
        check_image_arrays(self.generator, x, y)
        check_weight_array(kwargs.get("sample_weight"), x)
        return super().train_on_batch(x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        self._compile_if_needed()
        check_image_arrays(self.generator, x, y)
        check_weight_array(kwargs.get("sample_weight"), x)
        return super().test_on_batch(x, y, *args, **kwargs)

    # === Losses, written once for every backend ===

    @property
    def metrics(self):
        return [*self.loss_trackers, *self.image_metrics]

    def discriminator_loss(self, real_logits, fake_logits):
        """Returns the discriminator's weighted loss from its logits."""
        return (
            self.discriminator_loss_weight
            * self.adversarial_loss.discriminator_loss(real_logits, fake_logits)
        )

    def generator_losses(self, fake_logits, target, fake, sample_weight=None):
        """Returns the generator's losses as a dict keyed by their log names.

        Args:
            fake_logits: discriminator logits for the generated pairs.
            target: the real target images.
            fake: the generated images.
            sample_weight: `None`, or weights of the reconstruction loss per
                image `(N,)` or per pixel (see the class docstring).

        Returns:
            A dict with `generator_adversarial_loss`, `reconstruction_loss`
            and their weighted sum `generator_loss`.
        """
        adversarial = self.adversarial_loss.generator_loss(fake_logits)
        if sample_weight is None:
            reconstruction = self.reconstruction_loss(target, fake)
        else:
            target, fake, sample_weight = _per_pixel(target, fake, sample_weight)
            reconstruction = self.reconstruction_loss(
                target, fake, sample_weight=sample_weight
            )
        # A Keras loss returns its replica's share of the mean under a
        # `tf.distribute` strategy; the trainer restores the mean.
        reconstruction = self.unscale_loss_for_distribution(reconstruction)
        return {
            "generator_adversarial_loss": adversarial,
            "reconstruction_loss": reconstruction,
            "generator_loss": adversarial + self.reconstruction_weight * reconstruction,
        }

    def evaluate_batch(self, source, target, sample_weight=None):
        """Returns the four losses of one batch and the generated images.

        Nothing is trained; the networks run as at inference
        (`inference_mode`). `sample_weight` weights the reconstruction loss.
        """
        training = self.inference_mode == "train"
        fake = generate(self.generator, source, self.inference_mode)
        real_logits = self.discriminator([source, target], training=training)
        fake_logits = self.discriminator([source, fake], training=training)
        losses = {
            "discriminator_loss": self.discriminator_loss(real_logits, fake_logits),
            **self.generator_losses(fake_logits, target, fake, sample_weight),
        }
        return losses, fake

    def update_metrics(self, losses, target, fake):
        """Adds one batch to the loss trackers and image metrics.

        Returns:
            The logs: every metric's current result, by name.
        """
        for tracker in self.loss_trackers:
            tracker.update_state(losses[tracker.name])
        for metric in self.image_metrics:
            metric.update_state(target, fake)
        return {metric.name: metric.result() for metric in self.metrics}

    # === Serialization ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.layers.serialize(self.generator),
            "discriminator": keras.layers.serialize(self.discriminator),
            "inference_mode": self.inference_mode,
            "slice_spec": (
                None if self.slice_spec is None else self.slice_spec.get_config()
            ),
            "target_normalization": self.target_normalization,
            "contrasts": self.contrasts,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Saved before `inference_mode` existed: they predicted in "eval" mode.
        config.setdefault("inference_mode", "eval")
        for key in ("generator", "discriminator"):
            config[key] = keras.layers.deserialize(config[key])
        return cls(**config)
