"""docs/figures/make_figures.py draws the networks from the built models."""

import importlib.util
import math
import pathlib
import xml.etree.ElementTree as ET

from keras_pix2pix.models import PatchGANDiscriminator, UNetGenerator

ROOT = pathlib.Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def load_script():
    path = ROOT / "docs" / "figures" / "make_figures.py"
    spec = importlib.util.spec_from_file_location("make_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def texts(svg):
    root = ET.fromstring(svg)  # raises on malformed XML
    assert root.tag == f"{SVG}svg"
    return root, " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_unet_svg_shows_every_layer_shape_and_skip():
    generator = UNetGenerator(
        input_shape=(16, 16, 1), filters=4, num_downsampling_blocks=3
    )
    root, text = texts(load_script().unet_svg(generator))
    for layer in generator.layers:
        assert layer.name in text, layer.name
    assert "out 8 x 8 x 4" in text  # down_1's output
    assert "conv 4x4 /2 > BN > LReLU 0.2" in text  # down_2
    assert "ReLU > convT 4x4 x2 > tanh" in text  # the output layer and tanh
    params = sum(math.prod(w.shape) for w in generator.trainable_weights)
    assert f"{params:,} trainable parameters" in text
    boxes = root.findall(f"{SVG}rect[@rx]")
    assert len(boxes) == 1 + 3 + 3  # input, 3 down, 2 up + the output block
    dashed = [p for p in root.iter(f"{SVG}path") if p.get("stroke-dasharray")]
    assert len(dashed) == 2  # skip_1, skip_2


def test_chain_svg_shows_the_discriminator():
    discriminator = PatchGANDiscriminator(
        input_shape=(16, 16, 1), filters=4, num_layers=2
    )
    root, text = texts(load_script().chain_svg(discriminator))
    for layer in discriminator.layers:
        assert layer.name in text, layer.name
    assert "out 16 x 16 x 2" in text  # the concatenated pair
    assert len(root.findall(f"{SVG}rect[@rx]")) == len(discriminator.layers)


def test_the_committed_figures_exist():
    figures = ROOT / "docs" / "figures"
    for name in ["unet_generator.svg", "patchgan_discriminator.svg"]:
        _, text = texts((figures / name).read_text(encoding="utf-8"))
        assert "trainable parameters" in text
    assert (figures / "phantom_samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
