"""YOLOv5 v7.0 heads: anchor-based Detect, Segment (Detect + mask prototypes) and Classify."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .common import Conv, Proto, autopad


class Detect(nn.Module):
    """Per level a 1x1 conv to na * (nc + 5) values; in eval mode also the decoded boxes of all levels.

    Train mode returns the per-level tensors of shape (bs, na, ny, nx, no). Eval mode returns
    (boxes (bs, sum of na*ny*nx, no) in input pixels, the per-level tensors).
    `anchors` (a buffer, in the state_dict) holds pixel sizes after construction and grid units after
    `bind_strides`, as in a built YOLOv5 model.

    Export mode returns only the decoded boxes, as a one-element tuple (YOLOv5's export form: one ONNX output).
    It is on while `export` is true (YOLOv5's AutoShape sets it), under `torch.onnx.export` and under
    `torch.jit.trace`. The grids are computed from each input's shape on every call, so exported graphs keep
    dynamic sizes. `grid` and `anchor_grid` are empty per-level lists kept for code that maps over them.
    """

    anchors: torch.Tensor
    stride: torch.Tensor
    export: bool = False  # True: eval mode returns (boxes,) only

    def __init__(self, nc: int = 80, anchors: Sequence[Sequence[float]] = (), ch: Sequence[int] = (), inplace: bool = True) -> None:
        super().__init__()
        self.nc = nc
        self.no = nc + 5  # box (4), objectness (1), classes
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.inplace = inplace
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).view(self.nl, -1, 2))
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
        self.grid = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid = [torch.empty(0) for _ in range(self.nl)]

    def exporting(self) -> bool:
        """Whether this call is part of an export (YOLOv5's export form is wanted)."""
        return bool(self.export) or torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()

    # -- set up once the strides of the inputs are known --------------------------------------------------

    @torch.no_grad()
    def bind_strides(self, strides: Sequence[float]) -> None:
        """Record the input strides, express anchors in grid units and initialise the output biases.

        Called once, after construction (YOLOv5 does this in DetectionModel.__init__).
        """
        if len(strides) != self.nl:
            raise ValueError(f"{type(self).__name__} has {self.nl} levels but got {len(strides)} strides")
        s = torch.tensor([float(v) for v in strides], dtype=self.anchors.dtype, device=self.anchors.device)
        self.stride = s
        if self.anchors.is_meta:  # shape-only build: no values to adjust
            return
        # anchors must grow with the stride: flip the level order when their areas run the other way
        area = self.anchors.prod(-1).mean(-1).view(-1)
        da, ds = area[-1] - area[0], s[-1] - s[0]
        if float(da) != 0 and bool(da.sign() != ds.sign()):
            self.anchors.copy_(self.anchors.flip(0))
        self.anchors.div_(s.view(-1, 1, 1))
        self._initialize_biases()

    @torch.no_grad()
    def _initialize_biases(self) -> None:
        for conv, s in zip(self.m, self.stride.tolist()):
            b = conv.bias.view(self.na, -1)
            b[:, 4] += math.log(8 / (640 / s) ** 2)  # about 8 objects per 640x640 image
            b[:, 5 : 5 + self.nc] += math.log(0.6 / (self.nc - 0.99999))

    # -- forward -------------------------------------------------------------------------------------------

    def _grids(self, i: int, nx: int, ny: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, self.na, ny, nx, 2)
        ys = torch.arange(ny, device=like.device, dtype=like.dtype)
        xs = torch.arange(nx, device=like.device, dtype=like.dtype)
        yv, xv = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
        anchor_grid = (self.anchors[i] * self.stride[i]).to(like.dtype).view(1, self.na, 1, 1, 2).expand(shape)
        return grid, anchor_grid

    def _decode(self, i: int, p: torch.Tensor, grid: torch.Tensor, anchor_grid: torch.Tensor) -> torch.Tensor:
        xy, wh, conf = p.sigmoid().split((2, 2, self.nc + 1), 4)
        xy = (xy * 2 + grid) * self.stride[i]
        wh = (wh * 2) ** 2 * anchor_grid
        return torch.cat((xy, wh, conf), 4)

    def _levels(self, x: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outs: list[torch.Tensor] = []
        decoded: list[torch.Tensor] = []
        for i in range(self.nl):
            p = self.m[i](x[i])
            bs, _, ny, nx = p.shape
            p = p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            outs.append(p)
            if not self.training:
                grid, anchor_grid = self._grids(i, nx, ny, p)
                decoded.append(self._decode(i, p, grid, anchor_grid).view(bs, self.na * ny * nx, self.no))
        return outs, decoded

    def forward(self, x: list[torch.Tensor]) -> Any:
        outs, decoded = self._levels(x)
        if self.training:
            return outs
        return (torch.cat(decoded, 1),) if self.exporting() else (torch.cat(decoded, 1), outs)


class Segment(Detect):
    """Detect with nm mask coefficients per box, plus mask prototypes computed from the first level.

    Train mode returns (per-level tensors, prototypes); eval mode (boxes, prototypes, per-level tensors);
    export mode (boxes, prototypes), YOLOv5's two export outputs.
    """

    def __init__(
        self,
        nc: int = 80,
        anchors: Sequence[Sequence[float]] = (),
        nm: int = 32,
        npr: int = 256,
        ch: Sequence[int] = (),
        inplace: bool = True,
    ) -> None:
        super().__init__(nc, anchors, ch, inplace)
        self.nm = nm
        self.npr = npr
        self.no = 5 + nc + nm
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
        self.proto = Proto(ch[0], npr, nm)

    def _decode(self, i: int, p: torch.Tensor, grid: torch.Tensor, anchor_grid: torch.Tensor) -> torch.Tensor:
        xy, wh, conf, mask = p.split((2, 2, self.nc + 1, self.nm), 4)
        xy = (xy.sigmoid() * 2 + grid) * self.stride[i]
        wh = (wh.sigmoid() * 2) ** 2 * anchor_grid
        return torch.cat((xy, wh, conf.sigmoid(), mask), 4)  # mask coefficients stay raw

    def forward(self, x: list[torch.Tensor]) -> Any:
        protos = self.proto(x[0])
        outs, decoded = self._levels(x)
        if self.training:
            return outs, protos
        return (torch.cat(decoded, 1), protos) if self.exporting() else (torch.cat(decoded, 1), protos, outs)


class Classify(nn.Module):
    """Classification head: Conv to 1280 channels, global average pool, dropout, linear to c2 classes."""

    def __init__(
        self,
        c1: int,
        c2: int,
        k: int = 1,
        s: int = 1,
        p: int | None = None,
        g: int = 1,
        dropout_p: float = 0.0,
    ) -> None:
        super().__init__()
        c_ = 1280
        self.conv = Conv(c1, c_, k, s, autopad(k, p), g)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(p=dropout_p, inplace=True)
        self.linear = nn.Linear(c_, c2)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        if isinstance(x, list):
            x = torch.cat(x, 1)
        return self.linear(self.drop(self.pool(self.conv(x)).flatten(1)))
