import math
import numbers
import warnings

import keras

from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.errors import DataError
from keras_pix2pix.layers._conventions import channel_axis
from keras_pix2pix.layers._image_statistics import image_statistics
from keras_pix2pix.losses import get_adversarial_loss, get_reconstruction_loss
from keras_pix2pix.metrics import MAE, PSNR, SSIM
from keras_pix2pix.models.patchgan_discriminator import PatchGANDiscriminator
from keras_pix2pix.models.unet_generator import UNetGenerator
from keras_pix2pix.trainers import Pix2PixTrainer
from keras_pix2pix.utils.sample_weights import check_sample_weight

INFERENCE_MODES = ("eval", "per_image", "train")
LOSS_NAMES = (
    "discriminator_loss",
    "generator_adversarial_loss",
    "reconstruction_loss",
    "generator_loss",
)


IMAGE_METRICS = {"psnr": PSNR, "ssim": SSIM, "mae": MAE}


def _get_image_metric(identifier):
    if isinstance(identifier, str) and identifier.lower() in IMAGE_METRICS:
        return IMAGE_METRICS[identifier.lower()]()
    return keras.metrics.get(identifier)


def _default_optimizer():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)


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


class _OptimizerRouter:
    """Routes each trainable variable to the optimizer of its network."""

    def __init__(self, generator, generator_optimizer, discriminator_optimizer):
        self.generator_variables = {id(v) for v in generator.trainable_variables}
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    def __call__(self, variable):
        if id(variable) in self.generator_variables:
            return self.generator_optimizer
        return self.discriminator_optimizer


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
            `"eval"` (default): BatchNorm's moving statistics and no dropout,
            as Keras does. `"per_image"`: each BatchNorm normalizes each image
            by its own statistics (what training with batches of one image
            does), no dropout: deterministic, and independent of the batch
            size. `"train"`: dropout active and each batch's own statistics,
            as the reference pix2pix does at test time unless run with
            `--eval`, and as the paper did. The moving statistics are left as
            they were in every mode.
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
        inference_mode="eval",
        slice_spec=None,
        target_normalization=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if inference_mode not in INFERENCE_MODES:
            raise ValueError(
                f"`inference_mode` must be one of {INFERENCE_MODES}. "
                f"Received: inference_mode={inference_mode!r}"
            )
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
        self._check_networks(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.inference_mode = inference_mode
        self.slice_spec = self._check_slice_spec(slice_spec, generator)
        self.target_normalization = self._check_normalization(target_normalization)
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in LOSS_NAMES]
        self.image_metrics = []
        self.built = True

    @staticmethod
    def _check_slice_spec(slice_spec, generator):
        if slice_spec is None:
            return None
        if isinstance(slice_spec, dict):
            slice_spec = SliceSpec.from_config(slice_spec)
        if not isinstance(slice_spec, SliceSpec):
            raise ValueError(
                "`slice_spec` must be a SliceSpec, its config dict or None. "
                f"Received: {slice_spec!r}"
            )
        channels = generator.input_shape[channel_axis()]
        if slice_spec.channels != channels:
            raise ValueError(
                f"The generator takes {channels}-channel images, but the "
                f"slice_spec gives {slice_spec.channels} (context "
                f"{slice_spec.context}: 2 * context + 1 channels)."
            )
        return slice_spec

    @staticmethod
    def _check_normalization(target_normalization):
        if target_normalization is None:
            return None
        try:
            valid = all(
                math.isfinite(float(target_normalization[key]))
                for key in ("lower", "upper")
            )
        except (TypeError, KeyError, ValueError):
            valid = False
        if not valid:
            raise ValueError(
                "`target_normalization` must be a dict with finite 'lower' and "
                f"'upper' (see SliceInfo.target_normalization). Received: "
                f"{target_normalization!r}"
            )
        return dict(target_normalization)

    @staticmethod
    def _check_networks(generator, discriminator):
        if (
            not isinstance(discriminator.input, (list, tuple))
            or len(discriminator.input) != 2
        ):
            raise ValueError(
                "The discriminator must take two inputs, [source, target]. "
                f"Received a discriminator with inputs {discriminator.input}."
            )
        source_shape = tuple(discriminator.input[0].shape[1:])
        target_shape = tuple(discriminator.input[1].shape[1:])
        if source_shape != tuple(generator.input_shape[1:]) or target_shape != tuple(
            generator.output_shape[1:]
        ):
            raise ValueError(
                "The discriminator's inputs must match the generator's input and "
                f"output shapes: got discriminator inputs {source_shape} and "
                f"{target_shape}, generator {tuple(generator.input_shape[1:])} -> "
                f"{tuple(generator.output_shape[1:])}."
            )

    def call(self, inputs, training=None):
        return self._generate(inputs, training)

    def _generate(self, inputs, training=None):
        """The generator, in training or in the model's inference mode."""
        if self.inference_mode == "train":
            training = True
        if self.inference_mode == "per_image" and not training:
            with image_statistics():
                return self.generator(inputs, training=False)
        return self.generator(inputs, training=training)

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
        for name, value in (
            ("reconstruction_weight", reconstruction_weight),
            ("discriminator_loss_weight", discriminator_loss_weight),
        ):
            if not (isinstance(value, numbers.Real) and math.isfinite(value)) or (
                value < 0
            ):
                raise ValueError(
                    f"`{name}` must be a finite number >= 0. Received: {name}={value}"
                )
        generator_optimizer = (
            _default_optimizer()
            if generator_optimizer is None
            else keras.optimizers.get(generator_optimizer)
        )
        discriminator_optimizer = (
            _default_optimizer()
            if discriminator_optimizer is None
            else keras.optimizers.get(discriminator_optimizer)
        )
        if generator_optimizer is discriminator_optimizer:
            raise ValueError(
                "The generator and the discriminator need two optimizer instances; "
                "the same instance was passed for both."
            )
        for name in ("optimizer", "loss"):
            if name in kwargs:
                raise ValueError(
                    f"Pix2Pix.compile() does not take `{name}`: pass "
                    "`generator_optimizer`, `discriminator_optimizer`, "
                    "`adversarial_loss` and `reconstruction_loss` instead."
                )
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.adversarial_loss = get_adversarial_loss(adversarial_loss)
        self.reconstruction_loss = get_reconstruction_loss(reconstruction_loss)
        self.reconstruction_weight = float(reconstruction_weight)
        self.discriminator_loss_weight = float(discriminator_loss_weight)
        self.image_metrics = [_get_image_metric(m) for m in metrics or []]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"Metric names must be unique. Received: {names}")
        # One optimizer object that owns the variables of both, so that the
        # trainers of every backend (JAX's threads only `self.optimizer`)
        # carry and save the state of both.
        optimizer = keras.optimizers.MultiOptimizer(
            _OptimizerRouter(
                self.generator, generator_optimizer, discriminator_optimizer
            )
        )
        if kwargs.get("jit_compile", "auto") == "auto":
            kwargs["jit_compile"] = self.auto_jit_compile
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)
        self._check_variable_order()

    def _check_variable_order(self):
        """The trainers split the model's variables by network, by position."""
        expected = [
            self.generator.trainable_variables + self.discriminator.trainable_variables,
            self.generator.non_trainable_variables
            + self.discriminator.non_trainable_variables,
        ]
        actual = [self.trainable_variables, self.non_trainable_variables]
        for want, got in zip(expected, actual, strict=True):
            if [id(v) for v in want] != [id(v) for v in got]:
                raise ValueError(
                    "Pix2Pix must own no variables besides those of its generator "
                    "and discriminator (generator's first)."
                )

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "generator_optimizer": keras.optimizers.serialize(self.generator_optimizer),
            "discriminator_optimizer": keras.optimizers.serialize(
                self.discriminator_optimizer
            ),
            "adversarial_loss": keras.saving.serialize_keras_object(
                self.adversarial_loss
            ),
            "reconstruction_loss": keras.losses.serialize(self.reconstruction_loss),
            "reconstruction_weight": self.reconstruction_weight,
            "discriminator_loss_weight": self.discriminator_loss_weight,
            "metrics": [
                keras.saving.serialize_keras_object(m) for m in self.image_metrics
            ],
        }

    def compile_from_config(self, config):
        self.compile(
            generator_optimizer=keras.optimizers.deserialize(
                config["generator_optimizer"]
            ),
            discriminator_optimizer=keras.optimizers.deserialize(
                config["discriminator_optimizer"]
            ),
            adversarial_loss=keras.saving.deserialize_keras_object(
                config["adversarial_loss"]
            ),
            reconstruction_loss=keras.losses.deserialize(config["reconstruction_loss"]),
            reconstruction_weight=config["reconstruction_weight"],
            discriminator_loss_weight=config["discriminator_loss_weight"],
            metrics=[
                keras.saving.deserialize_keras_object(m)
                for m in config.get("metrics", [])
            ],
        )

    def _compile_if_needed(self):
        if not self.compiled:
            warnings.warn(
                "Pix2Pix was not compiled: compiling with the paper's defaults, "
                "Adam(2e-4, beta_1=0.5) for both networks, the vanilla GAN loss "
                "and L1 weighted 100. Call `compile()` to choose.",
                stacklevel=3,
            )
            self.compile()

    def _check_images(self, source, target=None, role=""):
        """Raises `DataError` if arrays of images cannot feed the networks.

        Arrays and tensors are checked (rank, per-image shape, floating
        dtype); datasets and generators, which have no `shape`, are not.
        """
        for images, kind, network in (
            (source, "source", self.generator.input_shape),
            (target, "target", self.generator.output_shape),
        ):
            shape = getattr(images, "shape", None)
            if shape is None or not hasattr(images, "dtype"):
                continue
            name = f"{role}{kind}"
            shape, expected = tuple(shape), tuple(network[1:])
            try:
                dtype = keras.backend.standardize_dtype(images.dtype)
            except ValueError:
                dtype = str(images.dtype)
            if not dtype.startswith(("float", "bfloat")):
                raise DataError(
                    f"The {name} images are of dtype {dtype}; Pix2Pix needs "
                    "floating-point images scaled to [-1, 1]. Convert them, e.g. "
                    "`images.astype('float32') / 127.5 - 1` for 8-bit images."
                )
            if len(shape) != len(expected) + 1 or any(
                want is not None and want != got
                for want, got in zip(expected, shape[1:], strict=True)
            ):
                raise DataError(
                    f"The {name} images have shape {shape}, but the model takes "
                    f"batches of shape (N, {', '.join(map(str, expected))}) "
                    f"({keras.config.image_data_format()}). Add the channel axis, "
                    "resize or crop the images and match the number of channels, "
                    "or build the model for these images."
                )
        count = [len(a) for a in (source, target) if hasattr(a, "shape")]
        if len(count) == 2 and count[0] != count[1]:
            raise DataError(
                f"The {role}source and target arrays hold {count[0]} and "
                f"{count[1]} images: they must be pairs, target i for source i."
            )

    def _check_sample_weight(self, sample_weight, source, role=""):
        """Raises `DataError` if an array of weights cannot weight `source`.

        Tensors and arrays are checked (see `check_sample_weight`), `None` is
        not.
        """
        if sample_weight is None or not hasattr(sample_weight, "shape"):
            return
        images = getattr(source, "shape", None)
        check_sample_weight(
            sample_weight,
            None if images is None else tuple(images),
            name=f"{role}sample_weight",
            channels_last=channel_axis() == -1,
        )

    def fit(self, x=None, y=None, *args, **kwargs):
        self._compile_if_needed()
        self._check_images(x, y)
        self._check_sample_weight(kwargs.get("sample_weight"), x)
        validation = kwargs.get("validation_data")
        if isinstance(validation, (tuple, list)) and len(validation) >= 2:
            self._check_images(*validation[:2], role="validation ")
            if len(validation) == 3:
                self._check_sample_weight(
                    validation[2], validation[0], role="validation "
                )
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._compile_if_needed()
        self._check_images(x, y)
        self._check_sample_weight(kwargs.get("sample_weight"), x)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check_images(x)
        if self.inference_mode == "eval":
            return super().predict(x, *args, **kwargs)
        # Train-mode inference normalizes each batch with its own statistics;
        # it must not also replace BatchNorm's moving averages, which
        # eval-mode inference and further training use.
        moving = [
            v
            for v in self.generator.non_trainable_variables
            if v.name in ("moving_mean", "moving_variance")
        ]
        state = [keras.ops.convert_to_numpy(v) for v in moving]
        try:
            return super().predict(x, *args, **kwargs)
        finally:
            for variable, value in zip(moving, state, strict=True):
                variable.assign(value)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        self._compile_if_needed()
        self._check_images(x, y)
        self._check_sample_weight(kwargs.get("sample_weight"), x)
        return super().train_on_batch(x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        self._compile_if_needed()
        self._check_images(x, y)
        self._check_sample_weight(kwargs.get("sample_weight"), x)
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
        fake = self._generate(source)
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
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.layers.deserialize(config[key])
        return cls(**config)
