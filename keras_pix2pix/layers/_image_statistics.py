"""BatchNorm on each image's own statistics, for deterministic inference.

pix2pix trains with batches of one image, so every BatchNorm layer normalizes
each image by its own mean and variance; the moving averages that Keras uses
at inference are a different function of the same weights (Isola et al. keep
the training behaviour at test time for this reason). Inside
`image_statistics()`, the library's blocks normalize each image by its own
per-channel statistics over its pixels, with the layer's learned scale and
offset, dropout off and the moving averages untouched: the training-time
function for a batch of one, made deterministic and independent of the
batch size. The flag is read when a function is traced, so `Pix2Pix.call`
sets it around the generator and compiled functions keep it.
"""

import contextlib
import threading

import keras
from keras import ops

_state = threading.local()


@contextlib.contextmanager
def image_statistics():
    """Within the block, BatchNorm in inference uses each image's statistics."""
    previous = getattr(_state, "active", False)
    _state.active = True
    try:
        yield
    finally:
        _state.active = previous


def normalize(layer, x, training):
    """`layer(x, training=training)`, or per-image BatchNorm where asked."""
    if (
        training
        or not getattr(_state, "active", False)
        or not isinstance(layer, keras.layers.BatchNormalization)
    ):
        return layer(x, training=training)
    axis = layer.axis if layer.axis >= 0 else len(x.shape) + layer.axis
    spatial = [i for i in range(1, len(x.shape)) if i != axis]
    mean, variance = ops.moments(x, axes=spatial, keepdims=True)
    shape = [1] * len(x.shape)
    shape[axis] = x.shape[axis]
    x = (x - mean) * ops.rsqrt(variance + layer.epsilon)
    if layer.scale:
        x = x * ops.reshape(ops.cast(layer.gamma, x.dtype), shape)
    if layer.center:
        x = x + ops.reshape(ops.cast(layer.beta, x.dtype), shape)
    return x
