"""The heads of the original YOLOv9 repository (WongKinYiu/yolov9), written from its published structure.

All are anchor-free DFL heads with lists as outputs (no dicts), as that repository's training code expects:

- `Detect` (yolov7-af): per level a box branch `cv2` (3x3, 3x3, 1x1 to 4 x 16 DFL bins) and a class branch `cv3`.
- `DDetect` (GELAN): the same with grouped (g=4) box convs and the box width rounded to a multiple of 4.
- `DualDDetect`, `TripleDDetect` (YOLOv9 with its auxiliary branches): two or three DDetect sets over the
  inputs taken in groups of nl (`cv2`/`cv3`, `cv4`/`cv5`, `cv6`/`cv7`; `dfl`, `dfl2`, `dfl3`).
- `Segment`, `DSegment`, `DualDSegment`, `Panoptic`: those plus mask coefficients and prototypes (and the
  semantic map `uconv` of Panoptic).

Outputs (B batch, A = sum of h * w over the levels, d = the per-level maps (B, 4 * 16 + nc, h, w)):

- train: Detect/DDetect `d`; DualDDetect `[d1, d2]`; TripleDDetect `[d1, d2, d3]`; Segment/DSegment
  `(d, mc, proto)`; Panoptic `(d, mc, proto, semantic)`; DualDSegment `([d1, d2], [mc1, mc2], [p1, p2])`.
- eval: Detect/DDetect `(y, d)` with y (B, 4 + nc, A): xywh boxes in input pixels and class probabilities;
  DualDDetect `([y1, y2], [d1, d2])`; TripleDDetect `(y3, d3)` (the third set only); Segment/DSegment
  `(cat(y, mc), (d, mc, proto))`, Panoptic adds the semantic map; DualDSegment keeps its second set only.
- `export = True`: the first element of the eval output alone (Segment: `(cat(y, mc), proto)`).

The compiler calls `bind_strides(strides)` once after building; it records the strides of the first set's
inputs (those the model reports, as the repository's stride probe does) and sets the bias priors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from blocks.ultralytics_heads.parts import DFL, distances_to_boxes, make_anchor_grid
from blocks.yolov5.common import Conv, Proto

REG_MAX = 16  # DFL bins per box side: fixed in these heads


def _round4(x: int) -> int:
    return int(math.ceil(x / 4) * 4)


def _box_branch(c: int, hidden: int, grouped: bool) -> nn.Sequential:
    g = 4 if grouped else 1
    return nn.Sequential(Conv(c, hidden, 3), Conv(hidden, hidden, 3, g=g), nn.Conv2d(hidden, 4 * REG_MAX, 1, groups=g))


def _plain_branch(c: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(Conv(c, hidden, 3), Conv(hidden, hidden, 3), nn.Conv2d(hidden, out, 1))


class Detect(nn.Module):
    """Anchor-free DFL detection head with `sets` groups of nl inputs (see the module docstring).

    Branch set k owns `cv{2k+2}` (boxes), `cv{2k+3}` (classes) and a DFL (`dfl`, `dfl2`, ...)."""

    grouped = False  # DDetect: grouped box convs
    sets = 1  # DualDDetect 2, TripleDDetect 3
    export = False
    stride: torch.Tensor

    def __init__(self, nc: int = 80, ch: Sequence[int] = (), inplace: bool = True) -> None:
        super().__init__()
        ch = [int(c) for c in ch]
        if not ch or len(ch) % self.sets:
            raise ValueError(f"{type(self).__name__} takes {self.sets} group(s) of levels, got {len(ch)} inputs")
        self.nc = nc
        self.nl = len(ch) // self.sets
        self.reg_max = REG_MAX
        self.no = nc + 4 * REG_MAX
        self.inplace = inplace
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        self.stride_values: list[float] = [0.0] * self.nl
        self._grid_key: tuple[Any, ...] | None = None
        self._grid: tuple[torch.Tensor, torch.Tensor] | None = None
        for k in range(self.sets):
            level = ch[k * self.nl : (k + 1) * self.nl]
            c_box = max(level[0] // 4, 4 * REG_MAX, 16)
            c_box = _round4(c_box) if self.grouped else c_box
            c_cls = max(level[0], min(2 * nc, 128))
            setattr(self, f"cv{2 * k + 2}", nn.ModuleList(_box_branch(c, c_box, self.grouped) for c in level))
            setattr(self, f"cv{2 * k + 3}", nn.ModuleList(_plain_branch(c, c_cls, nc) for c in level))
        for k in range(self.sets):
            setattr(self, "dfl" + (str(k + 1) if k else ""), DFL(REG_MAX))

    # -- the branch sets -----------------------------------------------------------------------------------

    def branches(self, k: int) -> tuple[nn.ModuleList, nn.ModuleList, nn.Module]:
        """Set k's box branches, class branches and DFL."""
        box = getattr(self, f"cv{2 * k + 2}")
        cls = getattr(self, f"cv{2 * k + 3}")
        return box, cls, getattr(self, "dfl" + (str(k + 1) if k else ""))

    @property
    def model_strides(self) -> list[float]:
        """The strides the model reports: the first set's levels."""
        return list(self.stride_values)

    @torch.no_grad()
    def bind_strides(self, strides: Sequence[float]) -> None:
        """Record the first set's strides and set the bias priors (box 1.0, classes log(5 / nc / (640 / s)^2));
        every set must see the same strides (they are decoded on one anchor grid)."""
        strides = [float(s) for s in strides]
        first = strides[: self.nl]
        for k in range(1, self.sets):
            other = strides[k * self.nl : (k + 1) * self.nl]
            if other != first:
                raise ValueError(f"input set {k + 1} has strides {other}, set 1 {first}; every set is decoded on the same grid")
        self.stride_values = first
        self.stride = torch.tensor(first, dtype=torch.float32, device=self.stride.device)
        for k in range(self.sets):
            box, cls, _ = self.branches(k)
            for b, c, s in zip(box, cls, first):
                if b[-1].bias.is_meta:
                    return
                b[-1].bias.fill_(1.0)
                c[-1].bias[: self.nc] = math.log(5 / self.nc / (640 / s) ** 2)

    # -- forward ---------------------------------------------------------------------------------------------

    def level_maps(self, x: Sequence[torch.Tensor], k: int) -> list[torch.Tensor]:
        """Set k's per-level maps (B, 4 * 16 + nc, h, w) from its inputs x[k*nl : (k+1)*nl]."""
        box, cls, _ = self.branches(k)
        xs = x[k * self.nl : (k + 1) * self.nl]
        return [torch.cat((box[i](xs[i]), cls[i](xs[i])), 1) for i in range(self.nl)]

    def anchor_grid(self, maps: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell centres (2, A) and strides (1, A), cached per shapes/device/dtype (not while tracing)."""
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return make_anchor_grid(maps, self.stride_values)
        key = (tuple(tuple(m.shape[2:]) for m in maps), maps[0].device, maps[0].dtype, tuple(self.stride_values))
        if key != self._grid_key or self._grid is None:
            self._grid = make_anchor_grid(maps, self.stride_values)
            self._grid_key = key
        return self._grid

    def decode(self, maps: Sequence[torch.Tensor], k: int) -> torch.Tensor:
        """Set k's predictions (B, 4 + nc, A): xywh boxes in input pixels, class probabilities."""
        bs = maps[0].shape[0]
        box, cls = torch.cat([m.view(bs, self.no, -1) for m in maps], 2).split((4 * REG_MAX, self.nc), 1)
        points, strides = self.anchor_grid(maps)
        boxes = distances_to_boxes(self.branches(k)[2](box), points.unsqueeze(0), xywh=True) * strides
        return torch.cat((boxes, cls.sigmoid()), 1)

    def forward(self, x: list[torch.Tensor]) -> Any:
        if self.sets == 1:
            d = self.level_maps(x, 0)
            if self.training:
                return d
            y = self.decode(d, 0)
            return y if self.export else (y, d)
        ds = [self.level_maps(x, k) for k in range(self.sets)]
        if self.training:
            return ds
        return self.decode_sets(ds)

    def decode_sets(self, ds: list[list[torch.Tensor]]) -> Any:
        """Eval output of a head with several sets: every set decoded (DualDDetect)."""
        ys = [self.decode(d, k) for k, d in enumerate(ds)]
        return ys if self.export else (ys, ds)


class DDetect(Detect):
    """GELAN's detection head: Detect with grouped box convs (see the module docstring)."""

    grouped = True


class DualDDetect(DDetect):
    """Two DDetect sets: inputs [aux P3..P5, main P3..P5]; eval decodes both."""

    sets = 2


class TripleDDetect(DDetect):
    """Three DDetect sets; eval decodes and returns the third only."""

    sets = 3

    def decode_sets(self, ds: list[list[torch.Tensor]]) -> Any:
        y = self.decode(ds[-1], self.sets - 1)
        return y if self.export else (y, ds[-1])


def _mask_branches(ch: Sequence[int], nm: int) -> nn.ModuleList:
    c4 = max(int(ch[0]) // 4, nm)
    return nn.ModuleList(_plain_branch(int(c), c4, nm) for c in ch)


class _MaskMixin:
    """Mask coefficients of a set: per level a branch to nm channels, joined over the levels (B, nm, A)."""

    nl: int
    nm: int

    def coefficients(self, branch: nn.ModuleList, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        bs = xs[0].shape[0]
        return torch.cat([branch[i](xs[i]).view(bs, self.nm, -1) for i in range(self.nl)], 2)


class _OneSetSegment(_MaskMixin):
    """The forward of a one-set segment head: prototypes from input `proto_input`, coefficients, and the set's
    maps (train) or decoded boxes with coefficients (eval)."""

    proto_input = 0
    proto: nn.Module
    cv4: nn.ModuleList
    training: bool
    export: bool
    level_maps: Any
    decode: Any

    def forward(self, x: list[torch.Tensor]) -> Any:
        p = self.proto(x[self.proto_input])
        mc = self.coefficients(self.cv4, x)
        d = self.level_maps(x, 0)
        if self.training:
            return d, mc, p
        y = torch.cat((self.decode(d, 0), mc), 1)
        return (y, p) if self.export else (y, (d, mc, p))


class Segment(_OneSetSegment, Detect):
    """Detect plus mask coefficients (`cv4`) and prototypes from the first level (`proto`: YOLOv5's Proto)."""

    def __init__(self, nc: int = 80, nm: int = 32, npr: int = 256, ch: Sequence[int] = (), inplace: bool = True) -> None:
        super().__init__(nc, ch, inplace)
        self.nm, self.npr = nm, npr
        self.proto = Proto(int(ch[0]), npr, nm)
        self.cv4 = _mask_branches(ch, nm)



class DSegment(_OneSetSegment, DDetect):
    """DDetect on all inputs but the last, plus mask coefficients (`cv4`) and prototypes `proto`, a 1x1 Conv
    of the last input (already at the prototype resolution)."""

    proto_input = -1

    def __init__(self, nc: int = 80, nm: int = 32, npr: int = 256, ch: Sequence[int] = (), inplace: bool = True) -> None:
        ch = [int(c) for c in ch]
        if len(ch) < 2:
            raise ValueError(f"DSegment takes the levels and then the prototype input, got {len(ch)} inputs")
        super().__init__(nc, ch[:-1], inplace)
        self.nm, self.npr = nm, npr
        self.proto = Conv(ch[-1], nm, 1)
        self.cv4 = _mask_branches(ch[:-1], nm)



class DualDSegment(_MaskMixin, DualDDetect):
    """DualDDetect on all inputs but the last two, mask coefficients per set (`cv6`, `cv7`) and prototypes
    per set (`proto`, `proto2`, 1x1 Convs of the last two inputs). Eval keeps the second (main) set only."""

    def __init__(self, nc: int = 80, nm: int = 32, npr: int = 256, ch: Sequence[int] = (), inplace: bool = True) -> None:
        ch = [int(c) for c in ch]
        if len(ch) < 4:
            raise ValueError(f"DualDSegment takes two sets of levels and then two prototype inputs, got {len(ch)} inputs")
        super().__init__(nc, ch[:-2], inplace)
        self.nm, self.npr = nm, npr
        self.proto = Conv(ch[-2], nm, 1)
        self.proto2 = Conv(ch[-1], nm, 1)
        self.cv6 = _mask_branches(ch[: self.nl], nm)
        self.cv7 = _mask_branches(ch[self.nl : 2 * self.nl], nm)

    def forward(self, x: list[torch.Tensor]) -> Any:
        p = [self.proto(x[-2]), self.proto2(x[-1])]
        mc = [self.coefficients(self.cv6, x[: self.nl]), self.coefficients(self.cv7, x[self.nl : 2 * self.nl])]
        ds = [self.level_maps(x, 0), self.level_maps(x, 1)]
        if self.training:
            return ds, mc, p
        y = torch.cat((self.decode(ds[1], 1), mc[1]), 1)
        return (y, p[1]) if self.export else (y, (ds[1], mc[1], p[1]))


class UConv(nn.Module):
    """Panoptic's semantic branch: 3x3 Conv, 1x1 conv (with bias) to the classes, bilinear 2x upsample."""

    def __init__(self, c1: int, c_: int = 256, c2: int = 256) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c_, k=3)
        self.cv2 = nn.Conv2d(c_, c2, 1, 1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.cv2(self.cv1(x)))


class Panoptic(_MaskMixin, Detect):
    """Segment plus a semantic map over sem_nc + nc classes from the first level (`uconv`)."""

    def __init__(self, nc: int = 80, sem_nc: int = 93, nm: int = 32, npr: int = 256, ch: Sequence[int] = (), inplace: bool = True) -> None:
        super().__init__(nc, ch, inplace)
        self.sem_nc, self.nm, self.npr = sem_nc, nm, npr
        self.proto = Proto(int(ch[0]), npr, nm)
        self.uconv = UConv(int(ch[0]), int(ch[0]) // 4, sem_nc + nc)
        self.cv4 = _mask_branches(ch, nm)

    def forward(self, x: list[torch.Tensor]) -> Any:
        p = self.proto(x[0])
        s = self.uconv(x[0])
        mc = self.coefficients(self.cv4, x)
        d = self.level_maps(x, 0)
        if self.training:
            return d, mc, p, s
        y = torch.cat((self.decode(d, 0), mc), 1)
        return (y, p, s) if self.export else (y, (d, mc, p, s))
