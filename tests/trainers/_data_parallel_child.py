"""Trains one tiny Pix2Pix on one device and one data-parallel on two.

Run as a script with KERAS_BACKEND set (and, for JAX, XLA_FLAGS forcing two
host devices); prints a JSON line comparing the two after the same steps on
the same global batches. Argument: the networks' `norm`.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

BACKEND = os.environ["KERAS_BACKEND"]
if BACKEND == "tensorflow":
    import tensorflow as tf

    # Two logical CPU devices, before TensorFlow initializes its runtime.
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

import keras  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1]))
from conftest import toy_pairs  # noqa: E402

from keras_pix2pix import Pix2Pix  # noqa: E402
from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator  # noqa: E402


def build(norm):
    keras.utils.set_random_seed(0)
    generator = UNetGenerator(
        input_shape=(16, 16, 1), filters=4, num_downsampling_blocks=2, norm=norm
    )
    discriminator = PatchGANDiscriminator(
        input_shape=(16, 16, 1), target_channels=1, filters=4, num_layers=2, norm=norm
    )
    model = Pix2Pix(generator, discriminator)
    # SGD's updates are linear in the gradients, so equal weights mean equal
    # gradients; Adam would amplify float noise in gradients that are zero
    # (the biases before instance normalization) to whole steps.
    model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    return model


def train(model):
    source, target = toy_pairs(count=16, size=16)
    history = model.fit(
        source, target, batch_size=8, epochs=2, shuffle=False, verbose=0
    )
    weights = [np.array(keras.ops.convert_to_numpy(v)) for v in model.weights]
    return weights, history.history


def main(norm):
    single = build(norm)
    initial = single.get_weights()
    # Trained first: JAX's distribution, once set, applies to every model.
    single_weights, single_logs = train(single)
    if BACKEND == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        parallel = build(norm)
        replicas = len(parallel.weights[0].value.sharding.device_set)
    else:
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            parallel = build(norm)
        replicas = parallel.distribute_strategy.num_replicas_in_sync
    parallel.set_weights(initial)
    parallel_weights, parallel_logs = train(parallel)
    result = {
        "replicas": replicas,
        "weights": max(
            float(np.abs(a - b).max())
            for a, b in zip(single_weights, parallel_weights, strict=True)
        ),
        "moved": max(
            float(np.abs(a - b).max())
            for a, b in zip(single_weights, initial, strict=True)
        ),
        "logs": max(
            float(np.abs(np.subtract(single_logs[name], parallel_logs[name])).max())
            for name in single_logs
        ),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
