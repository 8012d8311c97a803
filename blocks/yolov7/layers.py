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
import torch.nn.functional as F
from torch import nn

from blocks.yolov5.common import SPP as _V5SPP
from blocks.yolov5.common import Bottleneck as _V5Bottleneck
from blocks.yolov5.common import Conv as _V5Conv
from blocks.yolov5.common import IntOrPair, autopad, batch_norm, fold_batch_norm
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


def own_activations(module: nn.Module) -> nn.Module:
    """Give every conv inside `module` its own activation instance, as YOLOv7 builds them (YOLOv5's layers
    share one per model); the modules and their behaviour are otherwise YOLOv5's."""
    for m in module.modules():
        if isinstance(m, _V5Conv) and not isinstance(m, Conv):
            m.act = copy.deepcopy(m.act)
    return module


class Bottleneck(_V5Bottleneck):
    """YOLOv5's Bottleneck (1x1 then 3x3 conv, residual when c1 == c2), each conv with its own activation."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, shortcut, g, e)
        own_activations(self)


class SPP(_V5SPP):
    """YOLOv5's SPP (1x1 conv, parallel stride-1 max pools, concatenated, 1x1 conv), each conv with its own activation."""

    def __init__(self, c1: int, c2: int, k: Sequence[int] = (5, 9, 13)) -> None:
        super().__init__(c1, c2, k)
        own_activations(self)


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

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5, k: Sequence[int] = (5, 9, 13)) -> None:
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


