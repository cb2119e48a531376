"""The `train` command: fits a Pix2Pix model and writes the run's files."""

import datetime
import json
import pathlib
import sys

from keras_pix2pix.cli import _data, _model
from keras_pix2pix.cli._options import (
    DEFAULT_IMAGE_SIZE,
    PROG,
    SAMPLE_IMAGES,
    HelpFormatter,
    UsageError,
    add_dataset_options,
    check_dataset_args,
)
from keras_pix2pix.cli._train_options import (
    add_model_options,
    add_output_options,
    add_training_options,
)

EPILOG = f"""\
examples:
  # a few minutes on a CPU, no download: synthetic T1 -> T2 head phantoms
  {PROG} train --dataset phantom --image-size 64 --epochs 20 --output runs/phantom
  # IXI T1 -> T2, anatomically aligned slices, the reference settings
  {PROG} train --dataset ixi --data ~/data/IXI --image-size 256 --epochs 200 \\
      --decay-epochs 100 --batch-size 1 --output runs/ixi
  # the same with registered pairs, 2.5-D input (one neighbour on each side)
  # and a correction to a fitted intensity mapping: what scored best on one
  # subject (benchmarks/RESULTS.md)
  {PROG} train --dataset ixi --data ~/data/IXI --pairing registered \\
      --context 1 --prior histogram --output runs/ixi-prior
  # IXI T1 and T2 -> PD (two input contrasts as channels)
  {PROG} train --dataset ixi --data ~/data/IXI --source-contrast T1 T2 \\
      --target-contrast PD --output runs/ixi-t1-t2-pd
  # BraTS-layout folders (co-registered, skull-stripped): t1 -> flair
  {PROG} train --dataset brats --data ~/data/BraTS2021 --source-contrast t1 \\
      --target-contrast flair --output runs/brats-t1-flair
  # MNIST edges -> digits, from a local mnist.npz
  {PROG} train --dataset mnist --mnist-path mnist.npz --task edges --output runs/mnist
  # your own paired images
  {PROG} train --dataset folder --source-dir data/A --target-dir data/B \\
      --image-size 256 --output runs/mine
  # continue an interrupted run up to 40 epochs
  {PROG} train --dataset phantom --epochs 40 --output runs/phantom --resume

The output folder receives config.json (the arguments used), log.csv (losses
per epoch), samples/ (PNG grids: source | target | generated | difference),
checkpoints/ (resumable .keras files) and model.keras (the final model). A
model trained on IXI volumes holds how its slices were cut and the targets'
intensity scaling, so `{PROG} synthesize` needs nothing but model.keras.
"""


# === Arguments ===


def add_parser(subparsers):
    """Adds the `train` command to `subparsers`."""
    parser = subparsers.add_parser(
        "train",
        help="train a Pix2Pix model",
        description="Train a Pix2Pix model (U-Net or ResNet generator, PatchGAN "
        "or pixel discriminator) on paired images, with logs, sample grids and "
        "resumable checkpoints written to --output.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    add_dataset_options(parser)
    add_model_options(parser.add_argument_group("model"))
    add_training_options(parser.add_argument_group("training"))
    add_output_options(parser.add_argument_group("output"))
    parser.set_defaults(command=run)


def _check_train_args(args, network):
    """Checks what can be checked before Keras is imported."""
    check_dataset_args(args)
    if not 0 <= args.beta1 < 1:
        raise UsageError(f"--beta1 must be in [0, 1). Received: {args.beta1}")
    if args.decay_epochs > args.epochs:
        raise UsageError(
            f"--decay-epochs {args.decay_epochs} is more than --epochs "
            f"{args.epochs}: the decay happens within the epochs."
        )
    output = pathlib.Path(args.output).expanduser()
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} exists and is not a folder.")
    checkpoints = output / "checkpoints"
    has_checkpoints = checkpoints.is_dir() and any(checkpoints.glob("epoch_*.keras"))
    if args.resume and not has_checkpoints:
        raise UsageError(
            f"--resume: no checkpoint in {checkpoints}. Run without --resume to "
            "start training."
        )
    if not args.resume and has_checkpoints:
        raise UsageError(
            f"{output} already holds checkpoints of a run. Pass --resume to "
            "continue it, or choose another --output."
        )
    image_size = args.image_size or DEFAULT_IMAGE_SIZE.get(args.dataset)
    if image_size is not None and not args.resume:
        network.check(image_size)


# === Running ===


def run(args):
    """Trains as `args` say.

    Returns:
        0 once model.keras is written, 1 if the loss turned non-finite.
    """
    network = _model.network_spec(args)
    _check_train_args(args, network)
    import keras

    output = pathlib.Path(args.output).expanduser()
    output.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    model, resumed, image_size = _start(args, output / "checkpoints")
    source, target, _, info = _data.load_pairs(args, args.split, image_size)
    image_size = _settle_size(args, source, image_size, network)
    if len(source) < args.batch_size:
        raise UsageError(
            f"--batch-size {args.batch_size} is larger than the {len(source)} "
            "training pairs."
        )
    steps = args.steps_per_epoch or len(source) // args.batch_size
    if resumed is None:
        model = _new_model(args, network, source, target, steps, info)
    _check_input_shape(model, source)
    samples = _samples(args, source, target, image_size)
    _write_config(args, network, output, image_size, len(source), steps, resumed)
    initial_epoch = resumed["epoch"] if resumed else 0
    stop = _fit(args, model, output, source, target, samples, steps, initial_epoch)
    return _finish(args, model, output, stop)


