"""Volume synthesis speed: a 150-slice 256 x 256 volume through unet_256.

`keras_pix2pix.synthesis.synthesize_volume` reads the volume, scales it,
predicts every slice in batches and writes nothing here (`output_path=None`),
so the time is the whole path a user waits for, minus the disk write. The
volume is a synthetic T1w head on the IXI T1 grid (256 x 256 x 150, stored
sagittal), synthesized along its 150 sagittal 256 x 256 slices by the
reference `unet_256` (1 -> 1 channel, random weights: speed does not depend on
them) in inference mode `"eval"`.

The baseline, side by side: the same volume through the reference PyTorch
`unet_256` (`reference_pytorch.build_unet_generator`, eval mode, under
`torch.inference_mode()`): read the file with nibabel, percentile-scale it to
[-1, 1], predict its 150 slices in batches (NCHW), stack the outputs and undo
the scaling. It skips what `synthesize_volume` adds (reorientation to RAS+
and back, fitting slices to the model's input, the output header), so the
ratio is a bound on what the library's path costs over the network alone.

Each backend, and the baseline, runs in its own process. For each batch size,
one untimed call compiles / warms up, then `--repeats` calls are timed and the
median is reported, with slices per second, the ratio to the baseline's time
at the same batch size (> 1: faster than plain PyTorch) and the peak RSS of
the process.

Usage:
    python benchmarks/synthesis_speed.py
    python benchmarks/synthesis_speed.py --backends jax --batch-sizes 16
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

BACKENDS = ("tensorflow", "torch", "jax")
BASELINE = "pytorch"
SHAPE = (256, 256, 150)


def _median(times):
    return sorted(times)[len(times) // 2]


def _row(backend, batch_size, times):
    seconds = _median(times[1:])
    row = {
        "backend": backend,
        "batch_size": batch_size,
        "first_call_s": times[0],
        "seconds": seconds,
        "slices_per_s": SHAPE[2] / seconds,
    }
    print(json.dumps(row), flush=True)
    return row


def _time_volumes(backend, synthesize, batch_sizes, repeats):
    """Rows of `synthesize(path, batch_size)`'s times on the phantom volume."""
    from keras_pix2pix.datasets import write_phantom_ixi

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        t1_path = write_phantom_ixi(folder, 1, shape=SHAPE)[0]
        for batch_size in batch_sizes:
            times = []
            for _ in range(repeats + 1):
                start = time.perf_counter()
                synthesize(t1_path, batch_size)
                times.append(time.perf_counter() - start)
            rows.append(_row(backend, batch_size, times))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [{**row, "peak_rss_mb": peak} for row in rows]


def measure_baseline(batch_sizes, repeats):
    """The same seconds per volume for the plain PyTorch network."""
    import nibabel as nib
    import numpy as np
    import torch

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import reference_pytorch as ref

    torch.manual_seed(0)
    generator = ref.build_unet_generator(1, 1, num_downs=8, ngf=64).eval()

    def synthesize(path, batch_size):
        volume = np.asarray(nib.load(path).dataobj, dtype=np.float32)
        lower, upper = np.percentile(volume, (0.5, 99.5))
        scaled = np.clip((volume - lower) / (upper - lower), 0, 1) * 2 - 1
        scaled = scaled.astype(np.float32)
        slices = np.ascontiguousarray(np.moveaxis(scaled, 2, 0)[:, None])
        with torch.inference_mode():
            outputs = [
                generator(torch.from_numpy(slices[i : i + batch_size])).numpy()
                for i in range(0, len(slices), batch_size)
            ]
        generated = np.moveaxis(np.concatenate(outputs)[:, 0], 0, 2)
        return (generated + 1) / 2 * (upper - lower) + lower

    return _time_volumes(BASELINE, synthesize, batch_sizes, repeats)


def measure(batch_sizes, repeats):
    """Median seconds per volume for each batch size, on this backend."""
    import keras

    from keras_pix2pix.datasets import SliceSpec
    from keras_pix2pix.models import UNetGenerator
    from keras_pix2pix.synthesis import synthesize_volume

    keras.utils.set_random_seed(0)
    generator = UNetGenerator(input_shape=(256, 256, 1), output_channels=1)

    spec = SliceSpec(plane="sagittal", image_size=256)

    def synthesize(path, batch_size):
        synthesize_volume(generator, path, spec=spec, batch_size=batch_size)

    return _time_volumes(keras.backend.backend(), synthesize, batch_sizes, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--batch-sizes", default="1,8,16,32")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.worker:
        if os.environ.get("SYNTHESIS_BASELINE"):
            rows = measure_baseline(batch_sizes, args.repeats)
        else:
            rows = measure(batch_sizes, args.repeats)
        print("ROWS " + json.dumps(rows))
        return
    # Each backend's rows are printed (and saved) as soon as its process ends,
    # so a long run that is stopped keeps what it measured.
    print(
        "| backend | batch | s / volume (150 slices) | slices / s "
        "| vs plain PyTorch | first call (s) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|", flush=True)
    rows = []
    baseline = {}
    for backend in (BASELINE, *args.backends.split(",")):
        env = {**os.environ, "KERAS_BACKEND": backend}
        if backend == BASELINE:
            # The phantom is written with the library's (NumPy) data code.
            env.update(KERAS_BACKEND="torch", SYNTHESIS_BASELINE="1")
        done = subprocess.run(
            [sys.executable, __file__, "--worker", *sys.argv[1:]],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        line = next(x for x in done.stdout.splitlines() if x.startswith("ROWS "))
        for row in json.loads(line[5:]):
            if backend == BASELINE:
                baseline[row["batch_size"]] = row["seconds"]
            row["vs_baseline"] = baseline[row["batch_size"]] / row["seconds"]
            rows.append(row)
            print(
                f"| {row['backend']} | {row['batch_size']} | {row['seconds']:.1f} "
                f"| {row['slices_per_s']:.1f} | {row['vs_baseline']:.2f} "
                f"| {row['first_call_s']:.1f} | {row['peak_rss_mb']:.0f} |",
                flush=True,
            )
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
