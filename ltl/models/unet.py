"""A U-Net from the visible shearlet coefficients of f_vis to the invisible ones.

In the spirit of PhantomNet (Bubba et al. 2019, Sec. 4): an encoder–decoder with skip connections
that works on coefficient maps ``(B, C, H, W)``. It is fully convolutional, so it trains on
patches and runs on whole images of any size (inputs are padded to a multiple of ``2**depth``
and the output cropped back).

Per-channel normalisation (mean and standard deviation of every input and output coefficient
channel, fitted on the training set with :func:`channel_stats`) is kept in buffers, so it is saved
with the weights: ``forward`` takes raw coefficients and returns the prediction in normalised
coefficient space (where the loss is computed); :meth:`UNet.predict` returns raw coefficients.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..runtime.memory import check_fits


def unet_parameters(in_channels: int, out_channels: int, width: int, depth: int, norm: str = "batch") -> float:
    """The number of weights of :class:`UNet`'s convolutions (the norms' few parameters aside),
    computed without building it: the estimate of the memory check."""
    ch = [float(width) * 2 ** i for i in range(depth + 1)]
    bias = 1 if norm == "none" else 0

    def block(cin, cout):  # two 3×3 convolutions, biased only without a norm
        return 9 * cin * cout + 9 * cout * cout + 2 * bias * cout

    total = block(in_channels, ch[0]) + sum(block(ch[i - 1], ch[i]) for i in range(1, depth + 1))
    total += sum(4 * ch[i] * ch[i - 1] + ch[i - 1] + block(2 * ch[i - 1], ch[i - 1]) for i in range(1, depth + 1))
    return total + ch[0] * out_channels + out_channels

__all__ = ["UNet", "channel_stats"]

NORMS = ("batch", "group", "none")


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "group":
        return nn.GroupNorm(min(8, ch), ch)
    return nn.Identity()


class _Block(nn.Sequential):
    """(conv 3×3 → norm → ReLU) × 2."""

    def __init__(self, cin: int, cout: int, norm: str):
        bias = norm == "none"
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=bias), _norm(norm, cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=bias), _norm(norm, cout), nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """Encoder–decoder with skip connections on coefficient maps, with stored normalisation.

    Parameters
    ----------
    in_channels : int
        Input channels (visible coefficient channels, plus one if f_vis is fed too).
    out_channels : int
        Output channels (invisible coefficient channels).
    width : int
        Feature channels at the first level; doubled at each level down (default 32).
    depth : int
        Number of 2× downsamplings (default 4); inputs are padded to a multiple of ``2**depth``.
    norm : {'batch', 'group', 'none'}
        Normalisation layer after each convolution (default 'batch').

    Notes
    -----
    Level ℓ = 0..depth has ``width·2^ℓ`` channels (two 3×3 convolutions each); down: 2×2 max
    pooling; up: 2×2 transposed convolution, concatenation with the skip, two convolutions; a final
    1×1 convolution maps to ``out_channels``. The output is added to nothing (no residual): the
    invisible coefficients of f_vis are ~0 and carry no information.

    Buffers ``in_mean, in_std`` (in_channels,) and ``out_mean, out_std`` (out_channels,) hold the
    normalisation; defaults 0 and 1.

    Examples
    --------
    >>> net = UNet(12, 6, width=8, depth=2)
    >>> net(torch.zeros(1, 12, 30, 30)).shape
    torch.Size([1, 6, 30, 30])
    """

    def __init__(self, in_channels: int, out_channels: int, *, width: int = 32, depth: int = 4, norm: str = "batch"):
        super().__init__()
        for name, v, lo in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                            ("width", width, 1), ("depth", depth, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.width, self.depth, self.norm = width, depth, norm
        check_fits(4.0 * 2 * unet_parameters(in_channels, out_channels, width, depth, norm),
                   f"a U-Net of width {width} and depth {depth}", hint="use a smaller --width or --depth")
        ch = [width * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([_Block(in_channels, ch[0], norm)] +
                                  [_Block(ch[i - 1], ch[i], norm) for i in range(1, depth + 1)])
        self.upconv = nn.ModuleList([nn.ConvTranspose2d(ch[i], ch[i - 1], 2, stride=2) for i in range(depth, 0, -1)])
        self.up = nn.ModuleList([_Block(2 * ch[i - 1], ch[i - 1], norm) for i in range(depth, 0, -1)])
        self.head = nn.Conv2d(ch[0], out_channels, 1)
        self.register_buffer("in_mean", torch.zeros(in_channels))
        self.register_buffer("in_std", torch.ones(in_channels))
        self.register_buffer("out_mean", torch.zeros(out_channels))
        self.register_buffer("out_std", torch.ones(out_channels))

    # ------------------------------------------------------------------ config
    @property
    def config(self) -> dict:
        """JSON-safe constructor arguments."""
        return {"in_channels": self.in_channels, "out_channels": self.out_channels, "width": self.width,
                "depth": self.depth, "norm": self.norm}

    # ------------------------------------------------------------------ normalisation
    def set_normalization(self, in_mean, in_std, out_mean, out_std) -> None:
        """Store per-channel statistics (tensors or sequences); std below 1e-8 becomes 1."""
        for name, v, c in (("in_mean", in_mean, self.in_channels), ("in_std", in_std, self.in_channels),
                           ("out_mean", out_mean, self.out_channels), ("out_std", out_std, self.out_channels)):
            t = torch.as_tensor(v, dtype=torch.float32).detach().reshape(-1)
            if t.numel() != c:
                raise ValueError(f"{name} must have {c} entries, got {t.numel()}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or inf")
            if name.endswith("std"):
                t = torch.where(t > 1e-8, t, torch.ones_like(t))
            getattr(self, name).copy_(t.to(getattr(self, name).device))

    @staticmethod
    def _bc(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.to(x.dtype).view(1, -1, 1, 1)

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._bc(self.in_mean, x)) / self._bc(self.in_std, x)

    def normalize_target(self, t: torch.Tensor) -> torch.Tensor:
        """Raw invisible coefficients → the normalised space of :meth:`forward`'s output."""
        return (t - self._bc(self.out_mean, t)) / self._bc(self.out_std, t)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised output → raw invisible coefficients."""
        return z * self._bc(self.out_std, z) + self._bc(self.out_mean, z)

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw input ``(B, in_channels, H, W)`` → normalised prediction ``(B, out_channels, H, W)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"input must have shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        m = 2 ** self.depth
        ph, pw = (-h) % m, (-w) % m
        z = self.normalize_input(x)
        if ph or pw:
            z = F.pad(z, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        skips = []
        for i, block in enumerate(self.down):
            if i:
                z = F.max_pool2d(z, 2)
            z = block(z)
            skips.append(z)
        skips.pop()
        for upconv, block in zip(self.upconv, self.up):
            z = block(torch.cat([upconv(z), skips.pop()], dim=1))
        out = self.head(z)
        return out[..., :h, :w]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Raw input → raw invisible coefficients."""
        return self.denormalize(self(x))


@torch.no_grad()
def channel_stats(batches: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per channel over batches ``(B, C, H, W)``, accumulated in float64.

    Returns two float32 CPU tensors of shape ``(C,)``.
    """
    s = s2 = None
    count = 0
    for x in batches:
        if x.ndim != 4:
            raise ValueError(f"batches must be (B, C, H, W), got {tuple(x.shape)}")
        xd = x.detach().double()
        a = xd.sum(dim=(0, 2, 3))
        b = (xd * xd).sum(dim=(0, 2, 3))
        s = a if s is None else s + a
        s2 = b if s2 is None else s2 + b
        count += x.shape[0] * x.shape[2] * x.shape[3]
    if not count:
        raise ValueError("channel_stats needs at least one non-empty batch")
    mean = s / count
    var = (s2 / count - mean * mean).clamp_min(0)
    return mean.float().cpu(), var.sqrt().float().cpu()
