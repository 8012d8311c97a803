"""The compiled model: a torch.fx.GraphModule with the attributes YOLOv5 code expects (stride, names, nc)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from .fuse import fuse_modules


class YamlnetModel(fx.GraphModule):
    """A GraphModule whose forward is straight-line code generated from a spec.

    `stride` is a tensor of the detection strides (or of the taps' strides for a backbone-only spec).
    `fuse()` folds BatchNorms and reparameterises blocks for deployment.
    """

    stride: torch.Tensor
    nc: int | None
    names: dict[int, str]
    yaml_file: str
    load_reports: list[Any]  # yamlnet.compile.weights.LoadReport, one per weights file loaded
    row_params: dict[int, int]  # parameters per row position, counted when built

    def fuse(self, backbones: bool = True) -> YamlnetModel:
        """Deploy form: fold Conv+BN and reparameterise branches. `backbones=False` fuses only the YOLOv5
        layers, as YOLOv5's own fuse() does; the default fuses every block that can be fused."""
        fuse_modules(self, yolov5_only=not backbones)
        self.recompile()
        return self

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> YamlnetModel:  # type: ignore[override]
        super()._apply(fn, recurse)
        if isinstance(getattr(self, "stride", None), torch.Tensor):
            self.stride = fn(self.stride)
        for m in self.modules():
            if m is not self and getattr(m, "yamlnet_head", False):
                if isinstance(getattr(m, "stride", None), torch.Tensor):
                    m.stride = fn(m.stride)
                for attr in ("grid", "anchor_grid"):
                    if isinstance(getattr(m, attr, None), list):
                        setattr(m, attr, [fn(t) for t in getattr(m, attr)])
        return self

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


__all__ = ["Any", "YamlnetModel", "count_params"]
