import keras

RECONSTRUCTION_LOSSES = {
    "l1": keras.losses.MeanAbsoluteError,
    "mae": keras.losses.MeanAbsoluteError,
    "l2": keras.losses.MeanSquaredError,
    "mse": keras.losses.MeanSquaredError,
}


def get_reconstruction_loss(identifier):
    """Returns the reconstruction loss named by `identifier`.

    pix2pix adds a pixel-wise reconstruction term to the adversarial loss:
    L1 in the reference (sharper), L2 / mean squared error in the paper this
    project reproduces.

    Args:
        identifier: a `keras.losses.Loss`, or `"l1"` (alias `"mae"`) or
            `"l2"` (alias `"mse"`).

    Returns:
        A `keras.losses.Loss` that averages over all pixels.

    Example:
    ```python
    keras_pix2pix.losses.get_reconstruction_loss("l2")  # MeanSquaredError
    ```
    """
    if isinstance(identifier, keras.losses.Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in RECONSTRUCTION_LOSSES:
        return RECONSTRUCTION_LOSSES[identifier.lower()]()
    raise ValueError(
        "`reconstruction_loss` must be a keras.losses.Loss or one of "
        f"{sorted(RECONSTRUCTION_LOSSES)}. Received: {identifier!r}"
    )
