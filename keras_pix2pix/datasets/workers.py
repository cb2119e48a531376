"""Worker processes for preparing subjects in parallel.

Preparing a subject (reading, reorienting, resampling, scaling, slicing its
volumes) is numpy, scipy and nibabel work that holds the GIL for most of its
time, so subjects are prepared in separate processes. `worker_map(workers)`
gives an ordered, lazy `map` over that many processes: results come back in
the input order, one at a time, so memory stays that of `workers` subjects.

On Linux the workers are forked (they inherit the loaded modules and start in
milliseconds, and a script needs no `if __name__ == "__main__":` guard); they
run no keras or framework code. Elsewhere they are spawned: there, call the
loaders from under that guard in a script.

Example:
```python
from keras_pix2pix.datasets.workers import default_workers, worker_map

with worker_map(default_workers(len(items))) as mapped:
    results = list(mapped(prepare, items))  # prepare: a module-level function
```
"""

import contextlib
import functools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator

# Fewer subjects than this are prepared in the calling process: starting
# workers would cost more than it saves.
MIN_PARALLEL_SUBJECTS = 4


def available_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - macOS, Windows


def default_workers(count: int) -> int:
    """Worker processes for preparing `count` subjects: the cores, or 1.

    Args:
        count: the number of subjects to prepare.

    Returns:
        `min(available_cores(), count)`, or 1 for fewer than
        `MIN_PARALLEL_SUBJECTS` subjects.
    """
    if count < MIN_PARALLEL_SUBJECTS:
        return 1
    return max(1, min(available_cores(), count))


def check_workers(workers: int | None, count: int) -> int:
    """`workers` checked (a positive integer), or the default for `count`.

    Raises:
        ValueError: if `workers` is not a positive integer or `None`.
    """
    if workers is None:
        return default_workers(count)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"`workers` must be a positive integer or None. Received: {workers!r}"
        )
    return workers


@contextlib.contextmanager
def worker_map(workers: int) -> Iterator[Callable]:
    """An ordered, lazy `map(function, items)` over `workers` processes.

    Args:
        workers: the number of processes; 1 maps in this process.

    Yields:
        A function like the built-in `map`; `function` must be picklable
        (module-level) where the workers are spawned. The workers stop when
        the block ends, also on an error.
    """
    if workers <= 1:
        yield map
        return
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        yield functools.partial(pool.imap, chunksize=1)
