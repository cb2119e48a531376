import keras


def unpack_pair(data):
    """Returns `(source, target)` tensors from a batch of `fit` or `evaluate`.

    Raises:
        ValueError: if the batch has no targets.
    """
    source, target, _ = keras.utils.unpack_x_y_sample_weight(data)
    if target is None:
        raise ValueError(
            "Pix2Pix trains on (source, target) image pairs: call "
            "`fit(source_images, target_images)` or give a dataset that yields "
            "(source, target) tuples. No target images were found in the batch."
        )
    return keras.ops.convert_to_tensor(source), keras.ops.convert_to_tensor(target)
