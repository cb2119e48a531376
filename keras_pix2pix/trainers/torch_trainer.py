import torch

from keras_pix2pix.trainers.pairs import unpack_pair


def _gradients(loss, variables):
    return torch.autograd.grad(loss, [v.value for v in variables])


class TorchPix2PixTrainer:
    """Pix2Pix steps on the PyTorch backend, with `torch.autograd`."""

    # What `jit_compile="auto"` resolves to: Keras's own choice.
    auto_jit_compile = "auto"

    def train_step(self, data):
        source, target = unpack_pair(data)
        generator, discriminator = self.generator, self.discriminator
        # One generator forward pass serves both updates, as in the reference.
        fake = generator(source, training=True)
        real_logits = discriminator([source, target], training=True)
        fake_logits = discriminator([source, fake.detach()], training=True)
        discriminator_loss = self.discriminator_loss(real_logits, fake_logits)
        gradients = _gradients(discriminator_loss, discriminator.trainable_variables)
        with torch.no_grad():
            self.discriminator_optimizer.apply(
                gradients, discriminator.trainable_variables
            )
        fake_logits = discriminator([source, fake], training=True)
        losses = self.generator_losses(fake_logits, target, fake)
        # Only the generator's gradients are computed, not the discriminator's.
        gradients = _gradients(losses["generator_loss"], generator.trainable_variables)
        with torch.no_grad():
            self.generator_optimizer.apply(gradients, generator.trainable_variables)
            self.optimizer.iterations.assign_add(1)
        losses["discriminator_loss"] = discriminator_loss
        losses = {name: value.detach() for name, value in losses.items()}
        return self.update_metrics(losses, target, fake.detach())

    def test_step(self, data):
        source, target = unpack_pair(data)
        with torch.no_grad():
            losses, fake = self.evaluate_batch(source, target)
        return self.update_metrics(losses, target, fake)
