"""Training throughput of one full pix2pix step, Keras backends vs plain PyTorch.

One step is what the reference does per batch: generate, one discriminator
update (real pair and detached fake pair), one generator update (adversarial
loss with the discriminator frozen + 100 x L1). The model is the reference
`unet_256` (`unet_128` at 128 x 128; U-Net depth = log2(size)) with the 70 x 70
PatchGAN, BatchNorm, dropout, Adam(2e-4, beta_1=0.5).

Every configuration runs in its own fresh subprocess, so that backends do not
share a process (Keras fixes its backend at import) and each peak RSS is that
configuration's own:

* Keras: `KERAS_BACKEND` set; `keras_pix2pix.Pix2Pix(input_shape=(s, s, c))`
  (with an explicit `UNetGenerator` of depth log2(s) when s != 256),
  `compile(jit_compile=True | False)`, then `train_on_batch(x, y)`; the
  returned logs are converted to Python floats after every step, so that
  asynchronous backends have finished the step before the clock stops.
* Baseline: `reference_pytorch.Pix2PixReference` (plain PyTorch, channels
  first) on the same size, batch and channels, timed around `train_step`
  (which calls `.item()` on its losses: synchronous).

All of them get the same input: `numpy.random.default_rng(0)`, source then
target, uniform in [-1, 1], float32, `(batch, s, s, c)` (transposed to NCHW for
PyTorch). Parameters are seeded but initialised by each framework.

Timing: the first step (tracing / compilation included) is reported on its
own as "first step"; it counts as the first of the `--warmup` untimed steps;
then `--steps` steps are timed one by one and the median is reported.

Threads: `--threads N` (default: all cores) sets `torch.set_num_threads(N)`
(baseline and Keras-torch) and TensorFlow's intra-op thread pool (Keras-TF),
plus `OMP_NUM_THREADS` in every child. JAX has no supported per-process
thread setting on CPU: it always uses all cores (the JSON says so).

FLOPs (analytic, from the layer shapes; multiply-add = 2 FLOPs; convolutions
and transposed convolutions only: BatchNorm, activations, dropout, losses and
the optimizer are left out):

* conv: `2 * H_out * W_out * k * k * C_in * C_out` per image;
* transposed conv: the same on its *input* grid,
  `2 * H_in * W_in * k * k * C_in * C_out`;
* one step = G forward + 3 D forwards (real pair, detached fake pair, fake pair
  for the G update) + backward passes, with backward = 2 x forward where both
  the input and the weight gradients are needed and 1 x forward where only one
  is: 2 G (G update: weight gradients, input gradients between layers),
  2 x 2 D (D update, real and fake pair: weight gradients + input gradients,
  which frameworks compute between layers anyway) and 1 D (G update: input
  gradients only, D frozen). Total = 3 G + 8 D per image, times the batch.

At 256 x 256, 3 channels, batch 1: G forward 12.10, D forward 6.39, step
87.4 GFLOP (FACTS.md measured about 87).

Examples::

    python benchmarks/train_step.py
    python benchmarks/train_step.py --sizes 128 --batch-sizes 1 --channels 1 \\
        --backends tensorflow --jit off --steps 10 --warmup 3 --markdown
    python benchmarks/train_step.py --json /tmp/train_step.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT_PREFIX = "TRAIN_STEP_RESULT "
BACKENDS = ("tensorflow", "torch", "jax")


# --------------------------------------------------------------------------- #
# Analytic FLOPs
# --------------------------------------------------------------------------- #


def _conv_flops(h_out: int, w_out: int, k: int, c_in: int, c_out: int) -> int:
    return 2 * h_out * w_out * k * k * c_in * c_out


def generator_forward_flops(
    size: int, channels: int, depth: int, filters: int = 64
) -> int:
    """FLOPs of one U-Net forward pass, per image (reference `UnetGenerator`).

    Down conv i (i = 0 .. depth-1): 4x4 stride 2 to `min(filters * 2**i,
    8 * filters)` channels at `size / 2**(i+1)`. Up convs (transposed 4x4
    stride 2), counted on their input grid: the innermost takes the
    innermost down output; every other takes the concatenation of the skip
    and the previous up output (twice the level's channels); the last maps to
    `channels`.
    """
    width = [min(filters * 2**i, 8 * filters) for i in range(depth)]
    total = 0
    c_in = channels
    for i in range(depth):
        side = size // 2 ** (i + 1)
        total += _conv_flops(side, side, 4, c_in, width[i])
        c_in = width[i]
    for i in reversed(range(depth)):
        side = size // 2 ** (i + 1)  # input grid of this up conv
        c_in = width[i] if i == depth - 1 else 2 * width[i]
        c_out = channels if i == 0 else width[i - 1]
        total += _conv_flops(side, side, 4, c_in, c_out)
    return total


def discriminator_forward_flops(
    size: int, channels: int, filters: int = 64, n_layers: int = 3
) -> int:
    """FLOPs of one PatchGAN forward pass on a (source, target) pair, per image.

    Reference `NLayerDiscriminator`: 4x4 convs, padding 1; `n_layers` stride-2
    convs, one stride-1 conv to `min(2**n_layers, 8) * filters`, one stride-1
    conv to 1 logit channel.
    """

    def out(side: int, stride: int) -> int:
        return (side + 2 - 4) // stride + 1

    total = 0
    side, c_in = size, 2 * channels
    for n in range(n_layers):
        c_out = filters * min(2**n, 8)
        side = out(side, 2)
        total += _conv_flops(side, side, 4, c_in, c_out)
        c_in = c_out
    c_out = filters * min(2**n_layers, 8)
    side = out(side, 1)
    total += _conv_flops(side, side, 4, c_in, c_out)
    side = out(side, 1)
    total += _conv_flops(side, side, 4, c_out, 1)
    return total


def step_flops(
    size: int, channels: int, batch_size: int, depth: int, filters: int = 64
) -> dict[str, int]:
    """FLOPs of one training step (see the module docstring for the convention)."""
    g = generator_forward_flops(size, channels, depth, filters)
    d = discriminator_forward_flops(size, channels, filters)
    return {
        "generator_forward": g,
        "discriminator_forward": d,
        "step": batch_size * (3 * g + 8 * d),
    }


# --------------------------------------------------------------------------- #
# Child process: one configuration
# --------------------------------------------------------------------------- #


def _peak_rss_mb() -> float | None:
    """VmHWM of this process in MB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _input_data(batch: int, size: int, channels: int) -> tuple[np.ndarray, ...]:
    """The shared inputs: source then target, NHWC, uniform [-1, 1], seed 0."""
    rng = np.random.default_rng(0)
    shape = (batch, size, size, channels)
    source = rng.uniform(-1.0, 1.0, shape).astype("float32")
    target = rng.uniform(-1.0, 1.0, shape).astype("float32")
    return source, target


def _time_steps(step, steps: int, warmup: int) -> dict:
    """Run `step()` (synchronous) warmup + steps times; return the timings."""
    start = time.perf_counter()
    logs = step()
    first = time.perf_counter() - start
    for _ in range(max(warmup - 1, 0)):
        logs = step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs = step()
        times.append(time.perf_counter() - start)
    return {
        "first_step_s": first,
        "step_times_s": times,
        "median_s": statistics.median(times) if times else None,
        "last_logs": logs,
    }


def _run_reference(cfg: dict) -> dict:
    import reference_pytorch as ref
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    c = cfg["channels"]
    setup_start = time.perf_counter()
    model = ref.Pix2PixReference(
        generator=ref.build_unet_generator(
            c, c, num_downs=cfg["depth"], ngf=cfg["filters"]
        ),
        discriminator=ref.build_patchgan_discriminator(2 * c, ndf=cfg["filters"]),
    )
    # Counted now: `train_step` leaves D's parameters with requires_grad off.
    parameters = {
        "generator_parameters": ref.count_parameters(model.generator),
        "discriminator_parameters": ref.count_parameters(model.discriminator),
    }
    source, target = _input_data(cfg["batch_size"], cfg["size"], c)
    source = torch.from_numpy(source.transpose(0, 3, 1, 2).copy())
    target = torch.from_numpy(target.transpose(0, 3, 1, 2).copy())
    setup = time.perf_counter() - setup_start
    result = _time_steps(
        lambda: model.train_step(source, target), cfg["steps"], cfg["warmup"]
    )
    result.update(
        setup_s=setup,
        threads_applied=torch.get_num_threads(),
        versions={"torch": torch.__version__},
        **parameters,
    )
    return result


def _run_keras(cfg: dict) -> dict:
    import keras

    backend = keras.backend.backend()
    threads_applied = None
    versions = {"keras": keras.__version__}
    if backend == "torch":
        import torch

        torch.set_num_threads(cfg["threads"])
        threads_applied = torch.get_num_threads()
        versions["torch"] = torch.__version__
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
        threads_applied = tf.config.threading.get_intra_op_parallelism_threads()
        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    # Seeds Keras's default initializers (drawn from Python's `random`) without
    # `keras.utils.set_random_seed`, which imports TensorFlow on every backend.
    random.seed(0)
    np.random.seed(0)

    from keras_pix2pix.models import PatchGANDiscriminator, Pix2Pix, UNetGenerator

    size, c = cfg["size"], cfg["channels"]
    shape = (size, size, c)
    if keras.config.image_data_format() == "channels_first":
        shape = (c, size, size)
    setup_start = time.perf_counter()
    if cfg["depth"] == 8 and cfg["filters"] == 64:
        model = Pix2Pix(input_shape=shape)
    else:
        model = Pix2Pix(
            generator=UNetGenerator(
                input_shape=shape,
                filters=cfg["filters"],
                num_downsampling_blocks=cfg["depth"],
                name="generator",
            ),
            discriminator=PatchGANDiscriminator(
                input_shape=shape, filters=cfg["filters"], name="discriminator"
            ),
        )
    model.compile(jit_compile=cfg["jit"])
    source, target = _input_data(cfg["batch_size"], size, c)
    if keras.config.image_data_format() == "channels_first":
        source = source.transpose(0, 3, 1, 2).copy()
        target = target.transpose(0, 3, 1, 2).copy()
    source = keras.ops.convert_to_tensor(source)
    target = keras.ops.convert_to_tensor(target)
    setup = time.perf_counter() - setup_start

    def step() -> dict[str, float]:
        logs = model.train_on_batch(source, target, return_dict=True)
        return {name: float(value) for name, value in logs.items()}

    result = _time_steps(step, cfg["steps"], cfg["warmup"])

    def count(variables) -> int:
        return int(sum(math.prod(v.shape) for v in variables))

    result.update(
        setup_s=setup,
        threads_applied=threads_applied,
        versions=versions,
        jit_compile_effective=getattr(model, "jit_compile", None),
        generator_parameters=count(model.generator.trainable_weights),
        discriminator_parameters=count(model.discriminator.trainable_weights),
        tensorflow_imported="tensorflow" in sys.modules,
    )
    return result


def _worker(cfg: dict) -> None:
    """Runs in a fresh subprocess; prints one JSON line."""
    sys.path[:0] = [str(HERE), str(REPO)]
    run = _run_reference if cfg["kind"] == "reference" else _run_keras
    result = run(cfg)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- #
# Parent process
# --------------------------------------------------------------------------- #


def _label(cfg: dict) -> str:
    base = f"{cfg['size']} b{cfg['batch_size']} c{cfg['channels']}"
    if cfg["kind"] == "reference":
        return f"{base} pytorch-reference"
    return f"{base} keras-{cfg['backend']} jit={'on' if cfg['jit'] else 'off'}"


def _error_note(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    note = (errors or lines or ["no output"])[-1]
    return note[:300]


def _run_config(cfg: dict, timeout: float | None) -> dict:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(cfg["threads"])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if cfg["kind"] == "keras":
        env["KERAS_BACKEND"] = cfg["backend"]
    command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    command.append(json.dumps(cfg))
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    record = {"config": _label(cfg), **cfg, "load_1min_before": load_before}
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        record.update(status="timeout", note=f"no result within {timeout} s")
        return record
    finally:
        record["wall_s"] = time.perf_counter() - start
        record["load_1min_after"] = os.getloadavg()[0]
    lines = [
        line[len(RESULT_PREFIX) :]
        for line in done.stdout.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    if done.returncode != 0 or not lines:
        record.update(
            status="failed",
            returncode=done.returncode,
            note=_error_note(done.stderr),
            stderr_tail=done.stderr[-4000:],
        )
        return record
    record.update(status="ok", **json.loads(lines[-1]))
    return record


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _rows(results: list[dict]) -> list[list[str]]:
    baselines = {
        (r["size"], r["batch_size"], r["channels"]): r.get("median_s")
        for r in results
        if r["kind"] == "reference" and r["status"] == "ok"
    }
    rows = []
    for r in results:
        flops = r["flops"]["step"]
        if r["status"] != "ok":
            rows.append(
                [r["config"], f"{r['status']}: {r['note']}"]
                + ["-"] * 4
                + [f"{flops / 1e9:.3g}", "-"]
            )
            continue
        median = r["median_s"]
        baseline = baselines.get((r["size"], r["batch_size"], r["channels"]))
        ratio = baseline / median if baseline and median else None
        rows.append(
            [
                r["config"],
                _fmt(median, ".3f"),
                _fmt(r["batch_size"] / median if median else None, ".2f"),
                _fmt(ratio, ".2f"),
                _fmt(r["first_step_s"], ".2f"),
                _fmt(r["peak_rss_mb"], ".0f"),
                f"{flops / 1e9:.3g}",
                _fmt(flops / median / 1e9 if median else None, ".1f"),
            ]
        )
    return rows


HEADER = [
    "config",
    "s/step",
    "images/s",
    "vs PyTorch",
    "first step s",
    "peak RSS MB",
    "GFLOP/step",
    "GFLOP/s",
]


def _plain_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        pairs = zip(row[1:], widths[1:], strict=True)
        cells += [cell.rjust(width) for cell, width in pairs]
        return "  ".join(cells).rstrip()

    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *map(line, rows)])


def _markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |"]
    lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(HEADER) - 1)) + "|")
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines)


