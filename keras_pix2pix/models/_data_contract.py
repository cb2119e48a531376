"""The data contract a `Pix2Pix` carries: how its slices were cut and scaled.

`slice_spec` (the `SliceSpec` its NIfTI training slices were cut with),
`target_normalization` (the training targets' typical `lower` / `upper`
intensities) and `contrasts` (the source contrasts in channel order and the
target's, e.g. `{"sources": ["T1", "T2"], "target": "PD"}`) are saved in the
model's config, so a loaded model synthesizes
volumes as it was trained (`keras_pix2pix.synthesis`). Both are checked when
the model is built, and so when it is loaded.
"""

import math

from keras_pix2pix.datasets.slice_spec import SliceSpec
from keras_pix2pix.layers._conventions import channel_axis


def check_slice_spec(slice_spec, generator):
    """The `SliceSpec` of `slice_spec` (a spec, its config dict or `None`).

    The generator takes `sources * slice_spec.channels` channels: one group
    of `2 * context + 1` slices per source contrast (e.g. T1 and T2 -> PD).

    Raises:
        ValueError: if it is neither, or the generator's channels are not a
            multiple of the spec's.
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
    if channels % slice_spec.channels:
        raise ValueError(
            f"The generator takes {channels}-channel images, but the "
            f"slice_spec gives {slice_spec.channels} per source contrast "
            f"(context {slice_spec.context}: 2 * context + 1 channels), and "
            f"{channels} is not a multiple of {slice_spec.channels}."
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


def check_contrasts(contrasts, slice_spec, generator):
    """A copy of `contrasts` (`{"sources": [...], "target": ...}`), or `None`.

    Raises:
        ValueError: if it is not such a dict of names, or with `slice_spec`
            its number of sources does not give the generator's channels.
    """
    if contrasts is None:
        return None
    try:
        sources = [str(name) for name in contrasts["sources"]]
        target = str(contrasts["target"])
        valid = (
            bool(sources)
            and not isinstance(contrasts["sources"], str)
            and set(contrasts) == {"sources", "target"}
        )
    except (TypeError, KeyError):
        valid = False
    if not valid:
        raise ValueError(
            "`contrasts` must be a dict like {'sources': ['T1'], 'target': "
            f"'T2'}} (see SliceInfo.contrasts). Received: {contrasts!r}"
        )
    channels = generator.input_shape[channel_axis()]
    if slice_spec is not None and len(sources) * slice_spec.channels != channels:
        raise ValueError(
            f"`contrasts` names {len(sources)} source(s) of "
            f"{slice_spec.channels} channel(s) each, but the generator takes "
            f"{channels} channels."
        )
    return {"sources": sources, "target": target}