class ReOrg(nn.Module):
    """Space-to-depth by 2: the four pixel phases stacked on channels (4 x channels, half the size)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), 1)


class Shortcut(nn.Module):
    """The sum of two feature maps of one shape (YOLOv7-E6E's residual rows); `dimension` is not used."""

    def __init__(self, dimension: int = 0) -> None:
        super().__init__()
        self.d = dimension

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        return x[0] + x[1]


class DownC(nn.Module):
    """Downsampling by k in two halves: 1x1 then strided 3x3 conv, and max pool then 1x1 conv, concatenated."""

    def __init__(self, c1: int, c2: int, n: int = 1, k: int = 2) -> None:
        super().__init__()
        c_ = int(c1)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2 // 2, 3, k)
        self.cv3 = Conv(c1, c2 // 2, 1, 1)
        self.mp = nn.MaxPool2d(kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.cv2(self.cv1(x)), self.cv3(self.mp(x))), 1)


class Stem(nn.Module):
    """Stride-4 stem: a strided 3x3 conv, then a (1x1, strided 3x3) conv path and a 2x2 max pool, concatenated
    and fused by a 1x1 conv. k, s, p, g and act are accepted and not used, as in YOLOv7."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None, g: int = 1, act: Any = True) -> None:
        super().__init__()
        c_ = int(c2 / 2)
        self.cv1 = Conv(c1, c_, 3, 2)
        self.cv2 = Conv(c_, c_, 1, 1)
        self.cv3 = Conv(c_, c_, 3, 2)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.cv4 = Conv(2 * c_, c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        return self.cv4(torch.cat((self.cv3(self.cv2(x)), self.pool(x)), 1))


# ---------------------------------------------------------------------------------------------------------
# RepConv: a 3x3 and a 1x1 branch (and an identity BN) that fold into one 3x3 conv


class RepConv(nn.Module):
    """RepVGG block in YOLOv7's layout: act(BN(3x3 conv) + BN(1x1 conv) [+ BN(x) when c1 == c2 and s == 1]).

    `fuse()` reparameterises the branches into one 3x3 conv with bias, `rbr_reparam` (YOLOv7's deploy form).
    """

    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1, p: int | None = None, g: int = 1, act: Any = True, deploy: bool = False) -> None:
        super().__init__()
        if k != 3 or autopad(k, p) != 1:
            raise ValueError(f"RepConv is built for a 3x3 kernel with padding 1, not k={k}, p={p}")
        self.groups, self.in_channels, self.out_channels = g, c1, c2
        self.act = v7_activation(act)
        self.rbr_identity = batch_norm(c1) if c1 == c2 and s == 1 else None
        self.rbr_dense = nn.Sequential(nn.Conv2d(c1, c2, 3, s, 1, groups=g, bias=False), batch_norm(c2))
        self.rbr_1x1 = nn.Sequential(nn.Conv2d(c1, c2, 1, s, 0, groups=g, bias=False), batch_norm(c2))
        self.rbr_reparam: nn.Conv2d | None = None
        if deploy:
            self.fuse()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rbr_reparam is not None:
            return self.act(self.rbr_reparam(x))
        y = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            y = y + self.rbr_identity(x)
        return self.act(y)

    @torch.no_grad()
    def equivalent_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 kernel and bias of one conv whose output equals the branches' sum (eval mode)."""
        dense = fold_batch_norm(self.rbr_dense[0], self.rbr_dense[1])
        one = fold_batch_norm(self.rbr_1x1[0], self.rbr_1x1[1])
        weight = dense.weight + F.pad(one.weight, [1, 1, 1, 1])
        bias = dense.bias + one.bias
        if self.rbr_identity is not None:
            per_group = self.in_channels // self.groups
            ident = torch.zeros_like(dense.weight)
            for i in range(self.in_channels):
                ident[i, i % per_group, 1, 1] = 1.0
            eye = nn.Conv2d(self.in_channels, self.in_channels, 3, 1, 1, groups=self.groups, bias=False).to(ident)
            eye.weight.copy_(ident)
            folded = fold_batch_norm(eye, self.rbr_identity)
            weight, bias = weight + folded.weight, bias + folded.bias
        return weight, bias

    def fuse(self) -> nn.Module:
        """Reparameterise into `rbr_reparam` (deploy form); the branches are removed."""
        if self.rbr_reparam is not None:
            return self
        weight, bias = self.equivalent_kernel_bias()
        dense = self.rbr_dense[0]
        conv = nn.Conv2d(dense.in_channels, dense.out_channels, 3, dense.stride, 1, groups=dense.groups, bias=True).to(weight)  # type: ignore[arg-type]
        conv.weight.data.copy_(weight)
        conv.bias.data.copy_(bias)  # type: ignore[union-attr]
        conv.requires_grad_(False)
        self.rbr_reparam = conv
        del self.rbr_dense, self.rbr_1x1
        self.rbr_identity = None
        return self


# ---------------------------------------------------------------------------------------------------------
# The baseline CSP family (YOLOR / YOLOv4-CSP / CSP-ResNet files)


class Res(nn.Module):
    """ResNet bottleneck: 1x1 conv to c2 x e, 3x3 (grouped) conv, 1x1 conv to c2; residual when c1 == c2."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c_, 3, 1, g=g)
        self.cv3 = Conv(c_, c2, 1, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv3(self.cv2(self.cv1(x)))
        return x + y if self.add else y


def _bottlenecks(c: int, n: int, shortcut: bool, g: int) -> nn.Sequential:
    return nn.Sequential(*(Bottleneck(c, c, shortcut, g, e=1.0) for _ in range(n)))


class BottleneckCSPA(nn.Module):
    """CSP stage A: two 1x1 branches from the input, one through n inner blocks, concatenated, 1x1 out."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1, 1)
        self.m = self.inner(c_, n, shortcut, g)

    def inner(self, c: int, n: int, shortcut: bool, g: int) -> nn.Module:
        """The n inner blocks (Bottlenecks here; Res blocks in the ResCSP/ResXCSP stages)."""
        return _bottlenecks(c, n, shortcut, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class BottleneckCSPB(nn.Module):
    """CSP stage B: one 1x1 conv to c2, split into the inner blocks and a 1x1 conv, concatenated, 1x1 out
    (the hidden width is c2; `e` is not used)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1, 1)
        self.m = self.inner(c_, n, shortcut, g)

    inner = BottleneckCSPA.inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.cv1(x)
        return self.cv3(torch.cat((self.m(x1), self.cv2(x1)), 1))


class BottleneckCSPC(nn.Module):
    """CSP stage C: as A with a 1x1 conv after the inner blocks."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(c_, c_, 1, 1)
        self.cv4 = Conv(2 * c_, c2, 1, 1)
        self.m = self.inner(c_, n, shortcut, g)

    inner = BottleneckCSPA.inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv4(torch.cat((self.cv3(self.m(self.cv1(x))), self.cv2(x)), 1))


def _res(e: float) -> Any:
    def inner(self: nn.Module, c: int, n: int, shortcut: bool, g: int) -> nn.Module:
        return nn.Sequential(*(Res(c, c, shortcut, g, e=e) for _ in range(n)))

    inner.__doc__ = f"n Res blocks (expansion {e})"
    return inner


class ResCSPA(BottleneckCSPA):
    """CSP stage A over n Res blocks (expansion 0.5)."""

    inner = _res(0.5)


class ResCSPB(BottleneckCSPB):
    """CSP stage B over n Res blocks (expansion 0.5); residual by default, unlike BottleneckCSPB."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)

    inner = _res(0.5)


class ResCSPC(BottleneckCSPC):
    """CSP stage C over n Res blocks (expansion 0.5)."""

    inner = _res(0.5)


class ResXCSPA(BottleneckCSPA):
    """CSP stage A over n ResNeXt blocks (grouped 3x3, 32 groups by default, expansion 1)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 32, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)

    inner = _res(1.0)


class ResXCSPB(BottleneckCSPB):
    """CSP stage B over n ResNeXt blocks (grouped 3x3, 32 groups by default, expansion 1)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 32, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)

    inner = _res(1.0)


class ResXCSPC(BottleneckCSPC):
    """CSP stage C over n ResNeXt blocks (grouped 3x3, 32 groups by default, expansion 1)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 32, e: float = 0.5) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)

    inner = _res(1.0)