def _start(args, checkpoints):
    """`(model, resumed, image_size)`: the checkpoint's model, or None."""
    if not args.resume:
        return None, None, args.image_size or DEFAULT_IMAGE_SIZE.get(args.dataset)
    import keras

    from keras_pix2pix.callbacks import latest_checkpoint

    path, initial_epoch = latest_checkpoint(checkpoints)
    model = keras.saving.load_model(path)
    resumed = {"checkpoint": str(path), "epoch": initial_epoch}
    if initial_epoch >= args.epochs:
        raise UsageError(
            f"The checkpoint {path.name} already holds {initial_epoch} epochs; "
            f"pass --epochs greater than {initial_epoch} to train further."
        )
    image_size = int(model.generator.input_shape[1 if _data.is_last() else 2])
    return model, resumed, image_size


def _settle_size(args, source, image_size, network):
    """The image size, from the data where no option gave it, checked."""
    if image_size is not None:  # checked by _check_train_args
        return image_size
    image_size = int(source.shape[1])  # folders at their own size
    if source.shape[1] != source.shape[2]:
        raise UsageError(
            f"The images are {source.shape[1]}x{source.shape[2]}; pass "
            "--image-size to resize them to a square."
        )
    if not args.resume:  # a checkpoint's model is already built
        network.check(image_size)
    return image_size


def _new_model(args, network, source, target, steps, info):
    """A compiled Pix2Pix model for the pairs, holding the IXI slicing."""
    from keras_pix2pix.baselines import histogram_prior

    prior = histogram_prior(source, target) if args.prior == "histogram" else None
    model = network.build(
        tuple(_data.channels_last(source[:1]).shape[1:]),
        int(target.shape[-1]),
        prior=prior,
        slice_spec=None if info is None else info.spec,
        target_normalization=None if info is None else info.target_normalization(),
        contrasts=None if info is None else info.contrasts(),
        inference_mode=args.inference_mode,
    )
    generator_optimizer, discriminator_optimizer = _model.optimizers(args, steps)
    model.compile(
        generator_optimizer,
        discriminator_optimizer,
        adversarial_loss=args.gan_loss,
        reconstruction_loss=args.reconstruction,
        reconstruction_weight=args.reconstruction_weight,
    )
    return model


def _check_input_shape(model, source):
    from keras_pix2pix.errors import DataError

    expected = tuple(model.generator.input_shape[1:])
    got = tuple(_data.channels_last(source[:1]).shape[1:])
    if expected != got:
        raise DataError(
            f"The checkpoint's model takes images of shape {expected}, but the "
            f"data are {got}. Resume with the data options of the first run."
        )


def _samples(args, source, target, image_size):
    """The sample grids' pairs: the first validation pairs, else training's."""
    from keras_pix2pix.errors import DataError

    try:
        samples = _data.load_pairs(args, "val", image_size)[:2]
    except (DataError, FileNotFoundError):
        samples = (source, target)
    return tuple(a[:SAMPLE_IMAGES] for a in samples)


def _write_config(args, network, output, image_size, pairs, steps, resumed):
    """Writes config.json: the arguments and what the run settled."""
    import keras

    import keras_pix2pix

    config = {
        key: value for key, value in vars(args).items() if key not in ("command",)
    }
    config.update(
        depth=network.unet_depth(image_size) if args.generator == "unet" else None,
        image_size=image_size,
        backend=keras.backend.backend(),
        keras_version=keras.__version__,
        keras_pix2pix_version=keras_pix2pix.__version__,
        training_pairs=pairs,
        steps_per_epoch_used=steps,
        started=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    if resumed:
        config["resumed_from"] = resumed
        config["runs"] = _previous_runs(output) + 1
    _write_json(output / "config.json", config)


def _fit(args, model, output, source, target, samples, steps, initial_epoch):
    """Fits `model` with the run's callbacks; returns its TerminateOnNonFinite."""
    import keras

    from keras_pix2pix.callbacks import (
        CheckpointCallback,
        SampleGridCallback,
        TerminateOnNonFinite,
    )

    sample_source, sample_target = samples
    stop = TerminateOnNonFinite()
    callbacks = [
        stop,
        keras.callbacks.CSVLogger(str(output / "log.csv"), append=args.resume),
        SampleGridCallback(
            _data.channels_last(sample_source),
            _data.channels_last(sample_target),
            output / "samples",
            every=args.sample_every,
        ),
        CheckpointCallback(
            output / "checkpoints",
            every=args.checkpoint_every,
            keep=args.keep_checkpoints,
        ),
    ]
    from keras_pix2pix.datasets import PairedSliceDataset

    data = PairedSliceDataset(
        _data.channels_last(source),
        _data.channels_last(target),
        batch_size=args.batch_size,
        augment=args.augment,
        flip=args.flip,
        seed=args.seed,
        steps_per_epoch=steps,
    )
    data.set_epoch(initial_epoch)  # a resumed run goes on with its orders
    model.fit(
        data,
        epochs=args.epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=args.verbose,
    )
    return stop


def _finish(args, model, output, stop):
    """Saves model.keras, or reports the non-finite loss; the exit status."""
    from keras_pix2pix.callbacks import latest_checkpoint
    from keras_pix2pix.utils import atomic_path

    if stop.stopped_step is not None:
        found = latest_checkpoint(output / "checkpoints")
        last = "no checkpoint was written" if found is None else f"{found[0]}"
        print(
            f"{PROG}: error: {stop.message} Last good checkpoint: {last}; "
            "model.keras was not written.",
            file=sys.stderr,
        )
        return 1
    with atomic_path(output / "model.keras") as temporary:
        model.save(temporary)
    print(f"Wrote {output / 'model.keras'} ({args.epochs} epochs)")
    return 0


def _previous_runs(output):
    try:
        return int(json.loads((output / "config.json").read_text()).get("runs", 1))
    except (OSError, ValueError, AttributeError):
        return 1


def _write_json(path, data):
    from keras_pix2pix.utils import atomic_path

    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
