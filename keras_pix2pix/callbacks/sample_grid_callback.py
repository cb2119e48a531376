import os
import pathlib

import keras
import numpy as np
from numpy.typing import ArrayLike

from keras_pix2pix.utils.sample_grids import save_sample_grid


class SampleGridCallback(keras.callbacks.Callback):
    """Saves a titled PNG of source | target | generated images every few epochs.

    The same fixed validation pairs are rendered each time (the paper's
    Figures 3-5), so the pictures show how training progresses. Each row is
    one pair, titled with the PSNR of its generated image; the titled
    columns are the source, the real target, the generated target and
    `|generated - target|`, with small images enlarged to at least 128
    pixels; see `keras_pix2pix.utils.render_sample_grid`. With `colormap`
    one-channel images are shown in that matplotlib colour map; with
    `grayscale_too=True` both versions are written.

    Args:
        source: array (N, H, W, C). Source images to translate (a few).
        target: array (N, H, W, C'). Their real targets.
        directory: str or `pathlib.Path`. Folder of the PNG files, created
            if needed.
        every: int. Save after every `every` epochs (and never otherwise).
        colormap: str or None. Matplotlib colour map for one-channel images.
        grayscale_too: bool. With a `colormap`, also save a grayscale grid.
        difference: bool. Whether to add the column of absolute differences.
        filename: str. Name pattern; `{epoch}` is the number of epochs done.

    Example:
    ```python
    samples = SampleGridCallback(val_t1[:4], val_t2[:4], "runs/samples", every=10)
    model.fit(t1, t2, epochs=100, callbacks=[samples])
    ```
    """

    def __init__(
        self,
        source: ArrayLike,
        target: ArrayLike,
        directory: str | os.PathLike,
        *,
        every: int = 1,
        colormap: str | None = None,
        grayscale_too: bool = False,
        difference: bool = True,
        filename: str = "samples_epoch_{epoch:04d}.png",
    ) -> None:
        super().__init__()
        if len(source) != len(target) or len(source) == 0:
            raise ValueError(
                "`source` and `target` must hold the same, non-zero number of "
                f"images. Received {len(source)} and {len(target)}."
            )
        if every < 1:
            raise ValueError(f"`every` must be a positive int. Received: every={every}")
        self.source = np.asarray(source, "float32")
        self.target = np.asarray(target, "float32")
        self.directory = pathlib.Path(directory)
        self.every = every
        self.colormap = colormap
        self.grayscale_too = grayscale_too
        self.difference = difference
        self.filename = filename
        self.written = []

    def on_train_begin(self, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        generated = keras.ops.convert_to_numpy(self.model.predict_on_batch(self.source))
        path = self.directory / self.filename.format(epoch=epoch + 1)
        outputs = [(path, self.colormap)]
        if self.colormap is not None and self.grayscale_too:
            outputs.append((path.with_stem(path.stem + "_gray"), None))
        for output, colormap in outputs:
            self.written.append(
                save_sample_grid(
                    output,
                    self.source,
                    self.target,
                    generated,
                    colormap=colormap,
                    difference=self.difference,
                )
            )
