import tensorflow as tf

from keras_pix2pix.trainers.pairs import unpack_pair


class TensorFlowPix2PixTrainer:
    """Pix2Pix steps on the TensorFlow backend, with `tf.GradientTape`."""

    # `jit_compile="auto"` means XLA on TensorFlow, which runs the reference
    # 256x256 step slower on CPU than plain graph mode (1.01 s against 0.73 s
    # per step on 2 cores; benchmarks/RESULTS.md), so "auto" means no XLA here.
    auto_jit_compile = False

    def train_step(self, data):
        source, target = unpack_pair(data)
        generator, discriminator = self.generator, self.discriminator
        # One generator forward pass serves both updates, as in the
        # reference; the discriminator's update is not recorded on its tape.
        with tf.GradientTape() as generator_tape:
            fake = generator(source, training=True)
            with generator_tape.stop_recording(), tf.GradientTape() as tape:
                real_logits = discriminator([source, target], training=True)
                fake_logits = discriminator(
                    [source, tf.stop_gradient(fake)], training=True
                )
                discriminator_loss = self.discriminator_loss(real_logits, fake_logits)
            gradients = tape.gradient(
                discriminator_loss, discriminator.trainable_variables
            )
            self.discriminator_optimizer.apply(
                gradients, discriminator.trainable_variables
            )
            fake_logits = discriminator([source, fake], training=True)
            losses = self.generator_losses(fake_logits, target, fake)
        gradients = generator_tape.gradient(
            losses["generator_loss"], generator.trainable_variables
        )
        self.generator_optimizer.apply(gradients, generator.trainable_variables)
        self.optimizer.iterations.assign_add(1)
        losses["discriminator_loss"] = discriminator_loss
        return self.update_metrics(losses, target, fake)

    def test_step(self, data):
        source, target = unpack_pair(data)
        losses, fake = self.evaluate_batch(source, target)
        return self.update_metrics(losses, target, fake)