def _configs(args) -> list[dict]:
    configs = []
    for size in args.sizes:
        depth = args.depth or round(math.log2(size))
        if size % 2**depth:
            raise SystemExit(f"size {size} is not a multiple of 2**{depth}")
        for batch_size in args.batch_sizes:
            for channels in args.channels:
                common = {
                    "size": size,
                    "batch_size": batch_size,
                    "channels": channels,
                    "depth": depth,
                    "filters": args.filters,
                    "steps": args.steps,
                    "warmup": args.warmup,
                    "threads": args.threads,
                    "flops": step_flops(
                        size, channels, batch_size, depth, args.filters
                    ),
                }
                configs.append({"kind": "reference", **common})
                for backend in args.backends:
                    for jit in args.jit:
                        configs.append(
                            {
                                "kind": "keras",
                                "backend": backend,
                                "jit": jit == "on",
                                **common,
                            }
                        )
    return configs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS)
    )
    parser.add_argument(
        "--jit",
        nargs="+",
        choices=("on", "off"),
        default=["on", "off"],
        help="Keras jit_compile=True / False (torch: 'on' is torch.compile)",
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed steps, the first included"
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="default: all cores"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds per configuration"
    )
    parser.add_argument("--json", help="write all results (and metadata) here")
    parser.add_argument("--markdown", action="store_true", help="Markdown table")
    # Hidden: tiny networks for smoke tests.
    parser.add_argument("--depth", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--filters", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        _worker(json.loads(args.worker))
        return
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1")

    configs = _configs(args)
    metadata = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("keras", "torch", "tensorflow-cpu", "tensorflow", "jax")
        },
        "threads": args.threads,
        "flop_convention": "convs only; step = batch * (3 G_fwd + 8 D_fwd)",
    }
    results = []
    for index, cfg in enumerate(configs, 1):
        print(f"[{index}/{len(configs)}] {_label(cfg)} ...", file=sys.stderr, end="")
        sys.stderr.flush()
        record = _run_config(cfg, args.timeout)
        results.append(record)
        if record["status"] == "ok":
            print(
                f" {record['median_s']:.3f} s/step ({record['wall_s']:.0f} s)",
                file=sys.stderr,
            )
        else:
            print(f" {record['status']}: {record['note']}", file=sys.stderr)
    _check_parameters(results)

    rows = _rows(results)
    print(_markdown_table(rows) if args.markdown else _plain_table(rows))
    loads = [r["load_1min_before"] for r in results] + [
        r["load_1min_after"] for r in results
    ]
    print(
        f"\n{metadata['cpu_count']} cores, {args.threads} threads; "
        f"1-min load average {min(loads):.2f}-{max(loads):.2f} during the runs. "
        "vs PyTorch = baseline s/step / s/step (>1: faster than plain PyTorch). "
        "FLOPs: convs only, step = batch x (3 G fwd + 8 D fwd)."
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"metadata": metadata, "results": results}, indent=2) + "\n"
        )
        print(f"Results written to {args.json}")


def _check_parameters(results: list[dict]) -> None:
    """Warn when a Keras model's parameter count differs from the reference's."""
    counts = {}
    for r in results:
        if r["status"] != "ok":
            continue
        key = (r["size"], r["channels"], r["depth"], r["filters"])
        pair = (r["generator_parameters"], r["discriminator_parameters"])
        if r["kind"] == "reference":
            counts[key] = pair
    for r in results:
        key = (r["size"], r["channels"], r["depth"], r["filters"])
        if r["status"] == "ok" and r["kind"] == "keras" and key in counts:
            pair = (r["generator_parameters"], r["discriminator_parameters"])
            r["parameters_match_reference"] = pair == counts[key]
            if pair != counts[key]:
                print(
                    f"warning: {r['config']}: parameters {pair} != reference "
                    f"{counts[key]}",
                    file=sys.stderr,
                )


if __name__ == "__main__":
    main()
