"""Regenerates the documentation's figures in docs/figures/.

- `unet_generator.svg`, `patchgan_discriminator.svg`: the default networks of
  `Pix2Pix()` (the reference `unet_256` and the 70x70 PatchGAN, 256x256 RGB),
  drawn from the built Keras models: one box per layer with its operations,
  output shape and parameter count, arrows along the data flow, and the
  U-Net's skip connections (its `Concatenate` layers) as dashed arrows.
- `phantom_samples.png`: a sample grid (source T1 | real T2 | generated T2 |
  difference) of held-out phantom heads after a short training run on
  synthetic MRI (`load_phantom_pairs`, 64x64, a U-Net and PatchGAN with 32
  filters, `--steps` steps of batch 4, rounded up to whole epochs; about 3
  minutes on an idle 2-core CPU with the torch backend).

Run from the repository root:

    KERAS_BACKEND=torch python docs/figures/make_figures.py
    python docs/figures/make_figures.py --only architecture  # seconds
"""

import argparse
import math
import os
import pathlib
import time
from xml.sax.saxutils import escape

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

FIGURES = pathlib.Path(__file__).resolve().parent

BOX_WIDTH = 250
BOX_HEIGHT = 58
ROW_GAP = 26
COLUMN_GAP = 170
MARGIN = 30
TITLE_HEIGHT = 50
NORMS = {"batch": "BN", "instance": "IN"}
COLOURS = {
    "InputLayer": "#e8eef7",
    "DownsampleBlock": "#d9ead3",
    "UpsampleBlock": "#fce5cd",
    "Concatenate": "#eeeeee",
    "Activation": "#eeeeee",
}


# === Reading the model ===


def _as_list(tensors):
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def layer_graph(model):
    """The layers of a functional model with the layers each one reads.

    Returns:
        A list of `(layer, [input layers])` in the model's (topological)
        order.
    """
    producer = {}
    for layer in model.layers:
        for tensor in _as_list(layer.output):
            producer[id(tensor)] = layer
    graph = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            graph.append((layer, []))
            continue
        graph.append((layer, [producer[id(t)] for t in _as_list(layer.input)]))
    return graph


def _shape(layer):
    return " x ".join(str(d) for d in layer.output.shape[1:])


def describe(layer):
    """One line naming what a layer computes, from its config."""
    config = layer.get_config()
    kind = type(layer).__name__
    if kind == "InputLayer":
        return "input"
    if kind == "Concatenate":
        return "concatenate (channels)"
    if kind == "Activation":
        return config["activation"]
    steps = []
    if kind == "UpsampleBlock":
        if config.get("activation") == "relu":
            steps.append("ReLU")
        k, s = config["kernel_size"], config["strides"]
        steps.append(f"convT {k}x{k} x{s}")
    else:
        k, s = config["kernel_size"], config["strides"]
        steps.append(f"conv {k}x{k} /{s}" if s > 1 else f"conv {k}x{k}")
    if config.get("norm") in NORMS:
        steps.append(NORMS[config["norm"]])
    if kind == "UpsampleBlock" and config.get("dropout"):
        steps.append(f"dropout {config['dropout']:g}")
    if kind == "DownsampleBlock" and config.get("activation") == "leaky_relu":
        steps.append(f"LReLU {config['negative_slope']:g}")
    elif kind == "DownsampleBlock" and config.get("activation") == "relu":
        steps.append("ReLU")
    return " > ".join(steps)


# === Drawing ===


def trainable_parameters(layer):
    return sum(math.prod(weight.shape) for weight in layer.trainable_weights)


def _box(x, y, layer, extra=None):
    """A layer's box; `extra`, a layer that follows it, is drawn in it too."""
    fill = COLOURS.get(type(layer).__name__, "#ffffff")
    title = (
        f"{layer.name}{f' + {extra.name}' if extra else ''}  ({type(layer).__name__})"
    )
    detail = describe(layer) + (f" > {describe(extra)}" if extra else "")
    params = trainable_parameters(layer) + (trainable_parameters(extra) if extra else 0)
    size = f"out {_shape(extra or layer)}  |  {params:,} params"
    lines = [(title, "bold"), (detail, "normal"), (size, "normal")]
    parts = [
        f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" '
        f'fill="{fill}" stroke="#555"/>'
    ]
    for index, (text, weight) in enumerate(lines):
        parts.append(
            f'<text x="{x + 8}" y="{y + 17 + 17 * index}" font-weight="{weight}">'
            f"{escape(text)}</text>"
        )
    return parts


