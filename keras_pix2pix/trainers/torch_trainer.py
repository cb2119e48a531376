import torch

from keras_pix2pix.trainers.loss_scaling import (
    apply_scaled_gradients,
    loss_scaler,
    update_loss_scale,
)
from keras_pix2pix.trainers.pairs import unpack_pair
from keras_pix2pix.trainers.torch_fused_adam import apply_adam, can_fuse


def _gradients(loss, variables, scaler):
    if scaler is not None:
        loss = scaler.scale_loss(loss)
    return torch.autograd.grad(loss, [v.value for v in variables])


def _apply(scaler, optimizer, gradients, variables):
    """Applies the gradients; returns whether they were finite if scaled."""
    with torch.no_grad():
        if scaler is None:
            if can_fuse(optimizer, variables):
                apply_adam(optimizer, gradients, variables)
            else:
                optimizer.apply(gradients, variables)
            return None
        return apply_scaled_gradients(scaler, optimizer, gradients, variables)


class TorchPix2PixTrainer:
    """Pix2Pix steps on the PyTorch backend, with `torch.autograd`."""

    # What `jit_compile="auto"` resolves to: Keras's own choice.
    auto_jit_compile = "auto"

    def train_step(self, data):
        source, target, sample_weight = unpack_pair(data)
        generator, discriminator = self.generator, self.discriminator
        scaler = loss_scaler(self.optimizer)
        # One generator forward pass serves both updates, as in the reference.
        fake = generator(source, training=True)
        real_logits = discriminator([source, target], training=True)
        fake_logits = discriminator([source, fake.detach()], training=True)
        discriminator_loss = self.discriminator_loss(real_logits, fake_logits)
        variables = discriminator.trainable_variables
        gradients = _gradients(discriminator_loss, variables, scaler)
        discriminator_finite = _apply(
            scaler, self.discriminator_optimizer, gradients, variables
        )
        fake_logits = discriminator([source, fake], training=True)
        losses = self.generator_losses(fake_logits, target, fake, sample_weight)
        # Only the generator's gradients are computed, not the discriminator's.
        variables = generator.trainable_variables
        gradients = _gradients(losses["generator_loss"], variables, scaler)
        generator_finite = _apply(
            scaler, self.generator_optimizer, gradients, variables
        )
        with torch.no_grad():
            if scaler is not None:
                update_loss_scale(
                    scaler, torch.logical_and(discriminator_finite, generator_finite)
                )
            self.optimizer.iterations.assign_add(1)
        losses["discriminator_loss"] = discriminator_loss
        losses = {name: value.detach() for name, value in losses.items()}
        return self.update_metrics(losses, target, fake.detach())

    def unscale_loss_for_distribution(self, loss):
        """Returns `loss`: Keras losses are global means on this backend."""
        return loss

    def test_step(self, data):
        source, target, sample_weight = unpack_pair(data)
        with torch.no_grad():
            losses, fake = self.evaluate_batch(source, target, sample_weight)
        return self.update_metrics(losses, target, fake)
