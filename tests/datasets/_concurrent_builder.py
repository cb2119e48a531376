"""One of two processes that build the same slice cache at the same moment.

    python _concurrent_builder.py CACHE FILES_DIR START_AT RESULT

Waits until the wall-clock time START_AT (so that both builders start
together), builds CACHE from three subjects whose "preparation" takes 0.3 s
each, and writes RESULT: a JSON record of what it prepared and the sums of the
arrays it got back.
"""

import json
import pathlib
import sys
import time

import numpy as np

from keras_pix2pix.datasets import slice_cache


def prepare(subject_id):
    time.sleep(0.3)
    value = float(subject_id[-1])
    source = np.full((2, 4, 4, 1), value, np.float32)
    return source, -source, {"value": value}


def main(cache, files_dir, start_at, result):
    files = sorted(pathlib.Path(files_dir).iterdir())
    subjects = [(f"subject-{i}", [path]) for i, path in enumerate(files)]
    time.sleep(max(0.0, float(start_at) - time.time()))
    built = slice_cache.build_slice_cache(
        cache, subjects, prepare, {"kind": "concurrency test"}, progress=False
    )
    record = {
        "prepared": built.prepared,
        "source": float(np.asarray(built.source).sum()),
        "target": float(np.asarray(built.target).sum()),
    }
    pathlib.Path(result).write_text(json.dumps(record))


if __name__ == "__main__":
    main(*sys.argv[1:])
