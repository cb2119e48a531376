"""Reading the slicing of run folders written before models carried it.

Up to 0.x, `keras-pix2pix train` kept how IXI slices were cut in `config.json`
and the targets' intensity scaling in `normalization.json`, beside
`model.keras`. Models trained since hold both (`Pix2Pix.slice_spec`,
`Pix2Pix.target_normalization`); `read_run_contract` recovers them from an
older folder, so its model still synthesizes volumes as it was trained.
"""

import json
import os
import pathlib

from keras_pix2pix.datasets.slice_spec import PLANES, SliceSpec
from keras_pix2pix.errors import DataError


def _read_json(path):
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object.")
    return data


def read_run_contract(
    model_path: str | os.PathLike, channels: int
) -> tuple[SliceSpec | None, dict | None]:
    """The slicing and target scaling of an older run folder, if it has them.

    Args:
        model_path: the run's `model.keras` (its folder holds the JSON files).
        channels: the model's input channels (`2 * context + 1`).

    Returns:
        `(spec, target_normalization)`: a `SliceSpec` from the IXI training
        options in `config.json` (or `None`: no file, or not an IXI run), and
        the `normalization.json` parameters (or `None`).

    Raises:
        DataError: if a file exists but cannot be read.

    Example:
    ```python
    spec, normalization = read_run_contract("runs/old/model.keras", channels=1)
    ```
    """
    folder = pathlib.Path(model_path).expanduser().parent
    config = _read_json(folder / "config.json") or {}
    spec = None
    if config.get("dataset") == "ixi" and config.get("pairing") != "paper":
        plane = config.get("plane")
        spec = SliceSpec(
            plane=plane if plane in PLANES else "axial",
            image_size=config.get("image_size"),
            context=(channels - 1) // 2,
            bias_correction=config.get("bias_correction"),
        )
    normalization = _read_json(folder / "normalization.json")
    if normalization is not None:
        normalization = normalization.get("target_normalization", normalization)
    return spec, normalization
