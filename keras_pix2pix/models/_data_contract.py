"""The data contract a `Pix2Pix` carries: how its slices were cut and scaled.

`slice_spec` (the `SliceSpec` its NIfTI training slices were cut with) and
`target_normalization` (the training targets' typical `lower` / `upper`
intensities) are saved in the model's config, so a loaded model synthesizes
volumes as it was trained (`keras_pix2pix.synthesis`). Both are checked when
the model is built, and so when it is loaded.
"""

import math

from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.layers._conventions import channel_axis


def check_slice_spec(slice_spec, generator):
    """The `SliceSpec` of `slice_spec` (a spec, its config dict or `None`).

    Raises:
        ValueError: if it is neither, or its channels are not the generator's.
    """
    if slice_spec is None:
        return None
    if isinstance(slice_spec, dict):
        slice_spec = SliceSpec.from_config(slice_spec)
    if not isinstance(slice_spec, SliceSpec):
        raise ValueError(
            "`slice_spec` must be a SliceSpec, its config dict or None. "
            f"Received: {slice_spec!r}"
        )
    channels = generator.input_shape[channel_axis()]
    if slice_spec.channels != channels:
        raise ValueError(
            f"The generator takes {channels}-channel images, but the "
            f"slice_spec gives {slice_spec.channels} (context "
            f"{slice_spec.context}: 2 * context + 1 channels)."
        )
    return slice_spec


def check_target_normalization(target_normalization):
    """A copy of `target_normalization`, or `None`.

    Raises:
        ValueError: if it is not a dict with finite `lower` and `upper`.
    """
    if target_normalization is None:
        return None
    try:
        valid = all(
            math.isfinite(float(target_normalization[key]))
            for key in ("lower", "upper")
        )
    except (TypeError, KeyError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "`target_normalization` must be a dict with finite 'lower' and "
            f"'upper' (see SliceInfo.target_normalization). Received: "
            f"{target_normalization!r}"
        )
    return dict(target_normalization)
