"""Deploy-time fusion: every module that defines `fuse()` is replaced by what it returns, children first.

YOLOv5 Conv folds its BatchNorm, MobileOne and RIFormer reparameterise their branches, EfficientViT's
Conv2d_BN becomes one convolution. `yolov5_only=True` folds only the YOLOv5 layers (blocks.yolov5), which
is what YOLOv5's own `fuse()` does on a model with a foreign backbone.
"""

from __future__ import annotations

import inspect

from torch import nn


def _fusable(m: nn.Module, yolov5_only: bool) -> bool:
    f = getattr(type(m), "fuse", None)
    if f is None or not callable(f):
        return False
    if yolov5_only and not type(m).__module__.startswith("blocks.yolov5"):
        return False
    try:
        params = list(inspect.signature(f).parameters.values())[1:]
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def fuse_modules(root: nn.Module, yolov5_only: bool = False) -> int:
    """Fuse `root`'s descendants in place (not `root` itself); returns how many modules were fused."""
    count = 0
    for name, child in list(root.named_children()):
        count += fuse_modules(child, yolov5_only)
        if _fusable(child, yolov5_only):
            new = child.fuse()
            if new is not child:
                setattr(root, name, new)
            count += 1
    return count
