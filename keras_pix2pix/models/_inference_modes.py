"""How `Pix2Pix` runs its generator outside training: its `inference_mode`.

`"eval"`: BatchNorm's moving statistics and no dropout, as Keras does.
`"per_image"`: each BatchNorm normalizes each image by its own statistics
(`keras_pix2pix.layers._image_statistics`), no dropout. `"train"`: dropout
active and each batch's own statistics, as the reference pix2pix does at test
time. Outside `"eval"`, prediction keeps BatchNorm's moving statistics as
they were (`moving_statistics_kept`).
"""

import contextlib

import keras

from keras_pix2pix.layers._image_statistics import image_statistics

INFERENCE_MODES = ("eval", "per_image", "train")


def check_inference_mode(inference_mode):
    """Raises `ValueError` unless `inference_mode` is one of `INFERENCE_MODES`."""
    if inference_mode not in INFERENCE_MODES:
        raise ValueError(
            f"`inference_mode` must be one of {INFERENCE_MODES}. "
            f"Received: inference_mode={inference_mode!r}"
        )


def generate(generator, inputs, inference_mode, training=None):
    """The generator's output, in training or in `inference_mode`."""
    if inference_mode == "train":
        training = True
    if inference_mode == "per_image" and not training:
        with image_statistics():
            return generator(inputs, training=False)
    return generator(inputs, training=training)


@contextlib.contextmanager
def moving_statistics_kept(generator):
    """Within the block, BatchNorm's moving statistics are restored on exit.

    Train-mode inference normalizes each batch with its own statistics; it
    must not also replace BatchNorm's moving averages, which eval-mode
    inference and further training use.
    """
    moving = [
        v
        for v in generator.non_trainable_variables
        if v.name in ("moving_mean", "moving_variance")
    ]
    state = [keras.ops.convert_to_numpy(v) for v in moving]
    try:
        yield
    finally:
        for variable, value in zip(moving, state, strict=True):
            variable.assign(value)
