import json
import pathlib
import re
import tempfile

import keras

from keras_pix2pix.utils.atomic_files import atomic_path

_CHECKPOINT = re.compile(r"^epoch_(\d+)\.keras$")
_LATEST = "latest.json"


def latest_checkpoint(directory):
    """Finds the newest complete checkpoint written by `CheckpointCallback`.

    Args:
        directory: str or `pathlib.Path`. The checkpoint folder.

    Returns:
        `(path, epoch)`: the `.keras` file and the number of epochs it
        holds (pass it as `initial_epoch` to `fit`), or `None` when the
        folder holds no checkpoint.

    Example:
    ```python
    found = latest_checkpoint("runs/checkpoints")
    if found:
        path, epoch = found
        model = keras.saving.load_model(path)
        model.fit(source, target, epochs=100, initial_epoch=epoch)
    ```
    """
    directory = pathlib.Path(directory)
    try:
        record = json.loads((directory / _LATEST).read_text())
        path = directory / record["file"]
        if path.is_file():
            return path, int(record["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # No or unreadable record: fall back to the files themselves.
    found = [
        (int(match.group(1)), path)
        for path in (directory.iterdir() if directory.is_dir() else [])
        if (match := _CHECKPOINT.match(path.name))
    ]
    if not found:
        return None
    epoch, path = max(found)
    return path, epoch


class CheckpointCallback(keras.callbacks.Callback):
    """Saves the whole model every few epochs, atomically.

    Each checkpoint is a `.keras` file holding the generator, the
    discriminator, both optimizers' state and the compile settings, so
    `keras.saving.load_model` plus `fit(..., initial_epoch=epoch)` resumes
    training exactly. Files are written under a temporary name and renamed
    when complete, and `latest.json` is updated the same way, so a crash or
    a kill at any moment leaves the previous checkpoint intact and loadable.
    The folder is checked before training starts: an unwritable one fails
    at once, not hours later.

    Args:
        directory: str or `pathlib.Path`. Folder of the checkpoints,
            created if needed.
        every: int. Save after every `every` epochs.
        keep: int or None. How many recent checkpoints to keep; `None`
            keeps all.

    Example:
    ```python
    model.fit(t1, t2, epochs=100, callbacks=[CheckpointCallback("runs/ckpt")])
    path, epoch = latest_checkpoint("runs/ckpt")
    ```
    """

    def __init__(self, directory, *, every=1, keep=3):
        super().__init__()
        if every < 1:
            raise ValueError(f"`every` must be a positive int. Received: every={every}")
        if keep is not None and keep < 1:
            raise ValueError(f"`keep` must be a positive int or None. Received: {keep}")
        self.directory = pathlib.Path(directory)
        self.every = every
        self.keep = keep

    def on_train_begin(self, logs=None):
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.directory):
                pass
        except OSError as error:
            raise OSError(
                f"Cannot write checkpoints to {self.directory}: {error.strerror}. "
                "Choose a writable folder before training starts."
            ) from error

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        path = self.directory / f"epoch_{epoch + 1:04d}.keras"
        with atomic_path(path) as temporary:
            self.model.save(temporary)
        with atomic_path(self.directory / _LATEST) as temporary:
            temporary.write_text(json.dumps({"epoch": epoch + 1, "file": path.name}))
        self._prune()

    def _prune(self):
        if self.keep is None:
            return
        found = sorted(
            (int(match.group(1)), path)
            for path in self.directory.iterdir()
            if (match := _CHECKPOINT.match(path.name))
        )
        for _, path in found[: -self.keep]:
            path.unlink(missing_ok=True)
