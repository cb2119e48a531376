"""The `keras-pix2pix` command: train, synthesize and evaluate from a shell.

One module per command (`train`, `synthesize`, `evaluate`), each with its
`add_parser` and `run`. The package imports neither Keras nor the rest of
keras-pix2pix at import time, so that `--backend` can set `KERAS_BACKEND`
before Keras is loaded.

Example:
```
keras-pix2pix --backend jax train --dataset phantom --epochs 5 --output runs/demo
keras-pix2pix synthesize --model runs/demo/model.keras --input t1.nii.gz \\
    --output synthetic_t2.nii.gz
keras-pix2pix evaluate --model runs/demo/model.keras --dataset phantom \\
    --split test --protocol brain_mask --csv runs/demo/test.csv
```
"""

import argparse
import os
import sys
from collections.abc import Sequence

from keras_pix2pix.cli import evaluate, synthesize, train
from keras_pix2pix.cli._options import (
    BACKENDS,
    BIAS_CORRECTIONS,
    PLANES,
    PROG,
    HelpFormatter,
    UsageError,
)

__all__ = ["BIAS_CORRECTIONS", "PLANES", "UsageError", "build_parser", "main"]

_EPILOG_MAIN = f"""\
examples:
  {PROG} train --dataset phantom --epochs 5 --output runs/phantom
  {PROG} --backend torch train --dataset ixi --data ~/data/IXI --output runs/ixi
  {PROG} synthesize --model runs/ixi/model.keras --input t1.nii.gz \\
      --output synthetic_t2.nii.gz
  {PROG} evaluate --model runs/ixi/model.keras --dataset ixi --data ~/data/IXI \\
      --split test --protocol brain_mask --csv runs/ixi/test.csv

Run `{PROG} COMMAND --help` for the options of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    """Builds the `keras-pix2pix` argument parser with its three commands.

    Returns:
        The `argparse.ArgumentParser`.

    Example:
    ```python
    args = build_parser().parse_args(["train", "--output", "runs/demo"])
    args.dataset  # 'phantom'
    ```
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Pix2Pix image-to-image translation with Keras 3 "
        "(TensorFlow, PyTorch or JAX): train on paired images, synthesize "
        "(e.g. T2-weighted MRI from T1-weighted) and evaluate.",
        epilog=_EPILOG_MAIN,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend; default: the KERAS_BACKEND environment variable, "
        "else Keras's own default",
    )
    parser.add_argument(
        "--version",
        action="store_true",
        help="print the versions and the Keras backend in use, and exit",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    train.add_parser(subparsers)
    synthesize.add_parser(subparsers)
    evaluate.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `keras-pix2pix` command line.

    Usage errors (a wrong or missing argument, a missing file, unusable data,
    a checkpoint that cannot be written) print a message saying what to do
    and exit with status 2, without a traceback. Training whose loss turns
    NaN or infinite stops at that step, keeps the last good checkpoint and
    returns 1.

    Args:
        argv: the arguments, without the program name; `None` reads
            `sys.argv[1:]`.

    Returns:
        0 on success, 1 when training stopped on a non-finite loss.

    Raises:
        SystemExit: with status 2 on a usage error, 0 after `--help`.

    Example:
    ```python
    from keras_pix2pix.cli import main

    main(["train", "--dataset", "phantom", "--epochs", "1", "--output", "runs/x"])
    ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.version and not hasattr(args, "command"):
        parser.print_help()
        parser.exit(
            2, f"\n{PROG}: error: choose a command: train, synthesize, evaluate\n"
        )
    try:
        _select_backend(args.backend)
        if args.version:
            return _print_version()
        return args.command(args)
    except UsageError as error:
        parser.exit(2, f"{PROG}: error: {error}\n")
    except (ValueError, OSError) as error:
        # The library's DataError / DatasetNotFoundError / CheckpointError (and
        # argument errors it raises as ValueError) name the file or argument
        # at fault.
        from keras_pix2pix.errors import Pix2PixError

        if not isinstance(error, Pix2PixError) and not isinstance(
            error, FileNotFoundError
        ):
            raise
        parser.exit(2, f"{PROG}: error: {error}\n")
    return 0


def _select_backend(backend):
    """Sets KERAS_BACKEND before Keras is imported.

    Raises:
        UsageError: if Keras is already loaded with another backend.
    """
    if backend is None:
        return
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
        return
    current = keras.backend.backend()
    if current != backend:
        raise UsageError(
            f"--backend {backend}: Keras is already loaded with the {current} "
            "backend in this process. Set --backend (or KERAS_BACKEND) before "
            "Keras is imported."
        )


def _print_version():
    import keras

    from keras_pix2pix.version import __version__

    print(
        f"{PROG} {__version__} (Keras {keras.__version__}, "
        f"backend {keras.backend.backend()})"
    )
    return 0
