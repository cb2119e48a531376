import jax
import keras

from keras_pix2pix.trainers.loss_scaling import loss_scaler, next_loss_scale, unscale
from keras_pix2pix.trainers.pairs import unpack_pair


def _positions(variables, subset):
    """Indices of the variables of `subset` within `variables`."""
    index = {id(v): i for i, v in enumerate(variables)}
    return [index[id(v)] for v in subset]


def _apply(optimizer, slot_values, gradients, variables, scaler, scale):
    """Returns the variables and slots after a stateless update.

    With a loss `scaler`, the gradients are those of the loss multiplied by
    `scale`: they are divided by it and the update is skipped if any is not
    finite. The third value returned is whether they were (`None` without a
    scaler).
    """
    if scaler is None:
        return (*optimizer.stateless_apply(slot_values, gradients, variables), None)
    gradients = unscale(gradients, scale)
    finite = scaler.check_finite(gradients)
    variables, slot_values = jax.lax.cond(
        finite,
        lambda: optimizer.stateless_apply(slot_values, gradients, variables),
        lambda: (list(variables), list(slot_values)),
    )
    return variables, slot_values, finite


def _unshare_buffers(variables):
    """Gives each variable a buffer of its own.

    At the end of `fit`, an optimizer with `use_ema=True` assigns its averages
    to the weights, and on JAX the two variables then hold the same array.
    Keras's compiled step donates the state's buffers, and XLA refuses one
    buffer donated twice, so the next `fit` or `train_on_batch` would fail
    (Keras 3.15 does the same with its own models).
    """
    seen = set()
    for variable in variables:
        if id(variable.value) in seen:
            variable.assign(jax.numpy.copy(variable.value))
        seen.add(id(variable.value))


