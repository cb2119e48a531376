"""Volume synthesis speed: a 150-slice 256 x 256 volume through unet_256.

`keras_pix2pix.synthesis.synthesize_volume` reads the volume, scales it,
predicts every slice in batches and writes nothing here (`output_path=None`),
so the time is the whole path a user waits for, minus the disk write. The
volume is a synthetic T1w head on the IXI T1 grid (256 x 256 x 150, stored
sagittal), synthesized along its 150 sagittal 256 x 256 slices by the
reference `unet_256` (1 -> 1 channel, random weights: speed does not depend on
them) in inference mode `"eval"`.

Each backend runs in its own process. For each batch size, one untimed call
compiles / warms up, then `--repeats` calls are timed and the median is
reported, with slices per second and the peak RSS of the process.

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


def measure(batch_sizes, repeats):
    """Median seconds per volume for each batch size, on this backend."""
    import keras

    from keras_pix2pix.datasets import write_phantom_ixi
    from keras_pix2pix.models import UNetGenerator
    from keras_pix2pix.synthesis import synthesize_volume

    keras.utils.set_random_seed(0)
    generator = UNetGenerator(input_shape=(256, 256, 1), output_channels=1)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        t1_path = write_phantom_ixi(folder, 1, shape=(256, 256, 150))[0]
        for batch_size in batch_sizes:
            times = []
            for _ in range(repeats + 1):
                start = time.perf_counter()
                synthesize_volume(
                    generator, t1_path, plane="sagittal", batch_size=batch_size
                )
                times.append(time.perf_counter() - start)
            seconds = sorted(times[1:])[len(times[1:]) // 2]
            rows.append(
                {
                    "backend": keras.backend.backend(),
                    "batch_size": batch_size,
                    "first_call_s": times[0],
                    "seconds": seconds,
                    "slices_per_s": 150 / seconds,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row["peak_rss_mb"] = peak
    return rows


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
        rows = measure(batch_sizes, args.repeats)
        print("ROWS " + json.dumps(rows))
        return
    # Each backend's rows are printed (and saved) as soon as its process ends,
    # so a long run that is stopped keeps what it measured.
    print(
        "| backend | batch | s / volume (150 slices) | slices / s | first call (s) "
        "| peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|", flush=True)
    rows = []
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run(
            [sys.executable, __file__, "--worker", *sys.argv[1:]],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        line = next(x for x in done.stdout.splitlines() if x.startswith("ROWS "))
        for row in json.loads(line[5:]):
            rows.append(row)
            print(
                f"| {row['backend']} | {row['batch_size']} | {row['seconds']:.1f} "
                f"| {row['slices_per_s']:.1f} | {row['first_call_s']:.1f} "
                f"| {row['peak_rss_mb']:.0f} |",
                flush=True,
            )
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
