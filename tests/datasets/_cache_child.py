"""The process the cache kill test SIGKILLs: an IXI slice-cache build.

    python _cache_child.py ROOT CACHE READY MODE

Builds the slice cache of the IXI-like files in ROOT into CACHE with
`load_ixi_pairs` (`SPEC`: 32x32 slices), creating the file READY at one moment of
the build and then sleeping, so that the kill lands there:

- `mid-prepare`: while the second subject is prepared (the first one's
  part files written);
- `mid-assembly`: while the final arrays are assembled, the source array's
  temporary file half filled;
- `mid-manifest`: inside the write of the manifest, its temporary file
  half written (the array files complete).
"""

import json
import pathlib
import sys
import time

import numpy as np

from keras_pix2pix.datasets import _slice_cache_writer, ixi, volume_pairs
from keras_pix2pix.datasets.slice_spec import SliceSpec

IMAGE_SIZE = 32
SPEC = SliceSpec(image_size=IMAGE_SIZE)


def _stop_here(ready):
    pathlib.Path(ready).write_text("ready")
    time.sleep(600)


class _NoProgress:
    """No progress bar: keeps the import of keras out of this process."""

    def __init__(self, total, enabled):
        pass

    def update(self, done):
        pass


def main(root, cache, ready, mode):
    _slice_cache_writer._Progress = _NoProgress
    calls = []
    if mode == "mid-prepare":
        prepare = volume_pairs._prepare_pair

        def pausing_prepare(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                _stop_here(ready)
            return prepare(*args, **kwargs)

        volume_pairs._prepare_pair = pausing_prepare
    elif mode == "mid-assembly":
        load = np.load

        def pausing_load(file, *args, **kwargs):
            if ".part-" in str(file):
                calls.append(file)
                if len(calls) == 2:  # the first subject is in the source array
                    _stop_here(ready)
            return load(file, *args, **kwargs)

        np.load = pausing_load
    elif mode == "mid-manifest":
        dump = json.dump

        def pausing_dump(value, file, **kwargs):
            text = json.dumps(value, **kwargs)
            file.write(text[: len(text) // 2])
            file.flush()
            _stop_here(ready)
            dump(value, file, **kwargs)

        json.dump = pausing_dump
    ixi.load_ixi_pairs(root, SPEC, cache_dir=cache)


if __name__ == "__main__":
    main(*sys.argv[1:])
