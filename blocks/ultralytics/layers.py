"""Ultralytics-dialect feature layers (the CSP stages of YOLOv8, YOLO11, YOLOv10 and YOLO26, SPPF, ...).

Written from the layers' published structure and measured behaviour (module reprs, state_dict keys and
shapes, parameter counts, outputs for given weights) of the ultralytics 8.4 package. Submodule attribute
names are the ones that appear in Ultralytics checkpoints (`cv1.conv.weight`, `m.0.cv2.bn.bias`, ...), so a
checkpoint's state_dict loads unchanged. Layers that are the same as YOLOv5's (Conv, DWConv, GhostConv, C3,
C3Ghost, ...) are taken from `blocks.yolov5.common`.

The attention layers (PSA's multi-head attention, YOLOv12's area attention) live in `attention.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from blocks.yolov5.common import C3, Conv, DWConv, IntOrPair, batch_norm, fold_batch_norm, make_activation
from blocks.yolov5.common import BottleneckCSP as _YoloV5BottleneckCSP

from .attention import AreaAttentionBlock, Attention, AttentionBlock

Kernels = Sequence[IntOrPair]


class Bottleneck(nn.Module):
    """Two Convs (kernel sizes k[0], k[1]) through c2*e hidden channels, residual when c1 == c2.

    Ultralytics' standalone default is two 3x3 convs (YOLOv5's first conv is 1x1).
    """

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, k: Kernels = (3, 3), e: float = 0.5) -> None:
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, k[0], 1)
        self.cv2 = Conv(hidden, c2, k[1], 1, g=g)
        self.residual = bool(shortcut) and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.residual else y


class C3k(C3):
    """C3 whose n Bottlenecks use two k x k convs at full width (C3k2's inner block)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5, k: int = 3) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        hidden = int(c2 * e)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, g, k=(k, k), e=1.0) for _ in range(n)))


class BottleneckCSP(_YoloV5BottleneckCSP):
    """YOLOv5's CSPNet stage, with Ultralytics' Bottleneck inside (two 3x3 convs instead of 1x1 + 3x3)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        hidden = int(c2 * e)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, g, e=1.0) for _ in range(n)))


class C1(nn.Module):
    """A 1x1 Conv, then n 3x3 Convs with a residual around them."""

    def __init__(self, c1: int, c2: int, n: int = 1) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 1, 1)
        self.m = nn.Sequential(*(Conv(c2, c2, 3) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv1(x)
        return self.m(y) + y


class C2(nn.Module):
    """CSP stage with two Convs: one half of the 1x1 Conv's output goes through n Bottlenecks."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        self.hidden = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.hidden, 1, 1)
        self.cv2 = Conv(2 * self.hidden, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(self.hidden, self.hidden, shortcut, g, k=((3, 3), (3, 3)), e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = self.cv1(x).chunk(2, 1)
        return self.cv2(torch.cat((self.m(first), second), 1))


class _SplitStage(nn.Module):
    """The C2f pattern: a 1x1 Conv to 2*hidden channels split in two halves, a chain of inner blocks fed
    from the last tensor so far, every intermediate concatenated into a 1x1 Conv to c2."""

    m: nn.ModuleList

    def __init__(self, c1: int, c2: int, n: int, e: float) -> None:
        super().__init__()
        self.hidden = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.hidden, 1, 1)
        self.cv2 = Conv((2 + n) * self.hidden, c2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            parts.append(block(parts[-1]))
        return self.cv2(torch.cat(parts, 1))


class C2f(_SplitStage):
    """YOLOv8's CSP stage: n full-width Bottlenecks (two 3x3 convs each), every output kept."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, e)
        c = self.hidden
        self.m = nn.ModuleList(Bottleneck(c, c, shortcut, g, k=((3, 3), (3, 3)), e=1.0) for _ in range(n))


def attention_heads(dim: int) -> int:
    """Heads of the PSA-style attention over `dim` channels: one per 64 channels, at least one."""
    return max(dim // 64, 1)


class C3k2(_SplitStage):
    """YOLO11's CSP stage: the C2f pattern whose inner blocks are Bottlenecks (c3k False), C3k blocks (c3k
    True) or a Bottleneck followed by a PSA attention block (attn True, YOLO26)."""

    def __init__(
        self,
        c1: int,
        c2: int,
        n: int = 1,
        c3k: bool = False,
        e: float = 0.5,
        attn: bool = False,
        g: int = 1,
        shortcut: bool = True,
    ) -> None:
        super().__init__(c1, c2, n, e)
        c = self.hidden
        blocks: list[nn.Module] = []
        for _ in range(n):
            if attn:
                blocks.append(nn.Sequential(Bottleneck(c, c, shortcut, g), AttentionBlock(c, attn_ratio=0.5, num_heads=attention_heads(c))))
            elif c3k:
                blocks.append(C3k(c, c, 2, shortcut, g))
            else:
                blocks.append(Bottleneck(c, c, shortcut, g))
        self.m = nn.ModuleList(blocks)


class RepVGGDW(nn.Module):
    """Depth-wise 7x7 and 3x3 Conv branches (no activation) summed, then SiLU; fuses into one 7x7 conv."""

    def __init__(self, ed: int) -> None:
        super().__init__()
        self.conv = Conv(ed, ed, 7, 1, 3, g=ed, act=False)
        self.conv1: nn.Module | None = Conv(ed, ed, 3, 1, 1, g=ed, act=False)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv1 is None:
            return self.act(self.conv(x))
        return self.act(self.conv(x) + self.conv1(x))

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        """Fold both batch norms and the 3x3 branch into the 7x7 depth-wise conv (same eval outputs)."""
        if self.conv1 is None:
            return self
        big = fold_batch_norm(self.conv.conv, self.conv.bn)
        small = fold_batch_norm(self.conv1.conv, self.conv1.bn)  # type: ignore[union-attr]
        big.weight += nn.functional.pad(small.weight, [2, 2, 2, 2])
        big.bias += small.bias  # type: ignore[operator]
        self.conv.conv = big
        self.conv.bn = nn.Identity()
        self.conv1 = None
        return self


class CIB(nn.Module):
    """Compact inverted block: depth-wise 3x3, 1x1 up to 2*c2*e, depth-wise 3x3 (or RepVGGDW when lk),
    1x1 down to c2, depth-wise 3x3; residual when c1 == c2."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5, lk: bool = False) -> None:
        super().__init__()
        wide = 2 * int(c2 * e)
        self.cv1 = nn.Sequential(
            Conv(c1, c1, 3, g=c1),
            Conv(c1, wide, 1),
            RepVGGDW(wide) if lk else Conv(wide, wide, 3, g=wide),
            Conv(wide, c2, 1),
            Conv(c2, c2, 3, g=c2),
        )
        self.residual = bool(shortcut) and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv1(x)
        return x + y if self.residual else y


class C2fCIB(_SplitStage):
    """YOLOv10's CSP stage: the C2f pattern with compact inverted blocks (large-kernel ones when lk)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, lk: bool = False, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, e)
        c = self.hidden
        if g < 1 or c % g:  # the package refuses such g (it builds grouped Bottlenecks first), though CIBs ignore it
            raise ValueError(f"C2fCIB: g={g} does not divide the hidden channels ({c})")
        self.m = nn.ModuleList(CIB(c, c, shortcut, e=1.0, lk=lk) for _ in range(n))


class SCDown(nn.Module):
    """Spatial-channel decoupled downsampling: a 1x1 Conv to c2, then a depth-wise k x k stride-s Conv."""

    def __init__(self, c1: int, c2: int, k: int, s: int) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 1, 1)
        self.cv2 = Conv(c2, c2, k, s, g=c2, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv2(self.cv1(x))


class C2PSA(nn.Module):
    """A 1x1 Conv split in two halves; one half through n PSA attention blocks; concatenated, 1x1 Conv.

    The output has c1 channels (Ultralytics requires c1 == c2).
    """

    def __init__(self, c1: int, c2: int, n: int = 1, e: float = 0.5) -> None:
        super().__init__()
        if c1 != c2:
            raise ValueError(f"C2PSA needs equal input and output channels, got {c1} and {c2}")
        self.hidden = int(c1 * e)
        c = self.hidden
        self.cv1 = Conv(c1, 2 * c, 1, 1)
        self.cv2 = Conv(2 * c, c1, 1)
        self.m = nn.Sequential(*(AttentionBlock(c, attn_ratio=0.5, num_heads=attention_heads(c)) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept, attended = self.cv1(x).split((self.hidden, self.hidden), dim=1)
        return self.cv2(torch.cat((kept, self.m(attended)), 1))


class C2fPSA(_SplitStage):
    """The C2f pattern with PSA attention blocks as its inner blocks (c1 == c2)."""

    def __init__(self, c1: int, c2: int, n: int = 1, e: float = 0.5) -> None:
        if c1 != c2:
            raise ValueError(f"C2fPSA needs equal input and output channels, got {c1} and {c2}")
        super().__init__(c1, c2, n, e)
        c = self.hidden
        self.m = nn.ModuleList(AttentionBlock(c, attn_ratio=0.5, num_heads=attention_heads(c)) for _ in range(n))


class PSA(nn.Module):
    """YOLOv10's partial self-attention: half the channels of a 1x1 Conv get attention and a feed-forward
    (both residual), then both halves are joined by a 1x1 Conv to c1 channels (c1 == c2)."""

    def __init__(self, c1: int, c2: int, e: float = 0.5) -> None:
        super().__init__()
        if c1 != c2:
            raise ValueError(f"PSA needs equal input and output channels, got {c1} and {c2}")
        self.hidden = int(c1 * e)
        c = self.hidden
        self.cv1 = Conv(c1, 2 * c, 1, 1)
        self.cv2 = Conv(2 * c, c1, 1)
        self.attn = Attention(c, attn_ratio=0.5, num_heads=attention_heads(c))
        self.ffn = nn.Sequential(Conv(c, 2 * c, 1), Conv(2 * c, c, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept, y = self.cv1(x).split((self.hidden, self.hidden), dim=1)
        y = y + self.attn(y)
        y = y + self.ffn(y)
        return self.cv2(torch.cat((kept, y), 1))


class SPPF(nn.Module):
    """Ultralytics' fast SPP: a 1x1 Conv to c1/2, n chained k x k stride-1 max pools, every stage
    concatenated, a 1x1 Conv to c2; plus the input when shortcut and c1 == c2.

    As the package builds it from a YAML row: a row that states n ([c2, k, n, ...], YOLO26) gets a first Conv
    without activation; a row that leaves n out ([c2, k], YOLOv8/YOLO11/YOLOv10: n=None here) gets three
    pools and an activated first Conv, as YOLOv5's SPPF.
    """

    def __init__(self, c1: int, c2: int, k: int = 5, n: int | None = None, shortcut: bool = False) -> None:
        super().__init__()
        half = c1 // 2
        self.pools = 3 if n is None else int(n)
        self.cv1 = Conv(c1, half, 1, 1, act=n is None)
        self.cv2 = Conv(half * (self.pools + 1), c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.residual = bool(shortcut) and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stages = [self.cv1(x)]
        for _ in range(self.pools):
            stages.append(self.m(stages[-1]))
        y = self.cv2(torch.cat(stages, 1))
        return x + y if self.residual else y


class A2C2f(nn.Module):
    """YOLOv12's area-attention stage: a 1x1 Conv to c2*e, n inner stages (two area-attention blocks each
    when a2, else a C3k), every stage's output concatenated into a 1x1 Conv to c2; with a2 and residual, the
    input plus a learned per-channel scale (initialised to 0.01) of that output."""

    def __init__(
        self,
        c1: int,
        c2: int,
        n: int = 1,
        a2: bool = True,
        area: int = 1,
        residual: bool = False,
        mlp_ratio: float = 2.0,
        e: float = 0.5,
        g: int = 1,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        hidden = int(c2 * e)
        if hidden % 32:  # the package refuses this with or without attention
            raise ValueError(f"A2C2f's hidden channels (c2 x e = {hidden}) must be a multiple of 32 (32 channels per attention head)")
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv((1 + n) * hidden, c2, 1)
        self.gamma: nn.Parameter | None = nn.Parameter(torch.full((c2,), 0.01)) if a2 and residual else None
        stages: list[nn.Module] = []
        for _ in range(n):
            if a2:
                stages.append(nn.Sequential(*(AreaAttentionBlock(hidden, hidden // 32, mlp_ratio, area) for _ in range(2))))
            else:
                stages.append(C3k(hidden, hidden, 2, shortcut, g))
        self.m = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.cv1(x)]
        for stage in self.m:
            parts.append(stage(parts[-1]))
        y = self.cv2(torch.cat(parts, 1))
        if self.gamma is not None:
            return x + self.gamma.view(1, -1, 1, 1) * y
        return y


class Conv2(Conv):
    """A k x k Conv plus a parallel 1x1 conv branch (summed before BN); fuses into one conv."""

    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1, p: Any = None, g: int = 1, d: int = 1, act: Any = True) -> None:
        super().__init__(c1, c2, k, s, p, g=g, d=d, act=act)
        self.cv2: nn.Conv2d | None = nn.Conv2d(c1, c2, 1, s, 0, groups=g, dilation=d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.cv2 is not None:
            y = y + self.cv2(x)
        return self.act(self.bn(y))

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        if self.cv2 is not None:
            w = self.conv.weight
            k = w.shape[2:]
            centre = (k[0] // 2, k[1] // 2)
            w[:, :, centre[0] : centre[0] + 1, centre[1] : centre[1] + 1] += self.cv2.weight
            self.cv2 = None
        return super().fuse()


class LightConv(nn.Module):
    """A 1x1 Conv without activation, then a depth-wise k x k Conv with the activation."""

    def __init__(self, c1: int, c2: int, k: int = 1, act: Any = None) -> None:
        super().__init__()
        self.conv1 = Conv(c1, c2, 1, act=False)
        self.conv2 = DWConv(c2, c2, k, act=act if act is not None else nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class ConvTranspose(nn.Module):
    """Transposed conv (bias only without BN), BatchNorm2d, activation; upsamples by s."""

    def __init__(self, c1: int, c2: int, k: int = 2, s: int = 2, p: int = 0, bn: bool = True, act: Any = True) -> None:
        super().__init__()
        self.conv_transpose = nn.ConvTranspose2d(c1, c2, k, s, p, bias=not bn)
        self.bn: nn.Module = batch_norm(c2) if bn else nn.Identity()
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv_transpose(x)))


__all__ = [
    "A2C2f",
    "C1",
    "C2",
    "C2PSA",
    "C2f",
    "C2fCIB",
    "C2fPSA",
    "C3k",
    "C3k2",
    "CIB",
    "Conv2",
    "ConvTranspose",
    "LightConv",
    "PSA",
    "RepVGGDW",
    "SCDown",
    "SPPF",
    "Bottleneck",
    "BottleneckCSP",
]
