"""YOLOv7 feature layers, written from the published architecture (the module table of the reference README).

Attribute names are those of a model built by YOLOv7's own code (`cv1.conv.weight`, `m.0.cv2.bn.bias`,
`rbr_dense.0.weight`), so its checkpoints load unchanged. Convs are YOLOv5's Conv2d + BatchNorm2d +
activation (BN eps 1e-3, momentum 0.03, as a built YOLOv7 model carries), with YOLOv7's argument order.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from blocks.yolov5.common import Conv as _V5Conv
from blocks.yolov5.common import IntOrPair
from yamlnet.compile.context import default_activation


def v7_activation(act: Any) -> nn.Module:
    """YOLOv7's rule: True gives each conv its own instance of the default activation (SiLU unless the spec
    set `activation:`), a module is used as it is, anything else is no activation."""
    if act is True:
        factory = default_activation()
        return copy.deepcopy(factory()) if factory is not None else nn.SiLU()
    if isinstance(act, nn.Module):
        return act
    return nn.Identity()


class Conv(_V5Conv):
    """Conv2d (no bias) -> BatchNorm2d -> activation, in YOLOv7's argument order (no dilation; `act` 6th)."""

    def __init__(self, c1: int, c2: int, k: IntOrPair = 1, s: IntOrPair = 1, p: IntOrPair | None = None, g: int = 1, act: Any = True) -> None:
        super().__init__(c1, c2, k, s, p, g, 1, act=False)
        self.act = v7_activation(act)


class MP(nn.Module):
    """Max pooling by k with stride k (YOLOv7's downsampling branch)."""

    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.m = nn.MaxPool2d(kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m(x)


class SP(nn.Module):
    """Max pooling with kernel k, stride s and padding k // 2 (one branch of an SPP written as rows)."""

    def __init__(self, k: int = 3, s: int = 1) -> None:
        super().__init__()
        self.m = nn.MaxPool2d(kernel_size=k, stride=s, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m(x)


class SPPCSPC(nn.Module):
    """CSP spatial pyramid pooling: a conv path (1x1, 3x3, 1x1) into parallel max pools, concatenated and
    reduced (1x1, 3x3), joined with a 1x1 shortcut path and fused by a last 1x1 conv."""

    def __init__(
        self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5, k: Sequence[int] = (5, 9, 13)
    ) -> None:
        super().__init__()
        c_ = int(2 * c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(c_, c_, 3, 1)
        self.cv4 = Conv(c_, c_, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(kernel_size=x, stride=1, padding=x // 2) for x in k)
        self.cv5 = Conv((len(k) + 1) * c_, c_, 1, 1)
        self.cv6 = Conv(c_, c_, 3, 1)
        self.cv7 = Conv(2 * c_, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y1 = self.cv6(self.cv5(torch.cat([x1] + [m(x1) for m in self.m], 1)))
        return self.cv7(torch.cat((y1, self.cv2(x)), 1))
