"""The process the kill tests SIGKILL: a tiny Pix2Pix trained with checkpoints.

    python _train_child.py CHECKPOINTS READY MODE

Trains `reference_model()` on `reference_data()` for 4 epochs of 2 steps,
checkpointing every epoch into CHECKPOINTS. In each MODE it creates the file
READY at one moment of epoch 3 and then sleeps, so that the kill lands there:

- `mid-epoch`: after the first step of epoch 3 (epochs 1 and 2 saved);
- `mid-write`: inside the write of `epoch_0003.keras`, its temporary file
  half written;
- `mid-record`: after `epoch_0003.keras` is complete and renamed, inside the
  write of `latest.json`, its temporary file half written.
"""

import pathlib
import sys
import time

import keras

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from conftest import tiny_pix2pix, toy_pairs

from keras_pix2pix.callbacks import CheckpointCallback

EPOCHS = 4
BATCH_SIZE = 4


def reference_model():
    keras.utils.set_random_seed(3)
    model = tiny_pix2pix(filters=4)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return model


def reference_data():
    return toy_pairs(count=8)


def _stop_here(ready):
    ready.write_text("ready")
    time.sleep(600)


def main(checkpoints, ready, mode):
    ready = pathlib.Path(ready)
    model = reference_model()
    callbacks = [CheckpointCallback(checkpoints, keep=None)]
    if mode == "mid-epoch":

        class Pause(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == 2 and batch == 0:
                    _stop_here(ready)

        callbacks.insert(0, Pause())
    elif mode == "mid-write":
        save = model.save

        def half_written_save(filepath, *args, **kwargs):
            save(filepath, *args, **kwargs)
            if pathlib.Path(filepath).name.startswith(".epoch_0003.tmp-"):
                data = pathlib.Path(filepath).read_bytes()
                pathlib.Path(filepath).write_bytes(data[: len(data) // 2])
                _stop_here(ready)

        model.save = half_written_save
    elif mode == "mid-record":
        write_text = pathlib.Path.write_text

        def half_written_text(self, text, *args, **kwargs):
            if self.name.startswith(".latest.tmp-") and '"epoch": 3' in text:
                write_text(self, text[: len(text) // 2], *args, **kwargs)
                _stop_here(ready)
            return write_text(self, text, *args, **kwargs)

        pathlib.Path.write_text = half_written_text
    source, target = reference_data()
    model.fit(
        source,
        target,
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
