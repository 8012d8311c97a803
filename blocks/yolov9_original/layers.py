"""Layers of the original YOLOv9 repository that no other dialect has."""

from __future__ import annotations

import torch
from torch import nn


class Silence(nn.Module):
    """Passes its input through unchanged. YOLOv9 puts it at row 0, so that row 0 stands for the input image
    and a later row can start a second (auxiliary) backbone from `0`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
