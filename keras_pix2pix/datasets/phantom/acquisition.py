"""The phantoms' MR physics: tissue relaxation, sequence signals, acquisition.

`simulate` samples a `Head` on a grid and acquires each contrast: the
noise-free tissue signal, blurred, times a smooth bias field, with Rician noise.
The contrasts: T1, T2 and PD as IXI acquires them, and, for the BraTS-like
phantoms, FLAIR and post-contrast T1 (T1CE), whose sequence parameters are
assumptions (see `FLAIR_INVERSION_TIME_MS` and `GADOLINIUM_R1_PER_MM_S`).
"""

import numpy as np

from keras_pix2pix.datasets.phantom.anatomy import (
    BACKGROUND,
    GREY_MATTER,
    LESION,
    WHITE_MATTER,
    Grid,
)

# (T1 ms, T2 ms, PD relative to CSF) at 1.5 T, indexed by label.
# - GM and WM relaxation times: Stanisz et al., "T1, T2 relaxation and
#   magnetization transfer in tissue at 3T", Magn Reson Med 54:507-512 (2005),
#   1.5 T values: GM T1 1124 ms, T2 95 ms; WM T1 884 ms, T2 72 ms. (Wansapura
#   et al., J Magn Reson Imaging 9:531-538 (1999) give the 3 T counterparts,
#   GM T1 ~1330 ms, WM ~830 ms.)
# - CSF: T1 ~4000 ms and T2 ~2000 ms, rounded from the usual 1.5 T ranges
#   (T1 3500-4500 ms, T2 1500-2000+ ms).
# - PD: water content of about 0.8 (GM) and 0.7 (WM) relative to CSF.
# - Scalp: a blend of subcutaneous fat (T1 ~350 ms at 1.5 T) with skin and
#   muscle; fat looks bright on turbo spin echo (J-coupling), hence the
#   apparent T2 of 90 ms.
# - Skull (cortical bone): T2 below 1 ms and little mobile water, so it is
#   dark with any conventional echo time.
# - Lesion: demyelinating / oedematous white matter, approximate (longer T1
#   and T2 and more water than WM: dark on T1, bright on T2).
# Rounded, approximate values: enough for realistic contrast, not quantitative.
_TISSUE_PROPERTIES = np.array(
    [
        [1.0, 1.0, 0.0],  # background (no signal)
        [550.0, 90.0, 0.80],  # scalp / fat
        [250.0, 0.5, 0.05],  # skull
        [4000.0, 2000.0, 1.00],  # CSF
        [1124.0, 95.0, 0.80],  # grey matter
        [884.0, 72.0, 0.70],  # white matter
        [1300.0, 140.0, 0.85],  # lesion
    ]
)

# IXI Guys (Philips 1.5 T) sequence parameters, as listed on brain-development.org.
T1_REPETITION_TIME_MS = 9.8
T1_ECHO_TIME_MS = 4.6
T1_FLIP_ANGLE_DEG = 8.0
# T2 and PD are the two echoes of one dual-echo turbo spin echo (one TR, one
# grid, one receive-coil bias field).
T2_REPETITION_TIME_MS = 8178.0
T2_ECHO_TIME_MS = 100.0
PD_ECHO_TIME_MS = 8.0

# Assumed inversion preparation of the T1-weighted turbo field echo (not from
# IXI): inversion to k-space centre, excitations per inversion, inversion period.
_T1_INVERSION_TIME_MS = 800.0
_T1_READOUT_PULSES = 128
_T1_SHOT_INTERVAL_MS = 2500.0

# FLAIR (BraTS-like phantoms only; assumed typical clinical 2-D FLAIR at 1.5 T,
# not an IXI sequence): an inversion-recovery turbo spin echo. TI nulls CSF:
# its Mz crosses zero at TI = T1 ln(2 / (1 + exp(-TR / T1))), about 2370 ms for
# T1 = 4000 ms and TR = 9000 ms.
FLAIR_REPETITION_TIME_MS = 9000.0
FLAIR_INVERSION_TIME_MS = 2400.0
FLAIR_ECHO_TIME_MS = 120.0
# T1CE: the T1-weighted acquisition after a gadolinium-based contrast agent.
# Where the blood-brain barrier leaks (the phantom's lesions) the agent
# shortens T1: 1 / T1 = 1 / T1_0 + r1 C, with the relaxivity r1 of
# gadopentetate (Gd-DTPA) in plasma at 1.5 T, about 4.1 L / (mmol s) (Rohrer
# et al., Invest Radiol 40:715-724 (2005)), and an assumed tissue
# concentration C of 0.2 mmol / L. Its T2 shortening is neglected (at TE
# 4.6 ms it changes the signal by well under 1 %); normal brain (intact
# barrier), vessels and dura do not enhance in the phantom.
GADOLINIUM_R1_PER_MM_S = 4.1
_LESION_GADOLINIUM_MM = 0.2