def _arrow(x1, y1, x2, y2, dashed=False, label=None):
    style = ' stroke-dasharray="6 4"' if dashed else ""
    parts = [
        f'<path d="M {x1} {y1} L {x2} {y2}" stroke="#333" fill="none"'
        f'{style} marker-end="url(#arrow)"/>'
    ]
    if label:
        parts.append(
            f'<text x="{(x1 + x2) / 2}" y="{(y1 + y2) / 2 - 5}" '
            f'text-anchor="middle" font-size="10">{escape(label)}</text>'
        )
    return parts


def _svg(width, height, titles, body):
    header = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="11">\n'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n'
        f'<text x="{MARGIN}" y="{MARGIN}" font-size="14" font-weight="bold">'
        f"{escape(titles[0])}</text>\n"
        f'<text x="{MARGIN}" y="{MARGIN + 17}">{escape(titles[1])}</text>\n'
    )
    return header + "\n".join(body) + "\n</svg>\n"


def _title(model):
    shape = " x ".join(str(d) for d in model.inputs[0].shape[1:])
    return (
        f"{type(model).__name__}, input {shape}: "
        f"{trainable_parameters(model):,} trainable parameters",
        "Drawn from the built Keras model by docs/figures/make_figures.py",
    )


def unet_svg(generator):
    """An SVG of a U-Net generator: encoder down the left, decoder up the right.

    Each layer sits on the row of its output's resolution (row `r` holds
    outputs `2**r` times smaller than the input); the innermost block is
    centred at the bottom. Skip connections (the `Concatenate` layers) are
    dashed arrows from an encoder block to the decoder block whose output it
    is concatenated with; the concatenation feeds the next decoder block.
    A final activation layer is drawn in the box of the layer it follows.
    """
    graph = layer_graph(generator)
    size = generator.inputs[0].shape[1]
    row = {}
    for layer, _ in graph:
        row[layer.name] = round(math.log2(size / layer.output.shape[1]))
    deepest = max(row.values())
    concats = [
        (layer, ins)
        for layer, ins in graph
        if isinstance(layer, keras.layers.Concatenate)
    ]
    activations = {
        ins[0].name: layer
        for layer, ins in graph
        if isinstance(layer, keras.layers.Activation)
    }
    shown = [
        (layer, ins)
        for layer, ins in graph
        if not isinstance(layer, (keras.layers.Concatenate, keras.layers.Activation))
    ]
    # Encoder: the input and every layer whose output is smaller than its input.
    decoder = {
        layer.name
        for layer, ins in shown
        if ins and layer.output.shape[1] > ins[0].output.shape[1]
    }
    left = MARGIN
    right = MARGIN + BOX_WIDTH + COLUMN_GAP
    position = {}
    for layer, _ in shown:
        y = MARGIN + TITLE_HEIGHT + row[layer.name] * (BOX_HEIGHT + ROW_GAP)
        if row[layer.name] == deepest and layer.name not in decoder:
            x = (left + right) / 2
        else:
            x = right if layer.name in decoder else left
        position[layer.name] = (x, y)
    body = []
    for layer, _ in shown:
        body += _box(*position[layer.name], layer, activations.get(layer.name))

    def source_of(layer):
        # The layer drawn for an input: a concatenation is drawn as its
        # decoder-side input (its last one) plus a dashed skip arrow.
        if isinstance(layer, keras.layers.Concatenate):
            return dict(concats)[layer][-1]
        return layer

    for layer, ins in shown:
        x2, y2 = position[layer.name]
        for producer in ins:
            x1, y1 = position[source_of(producer).name]
            if x1 == x2:  # same column: vertical
                down = y2 > y1
                body += _arrow(
                    x1 + BOX_WIDTH / 2,
                    y1 + (BOX_HEIGHT if down else 0),
                    x2 + BOX_WIDTH / 2,
                    y2 + (0 if down else BOX_HEIGHT),
                )
            else:  # to or from the innermost block
                body += _arrow(
                    x1 + BOX_WIDTH / 2,
                    y1 + BOX_HEIGHT if y2 > y1 else y1,
                    x2 + BOX_WIDTH / 2,
                    y2 if y2 > y1 else y2 + BOX_HEIGHT,
                )
    for concat, (skip, up) in concats:
        x1, y1 = position[skip.name]
        x2, y2 = position[up.name]
        channels = concat.output.shape[-1]
        body += _arrow(
            x1 + BOX_WIDTH,
            y1 + BOX_HEIGHT / 2,
            x2,
            y2 + BOX_HEIGHT / 2,
            dashed=True,
            label=f"{concat.name}: concatenate, {channels} ch",
        )
    width = 2 * MARGIN + 2 * BOX_WIDTH + COLUMN_GAP
    height = MARGIN + TITLE_HEIGHT + (deepest + 1) * (BOX_HEIGHT + ROW_GAP) + MARGIN
    return _svg(width, height, _title(generator), body)


