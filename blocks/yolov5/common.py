"""YOLOv5 v7.0 feature layers, written from the architecture's published structure.

Submodule attribute names follow YOLOv5's, so a YOLOv5 checkpoint's state_dict loads unchanged.
Batch norms are created with eps=1e-3 and momentum=0.03, the values a built YOLOv5 model carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from yamlnet.compile.context import default_activation

BN_EPS = 1e-3
BN_MOMENTUM = 0.03

IntOrPair = int | Sequence[int]


def batch_norm(c: int) -> nn.BatchNorm2d:
    """A BatchNorm2d configured as in a built YOLOv5 model."""
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def autopad(k: IntOrPair, p: IntOrPair | None = None, d: int = 1) -> IntOrPair:
    """'Same' padding for stride 1: half the (dilated) kernel extent, per dimension."""
    if d > 1:
        k = d * (k - 1) + 1 if isinstance(k, int) else [d * (x - 1) + 1 for x in k]
    if p is not None:
        return p
    return k // 2 if isinstance(k, int) else [x // 2 for x in k]


def make_activation(act: Any) -> nn.Module:
    """True: the build's default activation (SiLU unless the spec set one); a module: itself; else none."""
    if act is True:
        factory = default_activation()
        return factory() if factory is not None else nn.SiLU()
    if isinstance(act, nn.Module):
        return act
    return nn.Identity()


def apply_yolov5_defaults(model: nn.Module) -> nn.Module:
    """What YOLOv5 does to every model after building it: BN eps/momentum and in-place activations."""
    for m in model.modules():
        if type(m) is nn.BatchNorm2d:
            m.eps = BN_EPS
            m.momentum = BN_MOMENTUM
        elif type(m) in (nn.Hardswish, nn.LeakyReLU, nn.ReLU, nn.ReLU6, nn.SiLU):
            m.inplace = True  # type: ignore[assignment]
    return model


@torch.no_grad()
def fold_batch_norm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv with bias whose output equals bn(conv(x)) in eval mode."""
    fused = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        conv.dilation,  # type: ignore[arg-type]
        conv.groups,
        bias=True,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)  # type: ignore[union-attr]
    fused.requires_grad_(False)
    return fused


# ---------------------------------------------------------------------------------------------------------
# Convolutions


class Conv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> activation."""

    def __init__(
        self,
        c1: int,
        c2: int,
        k: IntOrPair = 1,
        s: IntOrPair = 1,
        p: IntOrPair | None = None,
        g: int = 1,
        d: int = 1,
        act: Any = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p, d), groups=g, dilation=d, bias=False)  # type: ignore[arg-type]
        self.bn: nn.Module = batch_norm(c2)
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    def fuse(self) -> nn.Module:
        """Fold the batch norm into the conv (deploy mode); the forward stays the same code."""
        if isinstance(self.bn, nn.BatchNorm2d):
            self.conv = fold_batch_norm(self.conv, self.bn)
            self.bn = nn.Identity()
        return self


class DWConv(Conv):
    """Depth-wise (grouped by gcd(c1, c2)) Conv."""

    def __init__(self, c1: int, c2: int, k: IntOrPair = 1, s: IntOrPair = 1, d: int = 1, act: Any = True) -> None:
        super().__init__(c1, c2, k, s, g=math.gcd(c1, c2), d=d, act=act)


