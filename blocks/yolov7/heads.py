"""YOLOv7 heads: its anchor Detect, the implicit-knowledge IDetect and IAuxDetect (lead + auxiliary levels),
and the ImplicitA/ImplicitM layers they use, written from the published architecture.

State_dict names and order are those of a model built by YOLOv7's own code: `anchors`, `anchor_grid`
(both buffers), `m.*`, then `m2.*` (IAuxDetect), `ia.*`, `im.*`, so its checkpoints load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from blocks.yolov5.heads import Detect as _V5Detect


class ImplicitA(nn.Module):
    """A learned per-channel offset added to the input (implicit knowledge, YOLOR)."""

    def __init__(self, channel: int, mean: float = 0.0, std: float = 0.02) -> None:
        super().__init__()
        self.channel = channel
        self.implicit = nn.Parameter(torch.zeros(1, channel, 1, 1))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.implicit + x


class ImplicitM(nn.Module):
    """A learned per-channel scale multiplied with the input (implicit knowledge, YOLOR)."""

    def __init__(self, channel: int, mean: float = 1.0, std: float = 0.02) -> None:
        super().__init__()
        self.channel = channel
        self.implicit = nn.Parameter(torch.ones(1, channel, 1, 1))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.implicit * x


class Detect(_V5Detect):
    """YOLOv7's anchor Detect: YOLOv5's head plus the pixel anchors as a buffer `anchor_grid` (nl, 1, na, 1, 1, 2),
    which is in the state_dict and is what the eval-mode decoding multiplies by."""

    anchor_grid: torch.Tensor  # type: ignore[assignment]
    cls_prior = 0.99  # YOLOv7's class-bias prior: log(0.6 / (nc - 0.99))

    def __init__(self, nc: int = 80, anchors: Sequence[Sequence[float]] = (), ch: Sequence[int] = ()) -> None:
        super().__init__(nc, anchors, ch)
        del self.anchor_grid  # YOLOv5's per-level list; YOLOv7 keeps a buffer
        self.register_buffer("anchor_grid", self.anchors.clone().view(self.nl, 1, -1, 1, 1, 2))

    @torch.no_grad()
    def bind_strides(self, strides: Sequence[float]) -> None:
        """Record the strides; flip both anchor buffers when their areas run against the strides, then express
        `anchors` in grid units and initialise the biases (what YOLOv7's Model does after its stride probe)."""
        strides = list(strides)[: self.nl]
        if len(strides) != self.nl:
            raise ValueError(f"{type(self).__name__} has {self.nl} levels but got {len(strides)} strides")
        s = torch.tensor([float(v) for v in strides], dtype=self.anchors.dtype, device=self.anchors.device)
        self.stride = s
        self.model_strides = [float(v) for v in strides]
        if self.anchors.is_meta:
            return
        area = self.anchor_grid.prod(-1).view(-1)
        if float(area[-1] - area[0]) != 0 and bool((area[-1] - area[0]).sign() != (s[-1] - s[0]).sign()):
            self.anchors.copy_(self.anchors.flip(0))
            self.anchor_grid.copy_(self.anchor_grid.flip(0))
        self.anchors.div_(s.view(-1, 1, 1))
        for conv in self.bias_convs():
            self._prior(conv)

    def bias_convs(self) -> list[tuple[nn.Conv2d, float]]:
        """The output convs whose biases get the objectness and class priors, with their strides."""
        return list(zip(self.m, self.stride.tolist()))  # type: ignore[arg-type]

    def _prior(self, conv_stride: tuple[nn.Conv2d, float]) -> None:
        conv, s = conv_stride
        b = conv.bias.view(self.na, -1)  # type: ignore[union-attr]
        b[:, 4] += math.log(8 / (640 / s) ** 2)  # about 8 objects per 640x640 image
        b[:, 5:] += math.log(0.6 / (self.nc - self.cls_prior))

    def _grids(self, i: int, nx: int, ny: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        grid, _ = super()._grids(i, nx, ny, like)
        return grid, self.anchor_grid[i].to(like.dtype).expand(1, self.na, ny, nx, 2)

    def level_conv(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """The raw output of level i (its 1x1 conv)."""
        return self.m[i](x)

    def _levels(self, x: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outs: list[torch.Tensor] = []
        decoded: list[torch.Tensor] = []
        for i in range(self.nl):
            p = self.level_conv(i, x[i])
            bs, _, ny, nx = p.shape
            p = p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            outs.append(p)
            if not self.training:
                grid, anchor_grid = self._grids(i, nx, ny, p)
                decoded.append(self._decode(i, p, grid, anchor_grid).view(bs, self.na * ny * nx, self.no))
        return outs, decoded


class IDetect(Detect):
    """Detect with implicit knowledge: ImplicitA before each level's conv and ImplicitM after it.

    `fuse()` folds both into the conv (YOLOv7's deploy form); the forward then skips them.
    """

    def __init__(self, nc: int = 80, anchors: Sequence[Sequence[float]] = (), ch: Sequence[int] = ()) -> None:
        super().__init__(nc, anchors, ch)
        self.ia = nn.ModuleList(ImplicitA(c) for c in ch[: self.nl])
        self.im = nn.ModuleList(ImplicitM(self.no * self.na) for _ in ch[: self.nl])
        self.implicit_folded = False

    def level_conv(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if self.implicit_folded:
            return self.m[i](x)
        return self.im[i](self.m[i](self.ia[i](x)))

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        """Fold ImplicitA into each conv's bias and ImplicitM into its weight and bias."""
        if self.implicit_folded:
            return self
        for conv, ia, im in zip(self.m, self.ia, self.im):
            w = conv.weight.view(conv.out_channels, -1)  # type: ignore[union-attr]
            conv.bias += (w @ ia.implicit.view(-1, 1)).view(-1)  # type: ignore[operator]
            scale = im.implicit.view(-1)
            conv.bias *= scale  # type: ignore[operator]
            conv.weight *= scale.view(-1, 1, 1, 1)  # type: ignore[operator]
        self.implicit_folded = True
        return self


class IAuxDetect(IDetect):
    """IDetect over the first nl inputs (the lead levels) plus plain convs `m2` over the last nl (the auxiliary
    levels of YOLOv7's P6 training files). Train mode returns 2 x nl tensors, lead then auxiliary; eval mode
    decodes the lead levels only: (boxes, lead tensors). The model's stride is the lead levels'."""

    def __init__(self, nc: int = 80, anchors: Sequence[Sequence[float]] = (), ch: Sequence[int] = ()) -> None:
        nl = len(anchors)
        if len(ch) != 2 * nl:
            raise ValueError(f"IAuxDetect takes 2 x {nl} inputs (lead levels, then auxiliary), not {len(ch)}")
        super().__init__(nc, anchors, ch[:nl])
        self.m2 = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch[nl:])
        for name in ("ia", "im"):  # state_dict order: m, m2, ia, im
            self._modules[name] = self._modules.pop(name)

    def bias_convs(self) -> list[tuple[nn.Conv2d, float]]:
        s = self.stride.tolist()
        return list(zip(self.m, s)) + list(zip(self.m2, s))  # type: ignore[arg-type]

    def forward(self, x: list[torch.Tensor]) -> Any:
        lead, decoded = self._levels(x[: self.nl])
        if self.training:
            aux = []
            for i in range(self.nl):
                p = self.m2[i](x[self.nl + i])
                bs, _, ny, nx = p.shape
                aux.append(p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
            return lead + aux
        return (torch.cat(decoded, 1),) if self.exporting() else (torch.cat(decoded, 1), lead)
