"""Keras's Adam update, computed by PyTorch's fused kernel.

On the torch backend, `keras.optimizers.Adam` updates its variables through a
chain of `torch._foreach_*` operations that write every moment and make four
temporary copies of all the gradients: for the 54 million parameters of
`unet_256` that is a quarter of a training step on a CPU. PyTorch's fused Adam
kernel makes the same update in one pass over the memory.

`apply_adam` gives that kernel Keras's optimizer state (its moment variables,
learning rate, betas, iteration count) so the update stays Keras's own, to
float rounding: Keras adds epsilon to the square root of the uncorrected
second moment, PyTorch to the corrected one, so epsilon is passed to the
kernel divided by `sqrt(1 - beta_2**t)`. With `use_ema=True` the moving
averages of the weights follow in one more pass (`torch._foreach_lerp_`), as
Keras updates them after each step. Optimizers that use anything else
(gradient clipping, weight decay, AMSGrad, an EMA that overwrites the
weights every `ema_overwrite_frequency` steps, gradient accumulation,
loss-scale factors, variable constraints, or another class than Adam) are
left to `optimizer.apply`.
"""

import math

import keras
import torch
from torch.optim.adam import adam as torch_adam

_KERAS_FEATURES = (
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "weight_decay",
    "ema_overwrite_frequency",
    "gradient_accumulation_steps",
    "loss_scale_factor",
    "amsgrad",
)


def can_fuse(optimizer, variables):
    """Whether `apply_adam` computes exactly what `optimizer.apply` would.

    Args:
        optimizer: a built Keras optimizer.
        variables: the variables to update.

    Returns:
        True for a plain `keras.optimizers.Adam` (with or without EMA, none of
        the other features listed in the module docstring) whose betas and
        epsilon are numbers.
    """
    # On torch, `keras.optimizers.Adam()` builds the backend's own `Adam`
    # subclass, and `AdamW` (and user subclasses) derive from it: only the
    # class named Adam itself does exactly this update.
    if type(optimizer).__name__ != "Adam" or not isinstance(
        optimizer, keras.optimizers.Adam
    ):
        return False
    if any(getattr(optimizer, name, None) for name in _KERAS_FEATURES):
        return False
    numbers = (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
    if not all(isinstance(n, (int, float)) for n in numbers):
        return False
    return all(getattr(v, "constraint", None) is None for v in variables)


# Under `torch.compile` (`jit_compile=True`) this runs eagerly: the kernel is
# already one pass, and Dynamo's fake tensors do not follow the `.data`
# re-layout of the moments, so tracing it would fail.
@torch.compiler.disable
def apply_adam(optimizer, gradients, variables):
    """One Adam step of `optimizer` on `variables`, in PyTorch's fused kernel.

    Call it under `torch.no_grad()`, only where `can_fuse` is true. Like
    `optimizer.apply`, it advances `optimizer.iterations` by one.

    Args:
        optimizer: a built `keras.optimizers.Adam`.
        gradients: one tensor per variable.
        variables: the Keras variables the optimizer was built with (or a
            subset of them).
    """
    step = int(optimizer.iterations.value.item()) + 1
    beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
    learning_rate = optimizer.learning_rate  # a variable, or a schedule's tensor
    learning_rate = float(getattr(learning_rate, "value", learning_rate))
    indices = [optimizer._get_variable_index(v) for v in variables]
    # The kernel counts the step itself: it adds one to each of these first.
    steps = [torch.tensor(float(step - 1)) for _ in variables]
    values = [v.value for v in variables]
    momentums = [optimizer._momentums[i].value for i in indices]
    velocities = [optimizer._velocities[i].value for i in indices]
    for value, momentum, velocity in zip(values, momentums, velocities, strict=True):
        _match_layout(momentum, value)
        _match_layout(velocity, value)
    gradients = [_in_layout_of(v, g) for g, v in zip(gradients, values, strict=True)]
    torch_adam(
        [_flat(v) for v in values],
        [_flat(g) for g in gradients],
        [_flat(m) for m in momentums],
        [_flat(v) for v in velocities],
        [],
        steps,
        fused=True,
        amsgrad=False,
        beta1=beta_1,
        beta2=beta_2,
        lr=learning_rate,
        weight_decay=0.0,
        eps=float(optimizer.epsilon) / math.sqrt(1.0 - beta_2**step),
        maximize=False,
    )
    if optimizer.use_ema:
        _update_averages(optimizer, indices, values, first=step == 1)
    optimizer.iterations.assign_add(1)


def _update_averages(optimizer, indices, values, first):
    """Keras's EMA of the weights: `m * average + (1 - m) * weight`.

    `m` is the optimizer's `ema_momentum`, and 0 at the first step (the
    average starts at the weights), as in `keras.optimizers.Optimizer`.
    """
    averages = [optimizer._model_variables_moving_average[i] for i in indices]
    pairs = [
        (a.value, v) for a, v in zip(averages, values, strict=True) if a is not None
    ]
    for average, value in pairs:
        _match_layout(average, value)
    momentum = 0.0 if first else float(optimizer.ema_momentum)
    torch._foreach_lerp_([a for a, _ in pairs], [v for _, v in pairs], 1.0 - momentum)


def _in_layout_of(value, tensor):
    """`tensor`, or a copy of it in the memory order of `value` if it differs."""
    if tensor.stride() == value.stride():
        return tensor
    return torch.empty_like(value).copy_(tensor)


def _match_layout(state, value):
    """Stores optimizer state `state` in the memory order of `value`, once."""
    state.data = _in_layout_of(value, state.data)


def _flat(tensor):
    """A one-dimensional view of a dense tensor's memory, in memory order."""
    order = sorted(range(tensor.ndim), key=lambda axis: -tensor.stride(axis))
    return tensor.permute(order).view(-1)
