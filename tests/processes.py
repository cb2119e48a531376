"""Running Python in new processes, as users do: one Keras backend each."""

import importlib.util
import os
import subprocess
import sys

import keras

BACKEND = keras.backend.backend()


def other_backend():
    """The next installed Keras backend after this one, or None.

    Each nox session installs one backend, so tests that need a second one
    skip there and run where several are installed.
    """
    order = ("tensorflow", "jax", "torch")
    start = order.index(BACKEND) if BACKEND in order else -1
    following = [order[(start + i) % len(order)] for i in (1, 2)]
    return next((b for b in following if importlib.util.find_spec(b)), None)


def run_python(*arguments, cwd=None, backend=BACKEND, timeout=300):
    """Runs `python *arguments` in a new process; returns its stdout.

    Fails the test, showing the end of stderr, if it exits with an error.
    """
    result = subprocess.run(
        [sys.executable, *map(str, arguments)],
        cwd=cwd,
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"python {' '.join(map(str, arguments))} ({backend}) exited with "
        f"{result.returncode}:\n{result.stdout[-1000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout
