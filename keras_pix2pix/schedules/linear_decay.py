import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_pix2pix")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The reference pix2pix schedule: constant, then linear decay to zero.

    The learning rate stays at `initial_learning_rate` for `constant_epochs`
    epochs, then falls linearly over `decay_epochs` more (the reference's
    `--n_epochs` and `--n_epochs_decay`, 100 and 100): during epoch `e`
    (from 0) it is `initial_learning_rate * (1 - max(0, e + 1 -
    constant_epochs) / (decay_epochs + 1))`. As a schedule driven by the
    optimizer's own step count it is saved with the optimizer, so a resumed
    run continues the schedule exactly. Give one to each optimizer.

    Args:
        initial_learning_rate: float. Rate during the constant phase.
        constant_epochs: int. Epochs at the full rate.
        decay_epochs: int. Epochs of linear decay.
        steps_per_epoch: int. Optimizer steps per epoch (batches per epoch).

    Example:
    ```python
    schedule = LinearDecay(2e-4, 100, 100, steps_per_epoch=len(dataset))
    model.compile(
        generator_optimizer=keras.optimizers.Adam(schedule, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(
            LinearDecay(2e-4, 100, 100, steps_per_epoch=len(dataset)), beta_1=0.5
        ),
    )
    ```
    """

    def __init__(
        self, initial_learning_rate, constant_epochs, decay_epochs, steps_per_epoch=1
    ):
        if constant_epochs < 0 or decay_epochs < 0 or steps_per_epoch < 1:
            raise ValueError(
                "`constant_epochs` and `decay_epochs` must be >= 0 and "
                "`steps_per_epoch` >= 1. Received: "
                f"{constant_epochs}, {decay_epochs}, {steps_per_epoch}"
            )
        self.initial_learning_rate = initial_learning_rate
        self.constant_epochs = constant_epochs
        self.decay_epochs = decay_epochs
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        decayed = ops.maximum(0.0, epoch + 1.0 - self.constant_epochs)
        factor = ops.maximum(0.0, 1.0 - decayed / (self.decay_epochs + 1.0))
        return self.initial_learning_rate * factor

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "constant_epochs": self.constant_epochs,
            "decay_epochs": self.decay_epochs,
            "steps_per_epoch": self.steps_per_epoch,
        }
