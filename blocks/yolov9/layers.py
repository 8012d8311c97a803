"""YOLOv9 layers in the Ultralytics dialect (GELAN stages, the ADown/AConv downsamplers, SPPELAN and the
CBLinear/CBFuse pair of the auxiliary branch), written from the published architecture.

Attribute names are those of a built Ultralytics model (`cv1.conv.weight`, `cv2.0.m.0.cv1.conv1.bn.bias`),
so its checkpoints load unchanged. Every Conv is the Conv2d + BatchNorm2d + activation of blocks.yolov5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks.yolov5.common import Conv, autopad, fold_batch_norm, make_activation


class RepConv(nn.Module):
    """A 3x3 Conv+BN and a 1x1 Conv+BN in parallel (optionally an identity BN), summed, then the activation.

    `fuse()` folds the branches into one 3x3 conv with bias (`conv`), the deploy form.
    """

    def __init__(
        self, c1: int, c2: int, k: int = 3, s: int = 1, p: int = 1, g: int = 1, d: int = 1, act: Any = True, bn: bool = False, deploy: bool = False
    ) -> None:
        super().__init__()
        if k != 3 or p != 1:
            raise ValueError(f"RepConv is built for a 3x3 kernel with padding 1, not k={k}, p={p}")
        self.g, self.c1, self.c2 = g, c1, c2
        self.act = make_activation(act)  # the same rule as Conv's (True: the build's default)
        self.bn = nn.BatchNorm2d(c1) if bn and c1 == c2 and s == 1 else None  # the identity branch
        self.conv1 = Conv(c1, c2, k, s, p=p, g=g, act=False)
        self.conv2 = Conv(c1, c2, 1, s, p=p - k // 2, g=g, act=False)
        self.conv: nn.Conv2d | None = None
        if deploy:
            self.fuse()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            return self.act(self.conv(x))
        y = self.conv1(x) + self.conv2(x)
        if self.bn is not None:
            y = y + self.bn(x)
        return self.act(y)

    @torch.no_grad()
    def _kernel_and_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        k3 = fold_batch_norm(self.conv1.conv, self.conv1.bn)
        k1 = fold_batch_norm(self.conv2.conv, self.conv2.bn)
        weight = k3.weight + F.pad(k1.weight, [1, 1, 1, 1])
        bias = k3.bias + k1.bias
        if self.bn is not None:
            per_group = self.c1 // self.g
            ident = torch.zeros_like(k3.weight)
            for i in range(self.c1):
                ident[i, i % per_group, 1, 1] = 1.0
            bn = self.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # type: ignore[operator]
            weight = weight + ident * scale.view(-1, 1, 1, 1)
            bias = bias + bn.bias - bn.running_mean * scale  # type: ignore[operator]
        return weight, bias

    def fuse(self) -> nn.Module:
        """Fold both branches (and the identity BN) into one 3x3 conv with bias."""
        if self.conv is not None:
            return self
        weight, bias = self._kernel_and_bias()
        c = self.conv1.conv
        self.conv = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation, c.groups, bias=True).to(weight)  # type: ignore[arg-type]
        self.conv.weight.data.copy_(weight)
        self.conv.bias.data.copy_(bias)  # type: ignore[union-attr]
        self.conv.requires_grad_(False)
        del self.conv1, self.conv2
        self.bn = None
        return self


class RepBottleneck(nn.Module):
    """RepConv then Conv, residual when the channels match."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, k: Sequence[int] = (3, 3), e: float = 0.5) -> None:
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = RepConv(c1, hidden, k[0], 1)
        self.cv2 = Conv(hidden, c2, k[1], 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class RepCSP(nn.Module):
    """The CSP (C3) layout with RepBottlenecks: two 1x1 branches, n bottlenecks on one, concatenated, 1x1."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(c1, hidden, 1, 1)
        self.cv3 = Conv(2 * hidden, c2, 1)
        self.m = nn.Sequential(*(RepBottleneck(hidden, hidden, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class RepNCSPELAN4(nn.Module):
    """GELAN stage: a 1x1 Conv split in two halves, two (RepCSP, 3x3 Conv) stages chained on the second half,
    all four parts concatenated and mixed by a 1x1 Conv. c3 is the first conv's width, c4 each stage's."""

    def __init__(self, c1: int, c2: int, c3: int, c4: int, n: int = 1) -> None:
        super().__init__()
        self.c = c3 // 2
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2 = nn.Sequential(RepCSP(c3 // 2, c4, n), Conv(c4, c4, 3, 1))
        self.cv3 = nn.Sequential(RepCSP(c4, c4, n), Conv(c4, c4, 3, 1))
        self.cv4 = Conv(c3 + 2 * c4, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.cv1(x).chunk(2, 1))
        parts.append(self.cv2(parts[-1]))
        parts.append(self.cv3(parts[-1]))
        return self.cv4(torch.cat(parts, 1))


class ELAN1(RepNCSPELAN4):
    """The light GELAN stage of YOLOv9-t: RepNCSPELAN4's data flow with plain 3x3 Convs for the two stages."""

    def __init__(self, c1: int, c2: int, c3: int, c4: int) -> None:
        nn.Module.__init__(self)
        self.c = c3 // 2
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2 = Conv(c3 // 2, c4, 3, 1)
        self.cv3 = Conv(c4, c4, 3, 1)
        self.cv4 = Conv(c3 + 2 * c4, c2, 1, 1)


class ADown(nn.Module):
    """Downsample by 2: a 2x2 stride-1 average pool, then half the channels through a stride-2 3x3 Conv and
    the other half through a stride-2 3x3 max pool and a 1x1 Conv; the halves concatenated."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1 // 2, self.c, 3, 2, 1)
        self.cv2 = Conv(c1 // 2, self.c, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, 2, 1, 0, False, True)
        a, b = x.chunk(2, 1)
        return torch.cat((self.cv1(a), self.cv2(F.max_pool2d(b, 3, 2, 1))), 1)


class AConv(nn.Module):
    """Downsample by 2: a 2x2 stride-1 average pool, then a stride-2 3x3 Conv."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv1(F.avg_pool2d(x, 2, 1, 0, False, True))


class SPPELAN(nn.Module):
    """SPP in the ELAN layout: a 1x1 Conv to c3, three chained stride-1 max pools (k), all four concatenated,
    a 1x1 Conv to c2."""

    def __init__(self, c1: int, c2: int, c3: int, k: int = 5) -> None:
        super().__init__()
        self.c = c3
        self.cv1 = Conv(c1, c3, 1, 1)
        self.cv2 = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.cv3 = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.cv4 = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
        self.cv5 = Conv(4 * c3, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.cv1(x)]
        for pool in (self.cv2, self.cv3, self.cv4):
            parts.append(pool(parts[-1]))
        return self.cv5(torch.cat(parts, 1))


class CBLinear(nn.Module):
    """One conv (with bias, no BN or activation) whose output is split into len(c2s) tensors of c2s channels:
    the projections that CBFuse rows pick from."""

    def __init__(self, c1: int, c2s: Sequence[int], k: int = 1, s: int = 1, p: int | None = None, g: int = 1) -> None:
        super().__init__()
        self.c2s = [int(c) for c in c2s]
        self.conv = nn.Conv2d(c1, sum(self.c2s), k, s, autopad(k, p), groups=g, bias=True)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.conv(x).split(self.c2s, dim=1))


class CBFuse(nn.Module):
    """Sum of the last input and, for every other input i, its output `idx[i]` resized (nearest) to the last
    input's size. Each other input is a CBLinear's tuple of outputs, or one tensor already picked from it."""

    def __init__(self, idx: Sequence[int]) -> None:
        super().__init__()
        self.idx = [int(i) for i in idx]

    def forward(self, xs: Sequence[Any]) -> torch.Tensor:
        size = xs[-1].shape[2:]
        parts = []
        for i, x in enumerate(xs[:-1]):
            picked = x[self.idx[i]] if isinstance(x, (tuple, list)) else x
            parts.append(F.interpolate(picked, size=size, mode="nearest"))
        parts.append(xs[-1])
        return torch.stack(parts).sum(0)  # one reduction, in input order
