"""Ultralytics heads that are not box detectors: Classify, Depth and SemanticSegment (8.4 structure and outputs).

- Classify: Conv to 1280 channels, global average pool, dropout (p=0), linear to c2 classes. Train mode returns
  the logits (B, c2); eval mode (softmax probabilities, logits); ``export = True``: the probabilities alone.
- Depth: each level projected to c_mid channels, fused top-down (2x bilinear upsampling, align_corners=True,
  sum, two 3x3 Convs), then a decoder to stride / 2 of the first level with one log-depth channel clamped to
  [-4, 5]. Train mode returns ``{"depth": exp(log-depth)}`` (B, 1, H/4, W/4); eval mode the calibrated depth
  exp(cal_a * log-depth + cal_b) as a tensor; ``export = True`` also upsamples it 4x to the input size.
- SemanticSegment: a 3x3 Conv and a 1x1 conv to nc logits on the first level; with a second level, an auxiliary
  classifier on it. Train mode returns the logits (B, nc, H/8, W/8), or (logits, auxiliary logits) with two or
  more levels; eval mode the logits; ``export = True`` upsamples them 8x to the input size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .parts import Conv


class Classify(nn.Module):
    """Classification head (see the module docstring)."""

    task = "classify"  # the ultralytics package's task name for a model with this head

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None, g: int = 1) -> None:
        super().__init__()
        hidden = 1280
        self.export = False
        self.inplace = True  # the model protocol reads it; these heads compute out of place
        self.model_strides = [1.0]  # what the compiler reports as the model's stride (the package's classifier: 1)
        self.model_batchnorm = (1e-5, 0.1)  # the package's classification models keep PyTorch's BatchNorm eps/momentum
        self.conv = Conv(c1, hidden, k, s, p, g)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(p=0.0, inplace=True)
        self.linear = nn.Linear(hidden, c2)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> Any:
        if isinstance(x, list):
            x = torch.cat(x, 1)
        logits = self.linear(self.drop(self.pool(self.conv(x)).flatten(1)))
        if self.training:
            return logits
        probs = logits.softmax(1)
        return probs if self.export else (probs, logits)


class Depth(nn.Module):
    """Monocular depth head (see the module docstring). `cal_a`, `cal_b` are calibration buffers (1 and 0)."""

    task = "depth"  # the ultralytics package's task name for a model with this head

    cal_a: torch.Tensor
    cal_b: torch.Tensor

    def __init__(self, c_mid: int = 256, ch: Sequence[int] = ()) -> None:
        super().__init__()
        self.export = False
        self.inplace = True  # the model protocol reads it; these heads compute out of place
        self.model_strides = [32.0]  # the model's stride as the package reports it for a depth model
        self.nl = len(ch)
        self.proj = nn.ModuleList(Conv(c, c_mid, k=1) for c in ch)
        self.refine = nn.ModuleList(nn.Sequential(Conv(c_mid, c_mid, k=3), Conv(c_mid, c_mid, k=3)) for _ in ch[:-1])
        half, quarter = c_mid // 2, c_mid // 4
        self.head = nn.Sequential(
            Conv(c_mid, half, k=3),
            nn.ConvTranspose2d(half, half, kernel_size=2, stride=2, bias=True),
            Conv(half, quarter, k=3),
            nn.Conv2d(quarter, 1, kernel_size=1),
        )
        if not self.head[-1].bias.is_meta:
            with torch.no_grad():
                self.head[-1].bias.fill_(0.182)  # exp(0.182) ~ 1.2: a moderate depth at the start of training
        self.register_buffer("cal_a", torch.ones(1))
        self.register_buffer("cal_b", torch.zeros(1))

    def bind_strides(self, strides: Sequence[float]) -> None:
        """Record the input strides (the depth map comes out at half the first level's stride)."""
        self.in_strides = [float(s) for s in strides]

    def forward(self, x: list[torch.Tensor]) -> Any:
        levels = [self.proj[i](x[i]) for i in range(self.nl)]
        out = levels[-1]
        for i in range(self.nl - 2, -1, -1):
            out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=True)
            out = self.refine[i](out + levels[i])
        log_depth = self.head(out).clamp(-4.0, 5.0)
        if self.training:
            return {"depth": torch.exp(log_depth)}
        depth = torch.exp(self.cal_a * log_depth + self.cal_b)
        if self.export:
            depth = F.interpolate(depth, scale_factor=4.0, mode="bilinear", align_corners=True)
        return depth


class SemanticSegment(nn.Module):
    """Semantic segmentation head (see the module docstring)."""

    task = "semantic"  # the ultralytics package's task name for a model with this head

    stride: torch.Tensor

    def __init__(self, nc: int = 19, ch: Sequence[int] = ()) -> None:
        super().__init__()
        self.nc = nc
        self.nl = len(ch)
        self.export = False
        self.inplace = True  # the model protocol reads it; these heads compute out of place
        self.model_strides = "deepest"  # the model's stride: the deepest any layer reaches (read by the compiler)
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        c_mid = ch[0]
        self.classifier = nn.Sequential(Conv(c_mid, c_mid, 3), nn.Conv2d(c_mid, nc, 1))
        self.aux_head: nn.Module | None = nn.Sequential(Conv(ch[1], c_mid, 3), nn.Conv2d(c_mid, nc, 1)) if len(ch) > 1 else None

    def bind_strides(self, strides: Sequence[float]) -> None:
        """Record the input strides (the logits come out at the first level's stride)."""
        self.stride = torch.tensor([float(s) for s in strides], dtype=torch.float32, device=self.stride.device)

    def forward(self, x: list[torch.Tensor]) -> Any:
        logits = self.classifier(x[0])
        if self.training:
            return (logits, self.aux_head(x[1])) if self.aux_head is not None else logits
        if self.export:
            return F.interpolate(logits, scale_factor=8, mode="bilinear", align_corners=False)
        return logits
