import math
import warnings

import keras
import numpy as np


def non_finite_losses(logs):
    """The losses in `logs` that are NaN or infinite.

    Only entries whose name ends with `loss` are checked: image metrics such
    as PSNR are legitimately infinite for a perfect reconstruction.

    Args:
        logs: dict of the values Keras passes to callbacks (floats, NumPy or
            backend scalars), or `None`.

    Returns:
        dict of the non-finite losses, name -> float; empty when all are
        finite.

    Example:
    ```python
    non_finite_losses({"generator_loss": float("nan"), "psnr": float("inf")})
    # {"generator_loss": nan}
    ```
    """
    found = {}
    for name, value in (logs or {}).items():
        if not name.endswith("loss"):
            continue
        number = float(np.asarray(keras.ops.convert_to_numpy(value)))
        if not math.isfinite(number):
            found[name] = number
    return found


class TerminateOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first step whose loss is NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN`, which watches `loss` only (a
    name Pix2Pix does not log), this watches every logged loss
    (`discriminator_loss`, `generator_loss`, ...) and says which one went
    non-finite at which optimizer step. The logged losses are running means
    over the epoch, so the first non-finite one marks the step that produced
    it. Training stops after that step (`model.stop_training`); the weights
    then hold its non-finite update and should not be saved, which is why
    `CheckpointCallback` skips such epochs and the checkpoint written before
    stays the latest.

    Attributes:
        stopped_step: int or None. The optimizer step (counted over all
            runs, as `optimizer.iterations`) whose loss was non-finite, or
            `None` when training ran to the end.
        non_finite: dict. The non-finite losses at that step, name -> value.
        message: str or None. What happened and what to do, also issued as a
            `RuntimeWarning`.

    Example:
    ```python
    stop = TerminateOnNonFinite()
    model.fit(source, target, epochs=100, callbacks=[stop, CheckpointCallback("ckpt")])
    if stop.stopped_step is not None:
        print(stop.message)
    ```
    """

    def __init__(self):
        super().__init__()
        self.stopped_step = None
        self.non_finite = {}
        self.message = None
        self._epoch = 0
        self._last_step = 0
        self._epoch_start = 0

    def on_train_begin(self, logs=None):
        self.stopped_step = None
        self.non_finite = {}
        self.message = None
        # Read once here: on JAX the variables are only synced between epochs.
        self._last_step = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._last_step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of the call (several with steps_per_execution).
        self._last_step = self._epoch_start + batch + 1
        found = non_finite_losses(logs)
        if not found:
            return
        self.stopped_step = self._last_step
        self.non_finite = found
        names = ", ".join(f"{name}={value}" for name, value in found.items())
        self.message = (
            f"Training stopped at step {self.stopped_step} (epoch {self._epoch + 1}, "
            f"batch {batch + 1}): {names} is not finite. The weights after this "
            "step are unusable and were not checkpointed; the last checkpoint "
            "before it is intact. Check the data for NaN or infinite values, or "
            "lower the learning rate, then resume from that checkpoint."
        )
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        self.model.stop_training = True