class DWConvTranspose2d(nn.ConvTranspose2d):
    """Depth-wise transposed convolution (upsamples by s)."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p1: int = 0, p2: int = 0) -> None:
        super().__init__(c1, c2, k, s, p1, p2, groups=math.gcd(c1, c2))


class GhostConv(nn.Module):
    """Half the output channels from a conv, the other half from a cheap 5x5 depth-wise conv of the first."""

    def __init__(self, c1: int, c2: int, k: IntOrPair = 1, s: IntOrPair = 1, g: int = 1, act: Any = True) -> None:
        super().__init__()
        c_ = c2 // 2
        self.cv1 = Conv(c1, c_, k, s, None, g, act=act)
        self.cv2 = Conv(c_, c_, 5, 1, None, c_, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv1(x)
        return torch.cat((y, self.cv2(y)), 1)


class Focus(nn.Module):
    """Space-to-depth by 2 (four pixel phases stacked on channels), then a Conv."""

    def __init__(
        self,
        c1: int,
        c2: int,
        k: IntOrPair = 1,
        s: IntOrPair = 1,
        p: IntOrPair | None = None,
        g: int = 1,
        act: Any = True,
    ) -> None:
        super().__init__()
        self.conv = Conv(c1 * 4, c2, k, s, p, g, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phases = (x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2])
        return self.conv(torch.cat(phases, 1))


class CrossConv(nn.Module):
    """A (1 x k) conv then a (k x 1) conv, with an optional residual."""

    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1, g: int = 1, e: float = 1.0, shortcut: bool = False) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, (1, k), (1, s))
        self.cv2 = Conv(c_, c2, (k, 1), (s, 1), g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class MixConv2d(nn.Module):
    """Parallel convs of several kernel sizes sharing the output channels, BN + SiLU, plus the input."""

    def __init__(self, c1: int, c2: int, k: Sequence[int] = (1, 3), s: int = 1, equal_ch: bool = True) -> None:
        super().__init__()
        n = len(k)
        if equal_ch:  # the same number of channels per kernel size
            step = (n - 1e-6) / (c2 - 1) if c2 > 1 else 0.0
            group = [math.floor(j * step) for j in range(c2)]
            splits = [group.count(i) for i in range(n)]
        else:  # the same number of weights per kernel size
            cpu = torch.device("cpu")  # plain numbers, also when the model is built on the meta device
            a = torch.zeros(n + 1, n, dtype=torch.float64, device=cpu)
            for i in range(n):  # row i+1: c_i * k_i^2 == c_(i+1) * k_(i+1)^2, cyclically
                a[i + 1, i] += 1.0
                a[i + 1, (i + 1) % n] -= 1.0
            a *= torch.tensor([kk**2 for kk in k], dtype=torch.float64, device=cpu)
            a[0] = 1.0
            b = torch.zeros(n + 1, 1, dtype=torch.float64, device=cpu)
            b[0] = c2
            splits = [int(v) for v in torch.linalg.lstsq(a, b).solution.round().view(-1).tolist()]
        self.m = nn.ModuleList(nn.Conv2d(c1, c_, kk, s, kk // 2, groups=math.gcd(c1, c_), bias=False) for kk, c_ in zip(k, splits))
        self.bn = batch_norm(c2)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.bn(torch.cat([m(x) for m in self.m], 1)))


# ---------------------------------------------------------------------------------------------------------
# Bottlenecks and CSP stages


class Bottleneck(nn.Module):
    """1x1 Conv to c2*e, 3x3 Conv back to c2, residual when shapes allow."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class BottleneckCSP(nn.Module):
    """Cross-stage-partial stage of the original CSPNet form (BN + SiLU after the concatenation)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = nn.Conv2d(c1, c_, 1, 1, bias=False)
        self.cv3 = nn.Conv2d(c_, c_, 1, 1, bias=False)
        self.cv4 = Conv(2 * c_, c2, 1, 1)
        self.bn = batch_norm(2 * c_)
        self.act = nn.SiLU()
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y1 = self.cv3(self.m(self.cv1(x)))
        y2 = self.cv2(x)
        return self.cv4(self.act(self.bn(torch.cat((y1, y2), 1))))


class C3(nn.Module):
    """CSP stage with three Convs: two 1x1 branches (one through n Bottlenecks), concatenated, 1x1 out."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m: nn.Module = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3x(C3):
    """C3 whose inner blocks are CrossConvs."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        c_ = int(c2 * e)
        self.m = nn.Sequential(*(CrossConv(c_, c_, 3, 1, g, 1.0, shortcut) for _ in range(n)))


class TransformerLayer(nn.Module):
    """Multi-head self-attention and a two-linear feed-forward, both residual, no layer norm."""

    def __init__(self, c: int, num_heads: int) -> None:
        super().__init__()
        self.q = nn.Linear(c, c, bias=False)
        self.k = nn.Linear(c, c, bias=False)
        self.v = nn.Linear(c, c, bias=False)
        self.ma = nn.MultiheadAttention(embed_dim=c, num_heads=num_heads)
        self.fc1 = nn.Linear(c, c, bias=False)
        self.fc2 = nn.Linear(c, c, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ma(self.q(x), self.k(x), self.v(x))[0] + x
        return self.fc2(self.fc1(x)) + x


class TransformerBlock(nn.Module):
    """Optional 1x1 Conv to c2, a learned linear position term, then num_layers TransformerLayers on pixels."""

    def __init__(self, c1: int, c2: int, num_heads: int, num_layers: int) -> None:
        super().__init__()
        self.conv = Conv(c1, c2) if c1 != c2 else None
        self.linear = nn.Linear(c2, c2)
        self.tr = nn.Sequential(*(TransformerLayer(c2, num_heads) for _ in range(num_layers)))
        self.c2 = c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        b, _, h, w = x.shape
        tokens = x.flatten(2).permute(2, 0, 1)  # (h*w, b, c): sequence first
        y = self.tr(tokens + self.linear(tokens))
        return y.permute(1, 2, 0).reshape(b, self.c2, h, w)


class C3TR(C3):
    """C3 whose inner stage is a TransformerBlock (4 heads, n layers)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        c_ = int(c2 * e)
        self.m = TransformerBlock(c_, c_, 4, n)


