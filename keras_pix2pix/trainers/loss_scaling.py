"""Dynamic loss scaling of both Pix2Pix updates under `"mixed_float16"`.

Under the `"mixed_float16"` dtype policy, `keras.Model.compile` wraps the
model's optimizer, here the `MultiOptimizer` of both networks, in a
`keras.optimizers.LossScaleOptimizer`. Its `apply` takes the gradients of
every variable at once, but Pix2Pix updates its two networks one after the
other, so the trainers use its dynamic scale as `torch.amp.GradScaler` is
used with several optimizers: each network's loss is multiplied by the one
scale and its gradients divided by it, a network whose gradients are not
finite skips its update, and after both updates the scale is halved if
either was skipped, or doubled once `dynamic_growth_steps` steps in a row
updated both.
"""

import keras
from keras import ops


def loss_scaler(optimizer):
    """Returns `optimizer` if it is a `LossScaleOptimizer`, else `None`."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return None


def unscale(gradients, scale):
    """Returns the gradients of a loss multiplied by `scale`, divided by it."""
    return [g / ops.cast(scale, g.dtype) for g in gradients]


def next_loss_scale(scaler, step_counter, scale, finite):
    """Returns the scaler's next `(step_counter, dynamic_scale)` values.

    Args:
        scaler: the `LossScaleOptimizer`.
        step_counter: its current count of steps since the scale changed.
        scale: its current scale.
        finite: boolean scalar tensor, whether this step's gradients were
            all finite.
    """
    grow = ops.logical_and(
        finite, ops.equal(step_counter, scaler.dynamic_growth_steps - 1)
    )
    step_counter = ops.where(
        ops.logical_and(finite, ops.logical_not(grow)),
        step_counter + 1,
        ops.zeros_like(step_counter),
    )
    scale = ops.where(grow, scale * 2.0, ops.where(finite, scale, scale * 0.5))
    return step_counter, scale


def apply_scaled_gradients(scaler, optimizer, gradients, variables):
    """Applies the gradients of a scaled loss in place if they are finite.

    Args:
        scaler: the `LossScaleOptimizer`.
        optimizer: the optimizer of the network owning `variables`.
        gradients: gradients of the loss multiplied by the scaler's scale.
        variables: the network's trainable variables.

    Returns:
        Boolean scalar tensor: whether the gradients were finite (and so
        applied).
    """
    gradients = unscale(gradients, scaler.dynamic_scale)
    finite = scaler.check_finite(gradients)
    ops.cond(finite, lambda: optimizer.apply(gradients, variables), lambda: None)
    return finite


def update_loss_scale(scaler, finite):
    """Updates the scaler's variables in place after a step."""
    step_counter, scale = next_loss_scale(
        scaler, scaler.step_counter, scaler.dynamic_scale, finite
    )
    scaler.step_counter.assign(step_counter)
    scaler.dynamic_scale.assign(scale)