def chain_svg(model):
    """An SVG of a small layer graph, top to bottom by depth from the inputs.

    Layers at the same depth (e.g. the two inputs of a discriminator) sit side
    by side; arrows join each layer to the layers it reads.
    """
    graph = layer_graph(model)
    depth = {}
    for layer, ins in graph:
        depth[layer.name] = 1 + max((depth[p.name] for p in ins), default=-1)
    columns = {}
    position = {}
    for layer, _ in graph:
        level = depth[layer.name]
        column = columns.get(level, 0)
        columns[level] = column + 1
        position[layer.name] = [column, level]
    widest = max(columns.values())
    for layer, _ in graph:  # centre each row
        column, level = position[layer.name]
        offset = (widest - columns[level]) * (BOX_WIDTH + 40) / 2
        position[layer.name] = (
            MARGIN + offset + column * (BOX_WIDTH + 40),
            MARGIN + TITLE_HEIGHT + level * (BOX_HEIGHT + ROW_GAP),
        )
    body = []
    for layer, ins in graph:
        body += _box(*position[layer.name], layer)
        x2, y2 = position[layer.name]
        for producer in ins:
            x1, y1 = position[producer.name]
            body += _arrow(x1 + BOX_WIDTH / 2, y1 + BOX_HEIGHT, x2 + BOX_WIDTH / 2, y2)
    width = 2 * MARGIN + widest * (BOX_WIDTH + 40) - 40
    height = (
        MARGIN
        + TITLE_HEIGHT
        + (max(depth.values()) + 1) * (BOX_HEIGHT + ROW_GAP)
        + MARGIN
    )
    return _svg(max(width, 640), height, _title(model), body)


# === The figures ===


def architecture_figures(directory=FIGURES):
    """Draws `Pix2Pix()`'s default networks; returns the paths written."""
    from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator

    figures = {
        "unet_generator.svg": unet_svg(UNetGenerator()),
        "patchgan_discriminator.svg": chain_svg(PatchGANDiscriminator()),
    }
    paths = []
    for name, svg in figures.items():
        path = pathlib.Path(directory) / name
        path.write_text(svg, encoding="utf-8")
        paths.append(path)
    return paths


def sample_figure(directory=FIGURES, steps=400, seed=0):
    """Trains on phantoms and writes the held-out sample grid; returns its path."""
    from keras_pix2pix import Pix2Pix
    from keras_pix2pix.datasets import load_phantom_pairs
    from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator
    from keras_pix2pix.utils import save_sample_grid

    keras.utils.set_random_seed(seed)
    t1, t2 = load_phantom_pairs(num_subjects=9, image_size=64, slices_per_subject=16)
    train, held_out = slice(0, 8 * 16), slice(8 * 16, None)  # the 9th head held out
    shape = (64, 64, 1)
    model = Pix2Pix(
        UNetGenerator(input_shape=shape, filters=32, num_downsampling_blocks=6),
        PatchGANDiscriminator(input_shape=shape, filters=32),
    )
    model.compile()  # the reference: Adam(2e-4, 0.5), vanilla GAN + 100 x L1
    batch_size = 4
    steps_per_epoch = len(t1[train]) // batch_size
    epochs = math.ceil(steps / steps_per_epoch)
    start = time.time()
    model.fit(t1[train], t2[train], batch_size=batch_size, epochs=epochs, verbose=2)
    print(f"trained {epochs * steps_per_epoch} steps in {time.time() - start:.0f} s")
    picks = np.linspace(0, 15, 4).astype(int)
    source, target = t1[held_out][picks], t2[held_out][picks]
    generated = model.predict(source, verbose=0)
    return save_sample_grid(
        pathlib.Path(directory) / "phantom_samples.png", source, target, generated
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["architecture", "samples"])
    parser.add_argument("--steps", type=int, default=416, help="training steps")
    args = parser.parse_args()
    written = []
    if args.only != "samples":
        written += architecture_figures()
    if args.only != "architecture":
        written.append(sample_figure(steps=args.steps))
    for path in written:
        print("wrote", path)


if __name__ == "__main__":
    main()