# The contrasts of the IXI-like phantoms (`make_phantom_volume` acquires all
# of them, `write_phantom_ixi` writes them).
CONTRASTS = ("T1", "T2", "PD")
# Every contrast `simulate` can acquire: those, and the BraTS-like FLAIR and
# T1CE (`write_phantom_brats`).
ALL_CONTRASTS = (*CONTRASTS, "FLAIR", "T1CE")
# The bias field each is acquired with: the FLAIR (a turbo spin echo) shares
# the T2 acquisition's, the T1CE (the T1 sequence) the T1 acquisition's.
_BIAS_FIELD = {
    "T1": "t1_bias_field",
    "T2": "t2_bias_field",
    "PD": "t2_bias_field",
    "FLAIR": "t2_bias_field",
    "T1CE": "t1_bias_field",
}
# Voxels per slab of `simulate`: bounds the memory on IXI-sized grids.
_SLAB_VOXELS = 1 << 21


def _inversion_prepared_gradient_echo(t1, t2, proton_density):
    """T1-weighted signal of an inversion-prepared spoiled gradient echo.

    Each shot: inversion; after a delay, `n` excitations of flip angle `a`
    every TR (between them Mz relaxes towards `M_ss = (1 - E1) / (1 - cos(a)
    E1)` by the factor `rho = cos(a) E1`, `E1 = exp(-TR / T1)`); recovery until
    the next inversion. The steady state of the shot is solved in closed form
    and the signal is read at the middle excitation (linear k-space order).
    """
    flip = np.deg2rad(T1_FLIP_ANGLE_DEG)
    e1 = np.exp(-T1_REPETITION_TIME_MS / t1)
    rho = np.cos(flip) * e1
    steady = (1.0 - e1) / (1.0 - rho)
    pulses = _T1_READOUT_PULSES
    delay = _T1_INVERSION_TIME_MS - (pulses // 2) * T1_REPETITION_TIME_MS
    recovery = _T1_SHOT_INTERVAL_MS - delay - pulses * T1_REPETITION_TIME_MS
    e_delay = np.exp(-delay / t1)
    e_recovery = np.exp(-recovery / t1)
    rho_n = rho**pulses
    # Mz just before the inversion, in the periodic steady state.
    before_inversion = (
        1.0
        - e_recovery
        + e_recovery * (steady * (1.0 - rho_n) + rho_n * (1.0 - e_delay))
    ) / (1.0 + e_recovery * rho_n * e_delay)
    first_pulse = 1.0 - (1.0 + before_inversion) * e_delay
    centre = steady + (first_pulse - steady) * rho ** (pulses // 2)
    decay = np.exp(-T1_ECHO_TIME_MS / t2)
    return proton_density * np.sin(flip) * np.abs(centre) * decay


def _spin_echo(t1, t2, proton_density, echo_time):
    """Spin-echo signal with TR 8178 ms: T2-weighted at TE 100 ms, PD at 8 ms."""
    tr = T2_REPETITION_TIME_MS
    recovery = 1.0 - 2.0 * np.exp(-(tr - echo_time / 2.0) / t1) + np.exp(-tr / t1)
    return proton_density * recovery * np.exp(-echo_time / t2)


def _flair(t1, t2, proton_density):
    """Magnitude signal of an inversion-recovery spin echo (FLAIR).

    Inversion, excitation TI later, echo at TE, repeated every TR (Mz is 0
    after the echo train, so it regrows over TR - TI before the next
    inversion):
    `S = PD * |1 - 2 exp(-TI / T1) + exp(-TR / T1)| * exp(-TE / T2)`.
    With TI 2400 ms, TR 9000 ms, TE 120 ms, CSF is nearly nulled (about 4 %
    of grey matter) and lesions (long T2) are the brightest brain tissue.
    """
    tr, ti = FLAIR_REPETITION_TIME_MS, FLAIR_INVERSION_TIME_MS
    recovery = 1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1)
    return proton_density * np.abs(recovery) * np.exp(-FLAIR_ECHO_TIME_MS / t2)


def _enhanced_t1(t1):
    """T1 (ms) after the contrast agent: shortened in lesions only."""
    rate = 1.0 / t1
    rate[LESION] += GADOLINIUM_R1_PER_MM_S * _LESION_GADOLINIUM_MM / 1000.0
    return 1.0 / rate


def tissue_signals() -> dict[str, np.ndarray]:
    """Noise-free signal of each tissue label, shape (labels,), per contrast.

    Returns:
        `{"T1": ..., "T2": ..., "PD": ..., "FLAIR": ..., "T1CE": ...}`:
        T1-weighted (inversion-prepared gradient echo), T2-weighted (spin
        echo, TE 100 ms), proton-density weighted (the same acquisition's
        first echo, TE 8 ms: long TR and short TE leave mostly the proton
        density, so CSF > GM > WM), FLAIR (inversion-recovery spin echo, CSF
        nulled; see `_flair`) and T1CE (the T1-weighted sequence with the
        lesions' T1 shortened by a gadolinium agent: lesions brighter than
        white matter; every other tissue as on T1).
    """
    t1, t2, proton_density = _TISSUE_PROPERTIES.T
    return {
        "T1": _inversion_prepared_gradient_echo(t1, t2, proton_density),
        "T2": _spin_echo(t1, t2, proton_density, T2_ECHO_TIME_MS),
        "PD": _spin_echo(t1, t2, proton_density, PD_ECHO_TIME_MS),
        "FLAIR": _flair(t1, t2, proton_density),
        "T1CE": _inversion_prepared_gradient_echo(_enhanced_t1(t1), t2, proton_density),
    }


def _blur(volume):
    """Light separable 3-tap blur, a stand-in for the point-spread function."""
    out = volume
    for axis in range(3):
        padded = np.pad(
            out, [(1, 1) if a == axis else (0, 0) for a in range(3)], "edge"
        )
        lower = np.take(padded, np.arange(0, out.shape[axis]), axis=axis)
        upper = np.take(padded, np.arange(2, out.shape[axis] + 2), axis=axis)
        out = 0.75 * out + 0.125 * (lower + upper)
    return out


def _sample_fields(head, shape, affine, field_names, bias_strength):
    """Labels, texture and the named bias fields of `head` on a grid."""
    labels = np.empty(shape, np.uint8)
    texture = np.empty(shape, np.float32)
    biases = {name: np.empty(shape, np.float32) for name in field_names}
    # Slabs of slices keep the memory bounded on IXI-sized grids.
    step = max(1, _SLAB_VOXELS // (shape[0] * shape[1]))
    for first in range(0, shape[2], step):
        last = min(first + step, shape[2])
        grid = Grid(
            affine[:3, :3],
            affine[:3, 3] + first * affine[:3, 2],
            (shape[0], shape[1], last - first),
        )
        labels[..., first:last], texture[..., first:last] = head.sample(grid)
        for name, bias in biases.items():
            field = getattr(head, name).on_grid(grid)
            bias[..., first:last] = np.exp(bias_strength * field)
    texture[labels == BACKGROUND] = 1.0
    return labels, texture, biases


def simulate(
    head, shape, affine, rng, noise_level, bias_strength, contrasts=("T1", "T2")
):
    """Samples `head` on a grid and acquires each of `contrasts` on it.

    The noise of each contrast is drawn from `rng` in the order of
    `contrasts`, so adding a contrast at the end leaves the others unchanged.

    Args:
        head: a `Head`.
        shape: grid shape.
        affine: 4x4 voxel-to-world matrix of the grid.
        rng: generator of the noise.
        noise_level: noise standard deviation, relative to the mean signal of
            grey and white matter.
        bias_strength: standard deviation of the log bias fields.
        contrasts: names from `ALL_CONTRASTS`.

    Returns:
        `(labels, volumes)`: the `uint8` labels and a dict contrast -> `float32`
        magnitude volume.
    """
    unknown = [c for c in contrasts if c not in ALL_CONTRASTS]
    if unknown:
        raise ValueError(
            f"Unknown phantom contrast(s) {unknown}; expected names from "
            f"{ALL_CONTRASTS}."
        )
    labels, texture, biases = _sample_fields(
        head, shape, affine, {_BIAS_FIELD[c] for c in contrasts}, bias_strength
    )
    signals = tissue_signals()
    brain = [GREY_MATTER, WHITE_MATTER]
    volumes = {}
    for contrast in contrasts:
        signal = signals[contrast]
        bias = biases[_BIAS_FIELD[contrast]]
        clean = _blur(signal.astype(np.float32)[labels] * texture) * bias
        sigma = np.float32(noise_level * signal[brain].mean())
        real = clean + sigma * rng.standard_normal(shape, dtype=np.float32)
        imaginary = sigma * rng.standard_normal(shape, dtype=np.float32)
        volumes[contrast] = np.hypot(real, imaginary)
    return labels, volumes
