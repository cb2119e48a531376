"""Reading the slicing of run folders written before models carried it.

Up to 0.x, `keras-pix2pix train` kept how IXI slices were cut in `config.json`
and the targets' intensity scaling in `normalization.json`, beside
`model.keras`. Models trained since hold both (`Pix2Pix.slice_spec`,
`Pix2Pix.target_normalization`); `read_run_contract` recovers them from an
older folder, so its model still synthesizes volumes as it was trained.
`read_normalization` reads such target intensity parameters from any JSON
file (`keras-pix2pix synthesize --normalization`).
"""

import json
import os
import pathlib

from keras_pix2pix.datasets.slice_spec import PLANES, SliceSpec
from keras_pix2pix.errors import DataError


def _read_json(path):
    """The JSON value in `path`; `DataError` naming the file if unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read {path}: {error}") from error


def read_normalization(path: str | os.PathLike) -> dict:
    """The target intensity parameters of a normalization JSON file.

    The file holds `lower` and `upper` (as `normalize_intensity` returns),
    or a `target_normalization` entry with them, as the `normalization.json`
    of older run folders does.

    Args:
        path: the JSON file.

    Returns:
        The dict with `lower` and `upper` (and any other entries it has).

    Raises:
        DataError: naming the file, if it cannot be read, is not JSON, or
            holds no `lower` and `upper`.

    Example:
    ```python
    normalization = read_normalization("runs/old/normalization.json")
    synthesize_volume(model, "t1.nii.gz", "t2.nii.gz", normalization=normalization)
    ```
    """
    path = pathlib.Path(path).expanduser()
    data = _read_json(path)
    if isinstance(data, dict) and "target_normalization" in data:
        data = data["target_normalization"]
    if not isinstance(data, dict) or not {"lower", "upper"} <= data.keys():
        raise DataError(
            f"{path} must hold 'lower' and 'upper' (or a 'target_normalization' "
            "entry with them)."
        )
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
        DataError: if a file exists but cannot be read, or (for
            `normalization.json`) holds no `lower` and `upper`.

    Example:
    ```python
    spec, normalization = read_run_contract("runs/old/model.keras", channels=1)
    ```
    """
    folder = pathlib.Path(model_path).expanduser().parent
    config_path = folder / "config.json"
    config = _read_json(config_path) if config_path.exists() else {}
    if not isinstance(config, dict):
        raise DataError(f"{config_path} must hold a JSON object.")
    spec = None
    if config.get("dataset") == "ixi" and config.get("pairing") != "paper":
        plane = config.get("plane")
        spec = SliceSpec(
            plane=plane if plane in PLANES else "axial",
            image_size=config.get("image_size"),
            context=(channels - 1) // 2,
            bias_correction=config.get("bias_correction"),
        )
    normalization_path = folder / "normalization.json"
    normalization = None
    if normalization_path.exists():
        normalization = read_normalization(normalization_path)
    return spec, normalization
