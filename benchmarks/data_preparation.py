"""How long IXI data preparation takes, how much memory it needs, how fast it feeds.

Three measurements:

1. Preparation: for each number of subjects N, `load_ixi_pairs` on the first N
   subjects (sorted IDs) into a fresh cache folder, in a fresh Python
   subprocess, so that its peak resident memory (`ru_maxrss`) belongs to that
   run alone. Prints seconds, seconds per subject, RSS after the imports, peak
   RSS, and the slices produced; then a second call with the same cache
   (reuse, which should prepare nothing).
2. Loader throughput: slices and batches per second through
   `PairedSliceDataset` reading the largest cache (memory-mapped), with and
   without augmentation, at batch sizes 1 and 8, against the training step it
   feeds (the reference PyTorch step at 256 x 256, batch 1, on the 2-core CPU
   of this project: about 0.74-0.84 s, see `benchmarks/reference_pytorch.py`).
3. An estimate for the whole IXI release (about 577 subjects with T1 and T2).

Without `--root`, phantom subjects are written first (`write_phantom_ixi`, at
the real IXI grids by default: T1 256 x 256 x 150 PSR, T2 256 x 256 x 130 LAS),
into `--workdir` or a temporary folder. The 1-minute load average
(`os.getloadavg()`) is printed with every measurement: on a shared machine
another job may take some of the cores.

    python benchmarks/data_preparation.py --subjects 1 2 4 --image-size 256
    python benchmarks/data_preparation.py --root ~/data/IXI --subjects 1 2 4 8
    python benchmarks/data_preparation.py --subjects 1 --profile  # cProfile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pathlib
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

IXI_SUBJECTS = 577
# benchmarks/reference_pytorch.py on this project's 2-core CPU, 256 x 256,
# batch 1: 0.74 s per training step (shared/FACTS.md); 0.84 s was measured
# for the Keras TensorFlow step in docs/reproduction.md.
REFERENCE_STEP_S = (0.74, 0.84)


def _load() -> float:
    return os.getloadavg()[0]


def _rss_mb() -> float:
    """Peak RSS of this process in MB: `ru_maxrss` (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hwm_mb() -> float | None:
    """Peak RSS of this process's own address space (`VmHWM`), in MB.

    `ru_maxrss` survives `execve`: a child started by `subprocess` (vfork +
    exec) starts with its parent's peak. `VmHWM` belongs to the new address
    space alone. `None` where /proc is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_parts_mb() -> tuple[float, float]:
    """Current (anonymous, file-backed) resident memory of this process, MB."""
    values = {"RssAnon:": 0.0, "RssFile:": 0.0}
    try:
        with open("/proc/self/status", encoding="ascii") as file:
            for line in file:
                key = line.split(":")[0] + ":"
                if key in values:
                    values[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values["RssAnon:"], values["RssFile:"]


class _Sampler(threading.Thread):
    """Samples anonymous and file-backed RSS every few ms; keeps the maxima.

    The peak RSS counts the pages of memory-mapped files a process has
    touched (here, the cache arrays it writes), which the kernel can drop at
    any time; the anonymous part is the memory the preparation really holds.
    """

    def __init__(self, interval=0.005):
        super().__init__(daemon=True)
        self.interval = interval
        self.anon = self.file = 0.0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            anon, file = _rss_parts_mb()
            self.anon, self.file = max(self.anon, anon), max(self.file, file)
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        self.join()


def _worker(args) -> None:
    """Runs in a fresh subprocess: prepares N subjects, prints one JSON line."""
    from keras_pix2pix.datasets import (
        SliceSpec,
        SubjectSelection,
        list_ixi_subjects,
        load_ixi_pairs,
    )

    ids = list_ixi_subjects(args.root).subject_ids[: args.worker]
    spec = SliceSpec(image_size=args.image_size)
    selection = SubjectSelection(subjects=ids)
    rss_import, hwm_import = _rss_mb(), _hwm_mb()
    anon_import, _ = _rss_parts_mb()
    cache = None if args.pairing == "paper" else args.cache
    sampler = _Sampler()
    sampler.start()
    load_before = _load()
    start = time.perf_counter()
    source, _, info = load_ixi_pairs(
        args.root,
        spec,
        selection,
        pairing=args.pairing,
        cache_dir=cache,
        workers=args.workers,
    )
    seconds = time.perf_counter() - start
    sampler.stop()
    result = {
        "n": len(ids),
        "seconds": seconds,
        "slices": int(source.shape[0]),
        "rss_import_mb": rss_import,
        "peak_rss_mb": _rss_mb(),
        "hwm_import_mb": hwm_import,
        "hwm_mb": _hwm_mb(),
        "anon_import_mb": anon_import,
        "anon_peak_mb": sampler.anon,
        "file_peak_mb": sampler.file,
        "load_before": load_before,
        "load_after": _load(),
        "cache_dir": info.cache_dir,
        "workers": args.workers,
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        / 1024,
    }
    del source
    if cache is not None:
        start = time.perf_counter()
        again = load_ixi_pairs(
            args.root, spec, selection, pairing=args.pairing, cache_dir=cache
        ).source
        result["reuse_seconds"] = time.perf_counter() - start
        result["reuse_slices"] = int(again.shape[0])
        result["cache_bytes"] = sum(
            p.stat().st_size for p in pathlib.Path(info.cache_dir).iterdir()
        )
    print("RESULT " + json.dumps(result), flush=True)


def _profile_worker(args) -> None:
    """Runs in a fresh subprocess: cProfile of preparing one subject."""
    import nibabel.processing  # noqa: F401  (imported lazily; not a cost)
    import scipy.ndimage  # noqa: F401

    from keras_pix2pix.datasets import (
        SliceSpec,
        SubjectSelection,
        list_ixi_subjects,
        load_ixi_pairs,
    )

    ids = list_ixi_subjects(args.root).subject_ids[:1]
    cache = None if args.pairing == "paper" else args.cache
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    load_ixi_pairs(
        args.root,
        SliceSpec(image_size=args.image_size),
        SubjectSelection(subjects=ids),
        pairing=args.pairing,
        cache_dir=cache,
    )
    profiler.disable()
    print(f"profiled {ids[0]}: {time.perf_counter() - start:.2f} s", flush=True)
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(18)
        text = out.getvalue()
        print(f"--- top functions by {key} ---")
        print(text[text.find("   ncalls") :], flush=True)


def _phantom_worker(args) -> None:
    """Runs in a subprocess, so that the parent never imports keras."""
    from keras_pix2pix.datasets.phantom import write_phantom_ixi

    write_phantom_ixi(
        args.root, args.write_phantoms, shape=tuple(args.phantom_shape), seed=0
    )


def _subprocess(args, extra) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if args.keras_backend != "inherit":
        env["KERAS_BACKEND"] = args.keras_backend
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--root",
        str(args.root),
        "--pairing",
        args.pairing,
        "--image-size",
        str(args.image_size),
        *([] if args.workers is None else ["--workers", str(args.workers)]),
        *extra,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True)


def _prepare(args, n, cache) -> dict:
    done = _subprocess(args, ["--worker", str(n), "--cache", str(cache)])
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.stderr.write(done.stdout + done.stderr)
    raise RuntimeError(f"The preparation of {n} subject(s) failed.")


def _throughput(cache_dir, batch_size, augment) -> dict:
    from keras_pix2pix.datasets.slice_cache import open_slice_cache
    from keras_pix2pix.datasets.slice_dataset import PairedSliceDataset

    cache = open_slice_cache(cache_dir)
    dataset = PairedSliceDataset(
        cache, batch_size=batch_size, shuffle=True, augment=augment, seed=0
    )
    load_before = _load()
    start = time.perf_counter()
    slices = 0
    for index in range(len(dataset)):
        source, _ = dataset[index]
        slices += len(source)
    seconds = time.perf_counter() - start
    return {
        "batch": batch_size,
        "augment": augment,
        "slices": slices,
        "batches": len(dataset),
        "seconds": seconds,
        "load": (load_before, _load()),
    }


def _versions() -> str:
    import nibabel
    import numpy
    import scipy

    return (
        f"python {platform.python_version()}, numpy {numpy.__version__}, "
        f"nibabel {nibabel.__version__}, scipy {scipy.__version__}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--root", help="an IXI folder (default: write phantoms)")
    parser.add_argument(
        "--pairing", choices=("aligned", "registered", "paper"), default="aligned"
    )
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--workdir", help="where phantoms and caches go (temp)")
    parser.add_argument(
        "--phantom-shape",
        type=int,
        nargs=3,
        default=(256, 256, 150),
        help="T1 grid of the phantoms (default: the IXI grid)",
    )
    parser.add_argument(
        "--keras-backend",
        default="numpy",
        help="KERAS_BACKEND of the preparation subprocesses ('inherit' keeps "
        "the environment's); preparation uses no framework, so the default "
        "numpy backend keeps the import baseline of the RSS small",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of load_ixi_pairs (default: the library's, the "
        "machine's cores for 4 or more subjects)",
    )
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile 1 subject")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--write-phantoms", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        return _worker(args)
    if args.profile_worker:
        return _profile_worker(args)
    if args.write_phantoms is not None:
        return _phantom_worker(args)

    temporary = None
    if args.workdir:
        workdir = pathlib.Path(args.workdir).expanduser()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        temporary = tempfile.mkdtemp(prefix="data-preparation-")
        workdir = pathlib.Path(temporary)
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}")
    print(f"versions: {_versions()}")
    print(f"workdir: {workdir}; pairing {args.pairing}; image size {args.image_size}")
    try:
        if args.root is None:
            args.root = workdir / "phantom-ixi"
            shutil.rmtree(args.root, ignore_errors=True)
            count = max(args.subjects)
            load_before = _load()
            start = time.perf_counter()
            shape = [str(n) for n in args.phantom_shape]
            done = _subprocess(
                args, ["--write-phantoms", str(count), "--phantom-shape", *shape]
            )
            if done.returncode:
                sys.stderr.write(done.stdout + done.stderr)
                raise RuntimeError("Writing the phantoms failed.")
            print(
                f"wrote {count} phantom subject(s) at T1 grid "
                f"{tuple(args.phantom_shape)} in {time.perf_counter() - start:.1f} s "
                f"(not part of the preparation; load {load_before:.2f} -> "
                f"{_load():.2f})",
                flush=True,
            )
        args.root = pathlib.Path(args.root).expanduser()

        print("\n## 1. Preparation (fresh subprocess and fresh cache per N)")
        header = (
            "| N | slices | prepare s | s / subject | RSS after imports MB | "
            "peak RSS MB | peak - imports MB | peak anon - imports MB | "
            "peak file-backed MB | ru_maxrss MB | reuse s | cache MB | load 1 min | "
            "workers | worker ru_maxrss MB |"
        )
        print(header)
        print(_rule(header))
        results = []
        for n in args.subjects:
            cache = workdir / f"cache-{args.pairing}-{args.image_size}-n{n}"
            shutil.rmtree(cache, ignore_errors=True)
            result = _prepare(args, n, cache)
            results.append(result)
            reuse = result.get("reuse_seconds")
            size = result.get("cache_bytes")
            print(
                f"| {result['n']} | {result['slices']} | {result['seconds']:.1f} | "
                f"{result['seconds'] / result['n']:.1f} | "
                f"{result['hwm_import_mb']:.0f} | {result['hwm_mb']:.0f} | "
                f"{result['hwm_mb'] - result['hwm_import_mb']:.0f} | "
                f"{result['anon_peak_mb'] - result['anon_import_mb']:.0f} | "
                f"{result['file_peak_mb']:.0f} | "
                f"{result['peak_rss_mb']:.0f} | "
                f"{'-' if reuse is None else f'{reuse:.3f}'} | "
                f"{'-' if size is None else f'{size / 2**20:.0f}'} | "
                f"{result['load_before']:.2f} -> {result['load_after']:.2f} | "
                f"{result['workers'] or 'default'} | "
                f"{result['children_peak_rss_mb']:.0f} |",
                flush=True,
            )

        largest = max(results, key=lambda r: r["n"])
        per_subject = largest["seconds"] / largest["n"]
        slices_per_subject = largest["slices"] / largest["n"]
        print(f"\n## 3. Estimate for the whole IXI release ({IXI_SUBJECTS} subjects)")
        print(
            f"{per_subject:.1f} s / subject (N = {largest['n']}) x {IXI_SUBJECTS} = "
            f"{per_subject * IXI_SUBJECTS / 60:.0f} min "
            f"({per_subject * IXI_SUBJECTS / 3600:.1f} h), about "
            f"{slices_per_subject * IXI_SUBJECTS:.0f} slice pairs",
            end="",
        )
        if largest.get("cache_bytes"):
            disk = largest["cache_bytes"] / largest["n"] * IXI_SUBJECTS / 2**30
            print(f", a cache of about {disk:.1f} GiB (twice that while it is built)")
        else:
            print()

        if not args.no_throughput and largest.get("cache_dir"):
            print(
                f"\n## 2. Loader throughput (PairedSliceDataset over the cache of "
                f"N = {largest['n']}, {largest['slices']} slices, one epoch, "
                "shuffled; the cache was just written, so it is in the page cache)"
            )
            header = (
                "| batch | augment | slices / s | batches / s | ms / slice | "
                "loader time / training time | load 1 min |"
            )
            print(header)
            print(_rule(header))
            for batch_size in (1, 8):
                for augment in (False, True):
                    run = _throughput(largest["cache_dir"], batch_size, augment)
                    rate = run["slices"] / run["seconds"]
                    seconds_per_slice = run["seconds"] / run["slices"]
                    low, high = (seconds_per_slice / s for s in REFERENCE_STEP_S)
                    print(
                        f"| {batch_size} | {'yes' if augment else 'no'} | "
                        f"{rate:.0f} | {run['batches'] / run['seconds']:.1f} | "
                        f"{1000 * seconds_per_slice:.2f} | "
                        f"{100 * high:.3f}-{100 * low:.3f} % | "
                        f"{run['load'][0]:.2f} -> {run['load'][1]:.2f} |",
                        flush=True,
                    )
            print(
                f"(training time: {REFERENCE_STEP_S[0]}-{REFERENCE_STEP_S[1]} s per "
                "slice, the 256 x 256 batch-1 step of benchmarks/reference_pytorch.py "
                "on this 2-core CPU)"
            )

        if args.profile:
            cache = workdir / f"cache-{args.pairing}-profile"
            shutil.rmtree(cache, ignore_errors=True)
            print("\n## cProfile of one subject (fresh cache)")
            done = _subprocess(args, ["--profile-worker", "--cache", str(cache)])
            print(done.stdout)
            if done.returncode:
                sys.stderr.write(done.stderr)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _rule(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


if __name__ == "__main__":
    main()
