"""Building parts of the Ultralytics heads: the DFL integral, mask prototype nets and the keypoint flow.

The convolution blocks are YOLOv5's `Conv` and `DWConv` (blocks.yolov5.common): Ultralytics' are the same
modules (conv/bn/act keys, 'same' padding, depth-wise grouping by gcd(c1, c2), the spec's default activation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from blocks.yolov5.common import Conv, DWConv

__all__ = ["DFL", "Conv", "DWConv", "KeypointFlow", "MaskProto", "MaskProto26", "make_anchor_grid", "distances_to_boxes", "distances_to_rotated"]


class DFL(nn.Module):
    """Distribution focal loss integral: per box side, the expected value of a softmax over `bins` distances.

    The expectation is a fixed 1x1 convolution with weights 0..bins-1 (a parameter that is not trained,
    `dfl.conv.weight` in the state_dict).
    """

    def __init__(self, bins: int = 16) -> None:
        super().__init__()
        self.bins = bins
        self.conv = nn.Conv2d(bins, 1, 1, bias=False).requires_grad_(False)
        if not self.conv.weight.is_meta:
            with torch.no_grad():
                self.conv.weight.copy_(torch.arange(bins, dtype=torch.float32).view(1, bins, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, n = x.shape  # (batch, 4 * bins, anchors)
        probs = x.view(b, 4, self.bins, n).transpose(2, 1).softmax(1)  # (batch, bins, 4, anchors)
        return self.conv(probs).view(b, 4, n)


class MaskProto(nn.Module):
    """Mask prototypes: 3x3 Conv, 2x learned upsampling (ConvTranspose2d), 3x3 Conv, 1x1 Conv to c2 masks."""

    def __init__(self, c1: int, c_: int = 256, c2: int = 32) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c_, k=3)
        self.upsample = nn.ConvTranspose2d(c_, c_, 2, 2, 0, bias=True)
        self.cv2 = Conv(c_, c_, k=3)
        self.cv3 = Conv(c_, c2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(self.cv2(self.upsample(self.cv1(x))))


class MaskProto26(MaskProto):
    """YOLO26 prototypes: the coarser levels are projected to the first level's channels, upsampled and summed
    into it, fused by a 3x3 Conv, then run through the MaskProto layers.

    In training it also returns semantic logits over `nc` classes computed from the summed features (an auxiliary
    output for the loss): `(prototypes, semantic)`; in eval only the prototypes.
    """

    def __init__(self, ch: Sequence[int] = (), c_: int = 256, c2: int = 32, nc: int = 80) -> None:
        super().__init__(c_, c_, c2)
        self.feat_refine = nn.ModuleList(Conv(c, ch[0], k=1) for c in ch[1:])
        self.feat_fuse = Conv(ch[0], c_, k=3)
        self.semseg: nn.Module | None = nn.Sequential(Conv(ch[0], c_, k=3), Conv(c_, c_, k=3), nn.Conv2d(c_, nc, 1))

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        merged = x[0]
        for level, project in enumerate(self.feat_refine, start=1):
            merged = merged + F.interpolate(project(x[level]), scale_factor=2**level, mode="nearest")
        protos = super().forward(self.feat_fuse(merged))
        if self.training and self.semseg is not None:
            return protos, self.semseg(merged)
        return protos

    def fuse(self) -> MaskProto26:
        """Deploy form: drop the training-only semantic branch and fold the Conv+BatchNorm pairs."""
        from yamlnet.compile.fuse import fuse_modules

        self.semseg = None
        fuse_modules(self)
        return self


def _scale_net(tanh: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 2)]
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class KeypointFlow(nn.Module):
    """A 2-D RealNVP flow (six affine coupling layers with alternating masks) used by Pose26's keypoint loss.

    `s` are the log-scale nets (ending in tanh), `t` the translation nets. `log_prob(z)` is the density of
    2-D residuals under the flow with a standard normal base. `loc` and `cov` are kept as buffers because
    the package's checkpoints carry them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("loc", torch.zeros(2))
        self.register_buffer("cov", torch.eye(2))
        self.register_buffer("mask", torch.tensor([[0.0, 1.0], [1.0, 0.0]] * 3))
        self.s = nn.ModuleList(_scale_net(True) for _ in range(6))
        self.t = nn.ModuleList(_scale_net(False) for _ in range(6))
        for m in self.modules():
            if isinstance(m, nn.Linear) and not m.weight.is_meta:
                nn.init.xavier_uniform_(m.weight, gain=0.01)

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map samples (N, 2) to the base space; also the log |det| of that map per sample."""
        z = x
        log_det = x.new_zeros(x.shape[0])
        for i in range(len(self.s) - 1, -1, -1):
            keep = self.mask[i]
            z_kept = keep * z
            s = self.s[i](z_kept) * (1 - keep)
            t = self.t[i](z_kept) * (1 - keep)
            z = z_kept + (1 - keep) * (z - t) * torch.exp(-s)
            log_det = log_det - s.sum(1)
        return z, log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, log_det = self.inverse(x)
        return -0.5 * (z.float() ** 2).sum(-1) - math.log(2 * math.pi) + log_det


# ---------------------------------------------------------------------------------------------------------
# Box geometry shared by the anchor-free heads.


def make_anchor_grid(
    feats: Sequence[torch.Tensor], strides: Sequence[float] | torch.Tensor, offset: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres of every level in grid units, (2, N), and the stride of each, (1, N); N = sum of h * w."""
    points: list[torch.Tensor] = []
    scales: list[torch.Tensor] = []
    like = feats[0]
    for i, f in enumerate(feats):
        h, w = f.shape[2:]
        xs = torch.arange(w, device=like.device, dtype=like.dtype) + offset
        ys = torch.arange(h, device=like.device, dtype=like.dtype) + offset
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((gx, gy), -1).view(-1, 2))
        scales.append(like.new_full((h * w, 1), float(strides[i])))
    return torch.cat(points).transpose(0, 1), torch.cat(scales).transpose(0, 1)


def distances_to_boxes(dist: torch.Tensor, points: torch.Tensor, xywh: bool) -> torch.Tensor:
    """(left, top, right, bottom) distances from the points, along dim 1, to xywh or xyxy boxes."""
    lt, rb = dist.chunk(2, 1)
    top_left = points - lt
    bottom_right = points + rb
    if xywh:
        return torch.cat(((top_left + bottom_right) / 2, bottom_right - top_left), 1)
    return torch.cat((top_left, bottom_right), 1)


def distances_to_rotated(dist: torch.Tensor, angle: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Distances plus an angle (radians), along dim 1, to rotated boxes (cx, cy, w, h) (the angle kept apart)."""
    lt, rb = dist.split(2, 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    dx, dy = ((rb - lt) / 2).split(1, 1)
    centre = torch.cat((dx * cos - dy * sin, dx * sin + dy * cos), 1) + points
    return torch.cat((centre, lt + rb), 1)
