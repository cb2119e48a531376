"""What `Pix2Pix.compile` takes, checks and saves.

Two optimizers (Adam(2e-4, beta_1=0.5) each by default, as in the paper),
routed to their networks' variables by one `keras.optimizers.MultiOptimizer`;
the weights of the losses; the image metrics by name (`"psnr"`, `"ssim"`,
`"mae"`); the check that the model owns its networks' variables only, in
the order the trainers expect; and the compile config saved in `.keras` files
and read back.
"""

import math
import numbers

import keras

from keras_pix2pix.metrics import MAE, PSNR, SSIM

IMAGE_METRICS = {"psnr": PSNR, "ssim": SSIM, "mae": MAE}


def get_image_metric(identifier):
    """A metric instance: one of `IMAGE_METRICS` by name, else Keras's."""
    if isinstance(identifier, str) and identifier.lower() in IMAGE_METRICS:
        return IMAGE_METRICS[identifier.lower()]()
    return keras.metrics.get(identifier)


def _default_optimizer():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)


class OptimizerRouter:
    """Routes each trainable variable to the optimizer of its network."""

    def __init__(self, generator, generator_optimizer, discriminator_optimizer):
        self.generator_variables = {id(v) for v in generator.trainable_variables}
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    def __call__(self, variable):
        if id(variable) in self.generator_variables:
            return self.generator_optimizer
        return self.discriminator_optimizer


def check_loss_weights(**weights):
    """Raises `ValueError` unless every weight is a finite number >= 0."""
    for name, value in weights.items():
        if not (isinstance(value, numbers.Real) and math.isfinite(value)) or (
            value < 0
        ):
            raise ValueError(
                f"`{name}` must be a finite number >= 0. Received: {name}={value}"
            )


def get_optimizers(generator_optimizer, discriminator_optimizer):
    """The two optimizer instances, the paper's Adam for each `None`.

    Raises:
        ValueError: if both are the same instance.
    """
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
    return generator_optimizer, discriminator_optimizer


def check_compile_kwargs(kwargs):
    """Raises `ValueError` for the `keras.Model.compile` arguments Pix2Pix replaces."""
    for name in ("optimizer", "loss"):
        if name in kwargs:
            raise ValueError(
                f"Pix2Pix.compile() does not take `{name}`: pass "
                "`generator_optimizer`, `discriminator_optimizer`, "
                "`adversarial_loss` and `reconstruction_loss` instead."
            )


def check_variable_order(model):
    """Raises `ValueError` unless a `Pix2Pix` owns its networks' variables only.

    The trainers split the model's variables by network, by position: the
    generator's first, then the discriminator's.
    """
    expected = [
        model.generator.trainable_variables + model.discriminator.trainable_variables,
        model.generator.non_trainable_variables
        + model.discriminator.non_trainable_variables,
    ]
    actual = [model.trainable_variables, model.non_trainable_variables]
    for want, got in zip(expected, actual, strict=True):
        if [id(v) for v in want] != [id(v) for v in got]:
            raise ValueError(
                "Pix2Pix must own no variables besides those of its generator "
                "and discriminator (generator's first)."
            )


def serialize_compile_config(model):
    """The compile config of a compiled `Pix2Pix`, as JSON-ready values."""
    return {
        "generator_optimizer": keras.optimizers.serialize(model.generator_optimizer),
        "discriminator_optimizer": keras.optimizers.serialize(
            model.discriminator_optimizer
        ),
        "adversarial_loss": keras.saving.serialize_keras_object(model.adversarial_loss),
        "reconstruction_loss": keras.losses.serialize(model.reconstruction_loss),
        "reconstruction_weight": model.reconstruction_weight,
        "discriminator_loss_weight": model.discriminator_loss_weight,
        "metrics": [
            keras.saving.serialize_keras_object(m) for m in model.image_metrics
        ],
    }


def deserialize_compile_config(config):
    """The `Pix2Pix.compile` arguments of a saved compile config."""
    return {
        "generator_optimizer": keras.optimizers.deserialize(
            config["generator_optimizer"]
        ),
        "discriminator_optimizer": keras.optimizers.deserialize(
            config["discriminator_optimizer"]
        ),
        "adversarial_loss": keras.saving.deserialize_keras_object(
            config["adversarial_loss"]
        ),
        "reconstruction_loss": keras.losses.deserialize(config["reconstruction_loss"]),
        "reconstruction_weight": config["reconstruction_weight"],
        "discriminator_loss_weight": config["discriminator_loss_weight"],
        "metrics": [
            keras.saving.deserialize_keras_object(m) for m in config.get("metrics", [])
        ],
    }
