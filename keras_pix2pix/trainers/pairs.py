import keras


def unpack_pair(data):
    """Returns `(source, target, sample_weight)` from a batch of `fit` or `evaluate`.

    `sample_weight` is `None` when the batch has none.

    Raises:
        ValueError: if the batch has no targets.
    """
    source, target, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if target is None:
        raise ValueError(
            "Pix2Pix trains on (source, target) image pairs: call "
            "`fit(source_images, target_images)` or give a dataset that yields "
            "(source, target) tuples. No target images were found in the batch."
        )
    if sample_weight is not None:
        sample_weight = keras.ops.convert_to_tensor(sample_weight)
    return (
        keras.ops.convert_to_tensor(source),
        keras.ops.convert_to_tensor(target),
        sample_weight,
    )
