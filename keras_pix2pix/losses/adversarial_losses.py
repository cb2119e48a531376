import keras
from keras import ops


def _as_float32(logits):
    return ops.cast(logits, "float32")


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class AdversarialLoss:
    """Base class of the GAN objectives a `Pix2Pix` model can train with.

    A GAN objective is two losses computed from the discriminator's logits:
    one the discriminator minimizes (real pairs high, generated pairs low)
    and one the generator minimizes (its pairs judged real). Subclasses
    implement both; every value is a float32 scalar, averaged over all
    logits, whatever the compute dtype.

    Example:
    ```python
    loss = keras_pix2pix.losses.VanillaGANLoss()
    d_loss = loss.discriminator_loss(real_logits, fake_logits)
    g_loss = loss.generator_loss(fake_logits)
    ```
    """

    def discriminator_loss(self, real_logits, fake_logits):
        """Returns the discriminator's loss: the real term plus the fake term.

        Args:
            real_logits: tensor. Discriminator logits for real pairs.
            fake_logits: tensor. Discriminator logits for generated pairs.

        Returns:
            A float32 scalar tensor.
        """
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        """Returns the generator's adversarial loss.

        Args:
            fake_logits: tensor. Discriminator logits for generated pairs.

        Returns:
            A float32 scalar tensor.
        """
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class VanillaGANLoss(AdversarialLoss):
    """The original GAN objective: binary cross-entropy on logits.

    The reference pix2pix's `gan_mode="vanilla"` and the paper's default.
    The generator uses the non-saturating form (its pairs labelled real).

    Example:
    ```python
    model.compile(adversarial_loss=keras_pix2pix.losses.VanillaGANLoss())
    ```

    Reference:
    - [Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014](https://arxiv.org/abs/1406.2661)
    """

    def discriminator_loss(self, real_logits, fake_logits):
        real, fake = _as_float32(real_logits), _as_float32(fake_logits)
        # BCE(sigmoid(x), 1) = softplus(-x); BCE(sigmoid(x), 0) = softplus(x).
        return ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake))

    def generator_loss(self, fake_logits):
        return ops.mean(ops.softplus(-_as_float32(fake_logits)))


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class LeastSquaresGANLoss(AdversarialLoss):
    """The least-squares GAN objective (LSGAN), the reference's `lsgan`.

    Real logits are regressed to 1 and generated ones to 0 with squared
    errors, which gives smoother gradients than cross-entropy.

    Example:
    ```python
    model.compile(adversarial_loss="least_squares")
    ```

    Reference:
    - [Mao et al., Least Squares Generative Adversarial Networks, ICCV 2017](https://arxiv.org/abs/1611.04076)
    """

    def discriminator_loss(self, real_logits, fake_logits):
        real, fake = _as_float32(real_logits), _as_float32(fake_logits)
        return ops.mean(ops.square(real - 1.0)) + ops.mean(ops.square(fake))

    def generator_loss(self, fake_logits):
        return ops.mean(ops.square(_as_float32(fake_logits) - 1.0))


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class HingeGANLoss(AdversarialLoss):
    """The hinge GAN objective of geometric GAN and SAGAN.

    The discriminator pushes real logits above 1 and generated ones below
    -1; the generator raises the logits of its pairs.

    Example:
    ```python
    model.compile(adversarial_loss="hinge")
    ```

    Reference:
    - [Lim and Ye, Geometric GAN, 2017](https://arxiv.org/abs/1705.02894)
    """

    def discriminator_loss(self, real_logits, fake_logits):
        real, fake = _as_float32(real_logits), _as_float32(fake_logits)
        return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))

    def generator_loss(self, fake_logits):
        return -ops.mean(_as_float32(fake_logits))


ADVERSARIAL_LOSSES = {
    "vanilla": VanillaGANLoss,
    "bce": VanillaGANLoss,
    "least_squares": LeastSquaresGANLoss,
    "lsgan": LeastSquaresGANLoss,
    "hinge": HingeGANLoss,
}


def get_adversarial_loss(identifier):
    """Returns the `AdversarialLoss` named by `identifier`.

    Args:
        identifier: an `AdversarialLoss`, or one of `"vanilla"` (alias
            `"bce"`), `"least_squares"` (alias `"lsgan"`), `"hinge"`.

    Returns:
        An `AdversarialLoss` instance.

    Example:
    ```python
    keras_pix2pix.losses.get_adversarial_loss("lsgan")
    ```
    """
    if isinstance(identifier, AdversarialLoss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ADVERSARIAL_LOSSES:
        return ADVERSARIAL_LOSSES[identifier.lower()]()
    raise ValueError(
        "`adversarial_loss` must be an AdversarialLoss or one of "
        f"{sorted(ADVERSARIAL_LOSSES)}. Received: {identifier!r}"
    )
