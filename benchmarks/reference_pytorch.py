"""A plain-PyTorch re-implementation of the reference pix2pix (no Keras).

This module rebuilds, in PyTorch alone, the networks and the training step of the
reference implementation of pix2pix (Isola et al. 2017,
https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix): the U-Net and ResNet
generators, the PatchGAN (``NLayerDiscriminator``) and pixel discriminators, the
N(0, 0.02) weight initialization and the alternating discriminator / generator
update. It was written independently from the reference's description and
behaviour, not copied from it.

It serves two purposes in keras-pix2pix:

* the baseline against which the Keras models are timed (``benchmarks/``);
* the source of truth for parameter counts and output shapes that the Keras
  models are checked against.

Differences from the reference that do not change any value: the in-place
``LeakyReLU`` / ``ReLU`` of the reference are written as out-of-place functions.
In the reference U-Net the in-place ``LeakyReLU`` at the start of every inner block
overwrites that block's input, so the skip connection carries the *activated*
features; this module keeps that behaviour explicitly.

Run it as a script to print parameter counts, output shapes and the median time
of one training step::

    python benchmarks/reference_pytorch.py
    python benchmarks/reference_pytorch.py --size 128 --num-downs 7 --steps 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

Norm = Literal["batch", "instance", "none"]


def _norm_layer(norm: Norm, channels: int) -> nn.Module:
    """Return the normalization layer the reference uses for `norm`."""
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {norm!r}")


def _uses_bias(norm: Norm) -> bool:
    """Return whether convs get a bias (reference rule: none before BatchNorm).

    The reference decides once per network (``use_bias = norm is InstanceNorm2d``)
    and applies that to every convolution except those it builds with the default
    ``bias=True`` (the first and last layers named in each builder).
    """
    return norm != "batch"


# --------------------------------------------------------------------------- #
# U-Net generator
# --------------------------------------------------------------------------- #


class UNetSkipBlock(nn.Module):
    """One level of the reference U-Net, wrapping the levels below it.

    Down path: ``[LeakyReLU(0.2)] -> Conv 4x4 s2 -> [norm]``; then the inner
    block; then up path: ``ReLU -> ConvTranspose 4x4 s2 -> norm | tanh ->
    [Dropout(0.5)]``. Every block but the outermost returns the concatenation of
    its (activated) input and its up-path output on the channel axis.

    Args:
        outer_channels: channels this block returns from its up path.
        inner_channels: channels of its down conv output.
        input_channels: channels of its input; defaults to `outer_channels`.
        submodule: the block one level deeper, or `None` for the innermost.
        outermost: the first / last level (no activation before the down conv,
            no norm, tanh after the up conv, no skip concatenation).
        innermost: the bottleneck level (no norm after the down conv).
        norm: "batch", "instance" or "none".
        use_dropout: append Dropout(0.5) after the up path.
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        input_channels: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: Norm = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        self.innermost = innermost
        if input_channels is None:
            input_channels = outer_channels
        use_bias = _uses_bias(norm)

        down_conv = nn.Conv2d(
            input_channels, inner_channels, 4, stride=2, padding=1, bias=use_bias
        )
        if outermost:
            up_conv = nn.ConvTranspose2d(
                inner_channels * 2, outer_channels, 4, stride=2, padding=1
            )
            down = [down_conv]
            up = [nn.ReLU(), up_conv, nn.Tanh()]
        elif innermost:
            up_conv = nn.ConvTranspose2d(
                inner_channels, outer_channels, 4, stride=2, padding=1, bias=use_bias
            )
            down = [down_conv]
            up = [nn.ReLU(), up_conv, _norm_layer(norm, outer_channels)]
        else:
            up_conv = nn.ConvTranspose2d(
                inner_channels * 2,
                outer_channels,
                4,
                stride=2,
                padding=1,
                bias=use_bias,
            )
            down = [down_conv, _norm_layer(norm, inner_channels)]
            up = [nn.ReLU(), up_conv, _norm_layer(norm, outer_channels)]
            if use_dropout:
                up.append(nn.Dropout(0.5))

        if innermost and submodule is not None:
            raise ValueError("The innermost block cannot hold a submodule.")
        if not innermost and submodule is None:
            raise ValueError("Only the innermost block may lack a submodule.")
        self.down = nn.Sequential(*down)
        self.submodule = submodule if submodule is not None else nn.Identity()
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the up-path output, concatenated after the skip if inner."""
        # The reference's in-place LeakyReLU overwrites `x`, so the skip
        # connection below carries the activated tensor, not the raw input.
        h = x if self.outermost else F.leaky_relu(x, 0.2)
        y = self.up(self.submodule(self.down(h)))
        if self.outermost:
            return y
        return torch.cat([h, y], dim=1)


def build_unet_generator(
    input_channels: int = 3,
    output_channels: int = 3,
    num_downs: int = 8,
    ngf: int = 64,
    norm: Norm = "batch",
    use_dropout: bool = True,
) -> nn.Module:
    """Build the reference `UnetGenerator` (`unet_256` for 8 downs, `unet_128` for 7).

    Filters from the outside in: ngf, 2 ngf, 4 ngf, then 8 ngf for the remaining
    `num_downs - 3` levels. Dropout sits in the `num_downs - 5` levels just
    outside the innermost one.

    Args:
        input_channels: channels of the source image.
        output_channels: channels of the generated image.
        num_downs: number of stride-2 downsamplings; the input side must be a
            multiple of `2 ** num_downs`.
        ngf: filters of the outermost level.
        norm: "batch", "instance" or "none".
        use_dropout: put Dropout(0.5) in the deep 8 ngf levels.

    Returns:
        The generator, mapping `(N, input_channels, H, W)` to
        `(N, output_channels, H, W)` in [-1, 1].
    """
    if num_downs < 5:
        raise ValueError(f"num_downs must be at least 5, got {num_downs}")
    block = UNetSkipBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
    for _ in range(num_downs - 5):
        block = UNetSkipBlock(
            ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout
        )
    block = UNetSkipBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
    block = UNetSkipBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
    block = UNetSkipBlock(ngf, ngf * 2, submodule=block, norm=norm)
    return UNetSkipBlock(
        output_channels,
        ngf,
        input_channels=input_channels,
        submodule=block,
        outermost=True,
        norm=norm,
    )


# --------------------------------------------------------------------------- #
# ResNet generator
# --------------------------------------------------------------------------- #


class ResnetBlock(nn.Module):
    """Reference residual block: x + (pad conv3 norm ReLU [drop] pad conv3 norm)(x)."""

    def __init__(
        self, channels: int, norm: Norm = "batch", use_dropout: bool = False
    ) -> None:
        super().__init__()
        use_bias = _uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=use_bias),
            _norm_layer(norm, channels),
            nn.ReLU(),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=use_bias),
            _norm_layer(norm, channels),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return `x` plus the residual branch."""
        return x + self.conv_block(x)