class JAXPix2PixTrainer:
    """Pix2Pix steps on the JAX backend: pure functions of the state.

    Keras's JAX trainer threads `(trainable, non_trainable, optimizer,
    metrics)` variable values through `train_step`. `Pix2Pix.compile` makes
    `self.optimizer` a `MultiOptimizer` over both networks' optimizers, so
    the optimizer part of the state holds the slots of both; this step picks
    each network's slice, updates it with `stateless_apply` and puts it back.
    Under `"mixed_float16"` the optimizer is a `LossScaleOptimizer` around
    that `MultiOptimizer`, whose scale and step counter are in the state too.
    Under `keras.distribution.DataParallel`, Keras shards the batch and
    replicates this state across the devices; the step itself is unchanged.
    """

    # What `jit_compile="auto"` resolves to: Keras's own choice (XLA).
    auto_jit_compile = "auto"

    def fit(self, *args, **kwargs):
        self._unshare_state()
        return super().fit(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        self._unshare_state()
        return super().train_on_batch(*args, **kwargs)

    def _unshare_state(self):
        optimizer = getattr(self, "optimizer", None)
        _unshare_buffers(
            [*self.variables, *(optimizer.variables if optimizer is not None else [])]
        )

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_values, metrics_values = state
        source, target, sample_weight = unpack_pair(data)
        generator, discriminator = self.generator, self.discriminator
        split = len(generator.trainable_variables)
        g_trainable, d_trainable = trainable[:split], trainable[split:]
        split = len(generator.non_trainable_variables)
        g_state, d_state = non_trainable[:split], non_trainable[split:]
        optimizer_values = list(optimizer_values)
        g_slots = _positions(
            self.optimizer.variables, self.generator_optimizer.variables
        )
        d_slots = _positions(
            self.optimizer.variables, self.discriminator_optimizer.variables
        )
        scaler = loss_scaler(self.optimizer)
        if scaler is None:
            scale = None
        else:
            scaler_slots = _positions(
                self.optimizer.variables, [scaler.step_counter, scaler.dynamic_scale]
            )
            scale = optimizer_values[scaler_slots[1]]

        def scaled(loss):
            return loss if scale is None else loss * scale

        # One generator forward pass serves both updates, as in the
        # reference: its VJP turns the gradient with respect to the generated
        # image into the generator's gradients.
        def generate(g_trainable):
            return generator.stateless_call(g_trainable, g_state, source, training=True)

        fake, generator_vjp, g_state = jax.vjp(generate, g_trainable, has_aux=True)

        def discriminator_loss(d_trainable, d_state):
            real_logits, d_state = discriminator.stateless_call(
                d_trainable, d_state, [source, target], training=True
            )
            fake_logits, d_state = discriminator.stateless_call(
                d_trainable,
                d_state,
                [source, jax.lax.stop_gradient(fake)],
                training=True,
            )
            loss = self.discriminator_loss(real_logits, fake_logits)
            return scaled(loss), (loss, d_state)

        (_, (loss, d_state)), gradients = jax.value_and_grad(
            discriminator_loss, has_aux=True
        )(d_trainable, d_state)
        d_trainable, d_slot_values, d_finite = _apply(
            self.discriminator_optimizer,
            [optimizer_values[i] for i in d_slots],
            gradients,
            d_trainable,
            scaler,
            scale,
        )
        losses = {"discriminator_loss": loss}

        def generator_loss(fake, d_state):
            fake_logits, d_state = discriminator.stateless_call(
                d_trainable, d_state, [source, fake], training=True
            )
            values = self.generator_losses(fake_logits, target, fake, sample_weight)
            return scaled(values["generator_loss"]), (values, d_state)

        (_, (values, d_state)), fake_gradient = jax.value_and_grad(
            generator_loss, has_aux=True
        )(fake, d_state)
        losses.update(values)
        (gradients,) = generator_vjp(fake_gradient)
        g_trainable, g_slot_values, g_finite = _apply(
            self.generator_optimizer,
            [optimizer_values[i] for i in g_slots],
            gradients,
            g_trainable,
            scaler,
            scale,
        )

        for slots, slot_values in ((g_slots, g_slot_values), (d_slots, d_slot_values)):
            for i, value in zip(slots, slot_values, strict=True):
                optimizer_values[i] = value
        (i,) = _positions(self.optimizer.variables, [self.optimizer.iterations])
        optimizer_values[i] = optimizer_values[i] + 1
        if scaler is not None:
            counter, scale = next_loss_scale(
                scaler,
                optimizer_values[scaler_slots[0]],
                scale,
                jax.numpy.logical_and(d_finite, g_finite),
            )
            optimizer_values[scaler_slots[0]] = counter
            optimizer_values[scaler_slots[1]] = scale

        logs, metrics_values = self._stateless_update_metrics(
            metrics_values, losses, target, fake
        )
        state = (
            list(g_trainable) + list(d_trainable),
            list(g_state) + list(d_state),
            optimizer_values,
            metrics_values,
        )
        return logs, state

    def unscale_loss_for_distribution(self, loss):
        """Returns `loss`: Keras losses are global means on this backend."""
        return loss

    def test_step(self, state, data):
        trainable, non_trainable, metrics_values = state
        variables = self.trainable_variables + self.non_trainable_variables
        with keras.StatelessScope(
            state_mapping=list(
                zip(variables, [*trainable, *non_trainable], strict=True)
            )
        ) as scope:
            source, target, sample_weight = unpack_pair(data)
            losses, fake = self.evaluate_batch(source, target, sample_weight)
        non_trainable = [
            scope.get_current_value(v)
            if scope.get_current_value(v) is not None
            else value
            for v, value in zip(
                self.non_trainable_variables, non_trainable, strict=True
            )
        ]
        logs, metrics_values = self._stateless_update_metrics(
            metrics_values, losses, target, fake
        )
        return logs, (trainable, non_trainable, metrics_values)

    def _stateless_update_metrics(self, metrics_values, losses, target, fake):
        logs, new_values, start = {}, [], 0
        for metric in self.metrics:
            stop = start + len(metric.variables)
            values = metrics_values[start:stop]
            if metric.name in losses:
                values = metric.stateless_update_state(values, losses[metric.name])
            else:
                values = metric.stateless_update_state(values, target, fake)
            logs[metric.name] = metric.stateless_result(values)
            new_values.extend(values)
            start = stop
        return logs, new_values
