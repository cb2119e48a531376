import tensorflow as tf

from keras_pix2pix.trainers.loss_scaling import (
    apply_scaled_gradients,
    loss_scaler,
    update_loss_scale,
)
from keras_pix2pix.trainers.pairs import unpack_pair


class TensorFlowPix2PixTrainer:
    """Pix2Pix steps on the TensorFlow backend, with `tf.GradientTape`.

    Under a `tf.distribute` strategy each replica runs this step on its
    share of the global batch and computes the losses of that share; the
    optimizers sum the replicas' gradients, so each replica differentiates
    its losses divided by the number of replicas, as Keras's own TensorFlow
    trainer does.
    """

    # `jit_compile="auto"` means XLA on TensorFlow, which runs the reference
    # 256x256 step slower on CPU than plain graph mode (1.01 s against 0.73 s
    # per step on 2 cores; benchmarks/RESULTS.md), so "auto" means no XLA here.
    auto_jit_compile = False

    def train_step(self, data):
        source, target, sample_weight = unpack_pair(data)
        generator, discriminator = self.generator, self.discriminator
        scaler = loss_scaler(self.optimizer)
        if scaler is not None and tf.distribute.has_strategy():
            raise NotImplementedError(
                "Pix2Pix does not support loss scaling (the 'mixed_float16' "
                "policy) under a tf.distribute strategy on TensorFlow: its "
                "updates are skipped conditionally, which tf.distribute cannot "
                "synchronize. Use the 'mixed_bfloat16' policy, which needs no "
                "loss scaling, or the JAX backend."
            )
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
                loss = _replica_loss(discriminator_loss, scaler)
            gradients = tape.gradient(loss, discriminator.trainable_variables)
            discriminator_finite = _apply(
                scaler,
                self.discriminator_optimizer,
                gradients,
                discriminator.trainable_variables,
            )
            fake_logits = discriminator([source, fake], training=True)
            losses = self.generator_losses(fake_logits, target, fake, sample_weight)
            loss = _replica_loss(losses["generator_loss"], scaler)
        gradients = generator_tape.gradient(loss, generator.trainable_variables)
        generator_finite = _apply(
            scaler,
            self.generator_optimizer,
            gradients,
            generator.trainable_variables,
        )
        if scaler is not None:
            update_loss_scale(
                scaler, tf.logical_and(discriminator_finite, generator_finite)
            )
        self.optimizer.iterations.assign_add(1)
        losses["discriminator_loss"] = discriminator_loss
        return self.update_metrics(losses, target, fake)

    def test_step(self, data):
        source, target, sample_weight = unpack_pair(data)
        losses, fake = self.evaluate_batch(source, target, sample_weight)
        return self.update_metrics(losses, target, fake)

    def unscale_loss_for_distribution(self, loss):
        """Returns the mean of the global batch from a Keras loss's value.

        Under a strategy, a `keras.losses.Loss` divides its value by the
        number of replicas (for gradients summed across them).
        """
        return loss * tf.distribute.get_strategy().num_replicas_in_sync


def _replica_loss(loss, scaler):
    """Returns the loss this replica differentiates.

    That is its share of the global batch's mean, multiplied by the loss
    scale under `"mixed_float16"`.
    """
    loss = loss / tf.distribute.get_strategy().num_replicas_in_sync
    return loss if scaler is None else scaler.scale_loss(loss)


def _apply(scaler, optimizer, gradients, variables):
    """Applies the gradients; returns whether they were finite if scaled."""
    if scaler is None:
        optimizer.apply(gradients, variables)
        return None
    return apply_scaled_gradients(scaler, optimizer, gradients, variables)