def build_resnet_generator(
    input_channels: int = 3,
    output_channels: int = 3,
    ngf: int = 64,
    n_blocks: int = 9,
    norm: Norm = "batch",
    use_dropout: bool = False,
) -> nn.Module:
    """Build the reference `ResnetGenerator` (`resnet_9blocks` / `resnet_6blocks`).

    Reflection-padded 7x7 stem, two stride-2 3x3 down convs, `n_blocks` residual
    blocks at 4 ngf, two stride-2 3x3 transposed convs (padding 1, output
    padding 1), a reflection-padded 7x7 head with bias, and tanh.

    Args:
        input_channels: channels of the source image.
        output_channels: channels of the generated image.
        ngf: filters of the stem.
        n_blocks: number of residual blocks.
        norm: "batch", "instance" or "none".
        use_dropout: Dropout(0.5) inside each residual block.

    Returns:
        The generator, mapping `(N, input_channels, H, W)` to
        `(N, output_channels, H, W)` in [-1, 1] (H, W multiples of 4).
    """
    use_bias = _uses_bias(norm)
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(input_channels, ngf, 7, bias=use_bias),
        _norm_layer(norm, ngf),
        nn.ReLU(),
    ]
    n_downsampling = 2
    for i in range(n_downsampling):
        mult = 2**i
        layers += [
            nn.Conv2d(
                ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias
            ),
            _norm_layer(norm, ngf * mult * 2),
            nn.ReLU(),
        ]
    mult = 2**n_downsampling
    for _ in range(n_blocks):
        layers.append(ResnetBlock(ngf * mult, norm=norm, use_dropout=use_dropout))
    for i in range(n_downsampling):
        mult = 2 ** (n_downsampling - i)
        layers += [
            nn.ConvTranspose2d(
                ngf * mult,
                ngf * mult // 2,
                3,
                stride=2,
                padding=1,
                output_padding=1,
                bias=use_bias,
            ),
            _norm_layer(norm, ngf * mult // 2),
            nn.ReLU(),
        ]
    layers += [
        nn.ReflectionPad2d(3),
        nn.Conv2d(ngf, output_channels, 7),
        nn.Tanh(),
    ]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- #
# Discriminators
# --------------------------------------------------------------------------- #


def build_patchgan_discriminator(
    input_channels: int = 6,
    ndf: int = 64,
    n_layers: int = 3,
    norm: Norm = "batch",
) -> nn.Module:
    """Build the reference `NLayerDiscriminator` (PatchGAN; `basic` is n_layers=3).

    Conv 4x4 s2 + LeakyReLU(0.2); `n_layers - 1` x (Conv 4x4 s2, norm, LeakyReLU)
    with filters doubling up to 8 ndf; one Conv 4x4 s1 + norm + LeakyReLU; a
    final Conv 4x4 s1 to one logit channel. Padding 1 everywhere. The first and
    last convs have a bias; with BatchNorm the others do not.

    Args:
        input_channels: channels of the (source, target) pair, concatenated.
        ndf: filters of the first conv.
        n_layers: number of stride-2 convs.
        norm: "batch", "instance" or "none".

    Returns:
        The discriminator, mapping `(N, input_channels, H, W)` to patch logits
        `(N, 1, h, w)` (30x30 for a 256x256 input and n_layers=3).
    """
    use_bias = _uses_bias(norm)
    layers: list[nn.Module] = [
        nn.Conv2d(input_channels, ndf, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
    ]
    mult = 1
    for n in range(1, n_layers):
        previous, mult = mult, min(2**n, 8)
        layers += [
            nn.Conv2d(
                ndf * previous, ndf * mult, 4, stride=2, padding=1, bias=use_bias
            ),
            _norm_layer(norm, ndf * mult),
            nn.LeakyReLU(0.2),
        ]
    previous, mult = mult, min(2**n_layers, 8)
    layers += [
        nn.Conv2d(ndf * previous, ndf * mult, 4, stride=1, padding=1, bias=use_bias),
        _norm_layer(norm, ndf * mult),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
    ]
    return nn.Sequential(*layers)


def build_pixel_discriminator(
    input_channels: int = 6,
    ndf: int = 64,
    norm: Norm = "batch",
) -> nn.Module:
    """Build the reference `PixelDiscriminator` (1x1 PatchGAN).

    Conv 1x1 (bias) + LeakyReLU(0.2); Conv 1x1 to 2 ndf + norm + LeakyReLU(0.2);
    Conv 1x1 to one logit. With BatchNorm the last two convs have no bias (as in
    the reference).

    Args:
        input_channels: channels of the (source, target) pair, concatenated.
        ndf: filters of the first conv.
        norm: "batch", "instance" or "none".

    Returns:
        The discriminator, mapping `(N, input_channels, H, W)` to per-pixel
        logits `(N, 1, H, W)`.
    """
    use_bias = _uses_bias(norm)
    return nn.Sequential(
        nn.Conv2d(input_channels, ndf, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 1, bias=use_bias),
        _norm_layer(norm, ndf * 2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, 1, 1, bias=use_bias),
    )


# --------------------------------------------------------------------------- #
# Initialization, counting
# --------------------------------------------------------------------------- #


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """Apply the reference "normal" initialization in place and return `module`.

    Conv and transposed-conv (and linear) weights ~ N(0, gain), their biases 0;
    BatchNorm weights ~ N(1, gain), biases 0. Parameter-free norms are untouched.
    """

    def _init(layer: nn.Module) -> None:
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)

    module.apply(_init)
    return module


def count_parameters(module: nn.Module) -> int:
    """Return the number of trainable parameters of `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- #
# Training step
# --------------------------------------------------------------------------- #


class Pix2PixReference:
    """The reference pix2pix training step, in plain PyTorch.

    Holds a generator G, a discriminator D (conditioned on the source: it sees
    `cat(source, image)` on the channel axis) and one Adam optimizer for each.
    Both networks stay in training mode, as in the reference.

    Args:
        generator: G; defaults to `unet_256` with BatchNorm and dropout.
        discriminator: D; defaults to the 70x70 PatchGAN (n_layers=3).
        input_channels: source channels (used for the default networks).
        output_channels: target channels (used for the default networks).
        reconstruction: "l1" (reference) or "l2" reconstruction loss.
        lambda_reconstruction: weight of the reconstruction loss (100).
        gan_mode: "vanilla" (BCE with logits, reference default) or "lsgan"
            (mean squared error on the logits).
        learning_rate: Adam learning rate of both optimizers.
        beta_1: Adam beta 1.
        beta_2: Adam beta 2.
        device: device to hold the networks on.
        initialize: apply `init_weights` to both networks.

    Example:
        ```python
        model = Pix2PixReference()
        source = torch.randn(1, 3, 256, 256)
        target = torch.randn(1, 3, 256, 256)
        losses = model.train_step(source, target)
        ```
    """

    def __init__(
        self,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        input_channels: int = 3,
        output_channels: int = 3,
        reconstruction: Literal["l1", "l2"] = "l1",
        lambda_reconstruction: float = 100.0,
        gan_mode: Literal["vanilla", "lsgan"] = "vanilla",
        learning_rate: float = 2e-4,
        beta_1: float = 0.5,
        beta_2: float = 0.999,
        device: str | torch.device = "cpu",
        initialize: bool = True,
    ) -> None:
        if generator is None:
            generator = build_unet_generator(input_channels, output_channels)
        if discriminator is None:
            discriminator = build_patchgan_discriminator(
                input_channels + output_channels
            )
        if initialize:
            init_weights(generator)
            init_weights(discriminator)
        self.device = torch.device(device)
        self.generator = generator.to(self.device).train()
        self.discriminator = discriminator.to(self.device).train()

        if reconstruction == "l1":
            self.reconstruction_loss: nn.Module = nn.L1Loss()
        elif reconstruction == "l2":
            self.reconstruction_loss = nn.MSELoss()
        else:
            raise ValueError(
                f"reconstruction must be 'l1' or 'l2', got {reconstruction!r}"
            )
        if gan_mode == "vanilla":
            self.adversarial_loss: nn.Module = nn.BCEWithLogitsLoss()
        elif gan_mode == "lsgan":
            self.adversarial_loss = nn.MSELoss()
        else:
            raise ValueError(f"gan_mode must be 'vanilla' or 'lsgan', got {gan_mode!r}")
        self.lambda_reconstruction = lambda_reconstruction

        betas = (beta_1, beta_2)
        self.generator_optimizer = torch.optim.Adam(
            self.generator.parameters(), lr=learning_rate, betas=betas
        )
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=learning_rate, betas=betas
        )

    def _gan_loss(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        labels = torch.full_like(logits, 1.0 if real else 0.0)
        return self.adversarial_loss(logits, labels)

    def _set_discriminator_trainable(self, trainable: bool) -> None:
        for parameter in self.discriminator.parameters():
            parameter.requires_grad_(trainable)

    def train_step(
        self, source: torch.Tensor, target: torch.Tensor
    ) -> dict[str, float]:
        """Run one reference training step on a batch; return the losses.

        Order: fake = G(source); D update on the detached fake pair and the
        real pair (loss x 0.5); G update with D frozen (adversarial loss with
        the fake pair labelled real + lambda x reconstruction).
        """
        source = source.to(self.device)
        target = target.to(self.device)
        fake = self.generator(source)

        # Discriminator step.
        self._set_discriminator_trainable(True)
        self.discriminator_optimizer.zero_grad()
        fake_pair = torch.cat([source, fake], dim=1)
        loss_d_fake = self._gan_loss(self.discriminator(fake_pair.detach()), False)
        real_pair = torch.cat([source, target], dim=1)
        loss_d_real = self._gan_loss(self.discriminator(real_pair), True)
        loss_d = 0.5 * (loss_d_fake + loss_d_real)
        loss_d.backward()
        self.discriminator_optimizer.step()

        # Generator step, D frozen.
        self._set_discriminator_trainable(False)
        self.generator_optimizer.zero_grad()
        loss_g_gan = self._gan_loss(self.discriminator(fake_pair), True)
        loss_g_reconstruction = self.lambda_reconstruction * self.reconstruction_loss(
            fake, target
        )
        loss_g = loss_g_gan + loss_g_reconstruction
        loss_g.backward()
        self.generator_optimizer.step()

        return {
            "d_loss": loss_d.item(),
            "d_real_loss": loss_d_real.item(),
            "d_fake_loss": loss_d_fake.item(),
            "g_loss": loss_g.item(),
            "g_gan_loss": loss_g_gan.item(),
            "g_reconstruction_loss": loss_g_reconstruction.item(),
        }


# --------------------------------------------------------------------------- #
# Script
# --------------------------------------------------------------------------- #


def _print_parameter_counts() -> None:
    counts = {
        "unet_256 3->3": build_unet_generator(3, 3, num_downs=8),
        "unet_256 1->1": build_unet_generator(1, 1, num_downs=8),
        "unet_128 3->3": build_unet_generator(3, 3, num_downs=7),
        "resnet_9blocks 3->3": build_resnet_generator(3, 3, n_blocks=9),
        "resnet_6blocks 3->3": build_resnet_generator(3, 3, n_blocks=6),
        "patchgan basic (n_layers=3) 6 ch": build_patchgan_discriminator(6),
        "patchgan basic (n_layers=3) 2 ch": build_patchgan_discriminator(2),
    }
    for n_layers in range(1, 6):
        counts[f"patchgan n_layers={n_layers} 6 ch"] = build_patchgan_discriminator(
            6, n_layers=n_layers
        )
    counts["pixel discriminator 6 ch"] = build_pixel_discriminator(6)
    print("Trainable parameters (norm='batch'):")
    for name, module in counts.items():
        print(f"  {name:<36s} {count_parameters(module):>12,d}")


def _print_shapes(size: int, num_downs: int) -> None:
    generator = build_unet_generator(3, 3, num_downs=num_downs)
    discriminator = build_patchgan_discriminator(6)
    source = torch.randn(1, 3, size, size)
    with torch.no_grad():
        fake = generator(source)
        logits = discriminator(torch.cat([source, fake], dim=1))
    print(f"Output shapes for a {size}x{size} input (batch 1):")
    print(f"  unet ({num_downs} downs) generator: {tuple(fake.shape)}")
    print(f"  patchgan discriminator:   {tuple(logits.shape)}")


def _time_train_steps(
    size: int, num_downs: int, batch_size: int, steps: int, warmup: int, device: str
) -> None:
    torch.manual_seed(0)
    model = Pix2PixReference(
        generator=build_unet_generator(3, 3, num_downs=num_downs), device=device
    )
    source = torch.rand(batch_size, 3, size, size, device=device) * 2 - 1
    target = torch.rand(batch_size, 3, size, size, device=device) * 2 - 1

    def _sync() -> None:
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)

    for _ in range(warmup):
        model.train_step(source, target)
    _sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        losses = model.train_step(source, target)
        _sync()
        times.append(time.perf_counter() - start)
    print(
        f"Train step, unet ({num_downs} downs) + basic PatchGAN, {size}x{size}, "
        f"batch {batch_size}, 3 channels, "
        f"{torch.get_num_threads()} threads, device {device}:"
    )
    print(f"  step times (s): {', '.join(f'{t:.3f}' for t in times)}")
    print(f"  median seconds per step: {statistics.median(times):.3f}")
    print(f"  last losses: {', '.join(f'{k}={v:.4f}' for k, v in losses.items())}")


def main(argv: list[str] | None = None) -> None:
    """Print parameter counts and output shapes, then time training steps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side")
    parser.add_argument(
        "--num-downs", type=int, default=8, help="U-Net depth (8 = unet_256)"
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--skip-timing", action="store_true", help="only counts and shapes"
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _print_parameter_counts()
    _print_shapes(args.size, args.num_downs)
    if not args.skip_timing:
        _time_train_steps(
            args.size,
            args.num_downs,
            args.batch_size,
            args.steps,
            args.warmup,
            args.device,
        )


if __name__ == "__main__":
    main()
