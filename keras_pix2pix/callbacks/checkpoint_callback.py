import errno
import json
import pathlib
import re
import shutil
import tempfile
import warnings

import keras
import numpy as np

from keras_pix2pix.callbacks.terminate_on_non_finite import non_finite_losses
from keras_pix2pix.errors import CheckpointError
from keras_pix2pix.utils.atomic_files import atomic_path

_CHECKPOINT = re.compile(r"^epoch_(\d+)\.keras$")
_LATEST = "latest.json"
# The temporary files `atomic_path` leaves behind when the process is killed.
_LEFTOVER = re.compile(r"^\.(epoch_\d+|latest)\.tmp-[0-9a-f]{8}\.(keras|json)$")


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


def _checkpoint_error(error, message):
    """A `CheckpointError` with `message` and the `errno` of `error`, if any."""
    if error.errno is None:
        return CheckpointError(message)
    return CheckpointError(error.errno, message)


class CheckpointCallback(keras.callbacks.Callback):
    """Saves the whole model every few epochs, atomically.

    Each checkpoint is a `.keras` file holding the generator, the
    discriminator, both optimizers' state and the compile settings, so
    `keras.saving.load_model` plus `fit(..., initial_epoch=epoch)` resumes
    training exactly. Files are written under a temporary name and renamed
    when complete, and `latest.json` is updated the same way, so a crash or
    a kill at any moment leaves the previous checkpoint intact and loadable.
    An epoch whose logged losses or whose weights are NaN or infinite is not
    saved (with a `RuntimeWarning`): `latest.json` keeps naming the last
    good checkpoint. The folder is checked before training starts: one that
    is not writable, or lacks the free space of one checkpoint, fails at
    once, not hours later; temporary files left by a killed run are removed
    then (one training run per folder at a time).

    Args:
        directory: str or `pathlib.Path`. Folder of the checkpoints,
            created if needed.
        every: int. Save after every `every` epochs.
        keep: int or None. How many recent checkpoints to keep; `None`
            keeps all.

    Raises:
        CheckpointError: (an `OSError`) when training starts, if the folder
            is not writable or has less free space than one checkpoint
            needs; during training, if a write fails (e.g. the disk is full),
            naming the file. The previous checkpoint is then intact.

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
            for path in self.directory.iterdir():
                if _LEFTOVER.match(path.name):
                    path.unlink(missing_ok=True)
            free = shutil.disk_usage(self.directory).free
        except OSError as error:
            raise _checkpoint_error(
                error,
                f"Cannot write checkpoints to {self.directory}: {error.strerror}. "
                "Choose a writable folder before training starts.",
            ) from error
        needed = self._checkpoint_bytes()
        if free < needed:
            raise CheckpointError(
                errno.ENOSPC,
                f"Not enough free space for checkpoints in {self.directory}: "
                f"{free / 2**20:.1f} MiB free, one checkpoint needs at least "
                f"{needed / 2**20:.1f} MiB. Free some space or choose another "
                "folder before training starts.",
            )

    def _checkpoint_bytes(self):
        """Bytes of the weights and optimizer state: less than a `.keras` file."""
        variables = list(self.model.variables)
        if self.model.optimizer is not None:
            variables += list(self.model.optimizer.variables)
        return sum(
            int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables
        )

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        path = self.directory / f"epoch_{epoch + 1:04d}.keras"
        problem = self._non_finite(logs)
        if problem:
            warnings.warn(
                f"Not saving {path.name}: {problem}. The latest checkpoint is "
                "still the one before it.",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        try:
            with atomic_path(path) as temporary:
                self.model.save(temporary)
            with atomic_path(self.directory / _LATEST) as temporary:
                temporary.write_text(
                    json.dumps({"epoch": epoch + 1, "file": path.name})
                )
        except OSError as error:
            raise _checkpoint_error(
                error,
                f"Cannot write the checkpoint {path}: "
                f"{error.strerror or error}. The previous "
                f"checkpoint and {_LATEST} in {self.directory} are intact; free "
                "some space (or fix the folder) and resume from them.",
            ) from error
        self._prune()

    def _non_finite(self, logs):
        """Why this epoch's state must not be saved, or `None`."""
        losses = non_finite_losses(logs)
        if losses:
            return (
                "the losses "
                + ", ".join(f"{name}={value}" for name, value in losses.items())
                + " are not finite"
            )
        for variable in self.model.variables:
            value = keras.ops.convert_to_numpy(variable)
            if np.issubdtype(value.dtype, np.floating) and not np.all(
                np.isfinite(value)
            ):
                return f"the weight {variable.path} is not finite"
        return None

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