class SPP(nn.Module):
    """Spatial pyramid pooling: parallel stride-1 max pools of several sizes, concatenated."""

    def __init__(self, c1: int, c2: int, k: Sequence[int] = (5, 9, 13)) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * (len(k) + 1), c2, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(kernel_size=x, stride=1, padding=x // 2) for x in k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        return self.cv2(torch.cat([x] + [m(x) for m in self.m], 1))


class SPPF(nn.Module):
    """Fast SPP: one k x k max pool applied three times in series (equivalent to SPP with k, 2k-1, 3k-2)."""

    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class C3SPP(C3):
    """C3 whose inner stage is an SPP."""

    def __init__(
        self,
        c1: int,
        c2: int,
        k: Sequence[int] = (5, 9, 13),
        n: int = 1,
        shortcut: bool = True,
        g: int = 1,
        e: float = 0.5,
    ) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        c_ = int(c2 * e)
        self.m = SPP(c_, c_, k)


class GhostBottleneck(nn.Module):
    """GhostConv -> (depth-wise stride-s conv) -> GhostConv, plus a shortcut (conv'd when s == 2)."""

    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1) -> None:
        super().__init__()
        c_ = c2 // 2
        self.conv = nn.Sequential(
            GhostConv(c1, c_, 1, 1),
            DWConv(c_, c_, k, s, act=False) if s == 2 else nn.Identity(),
            GhostConv(c_, c2, 1, 1, act=False),
        )
        self.shortcut = nn.Sequential(DWConv(c1, c1, k, s, act=False), Conv(c1, c2, 1, 1, act=False)) if s == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class C3Ghost(C3):
    """C3 whose inner blocks are GhostBottlenecks."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        c_ = int(c2 * e)
        self.m = nn.Sequential(*(GhostBottleneck(c_, c_) for _ in range(n)))


# ---------------------------------------------------------------------------------------------------------
# Reshaping and joining


class Contract(nn.Module):
    """Space-to-depth: (b, c, h, w) -> (b, c*gain^2, h/gain, w/gain)."""

    def __init__(self, gain: int = 2) -> None:
        super().__init__()
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        s = self.gain
        x = x.view(b, c, h // s, s, w // s, s).permute(0, 3, 5, 1, 2, 4).contiguous()
        return x.view(b, c * s * s, h // s, w // s)


class Expand(nn.Module):
    """Depth-to-space: (b, c, h, w) -> (b, c/gain^2, h*gain, w*gain)."""

    def __init__(self, gain: int = 2) -> None:
        super().__init__()
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        s = self.gain
        x = x.view(b, s, s, c // s**2, h, w).permute(0, 3, 4, 1, 5, 2).contiguous()
        return x.view(b, c // s**2, h * s, w * s)


class Concat(nn.Module):
    """Concatenate a list of tensors along `dimension`."""

    def __init__(self, dimension: int = 1) -> None:
        super().__init__()
        self.d = dimension

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(x, self.d)


class Proto(nn.Module):
    """Mask prototypes for Segment: 3x3 Conv, 2x nearest upsample, 3x3 Conv, 1x1 Conv to c2 masks."""

    def __init__(self, c1: int, c_: int = 256, c2: int = 32) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c_, k=3)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.cv2 = Conv(c_, c_, k=3)
        self.cv3 = Conv(c_, c2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(self.cv2(self.upsample(self.cv1(x))))
