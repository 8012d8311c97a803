"""Deploy-time fusion: every module that defines `fuse()` is replaced by what it returns, children first.

YOLOv5 Conv folds its BatchNorm, MobileOne and RIFormer reparameterise their branches, EfficientViT's
Conv2d_BN becomes one convolution. `yolov5_only=True` folds only the YOLOv5 and YOLOv7 layers (blocks.yolov5, blocks.yolov7),
which is what their own `fuse()` does on a model with a foreign backbone.
"""

from __future__ import annotations

import inspect

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

# the detector layers whose own fuse() YOLOv5's and YOLOv7's `model.fuse()` apply (Conv+BN, RepConv, IDetect's
# implicit layers); `yolov5_only` folds these and leaves foreign backbones as they are
DETECTOR_FAMILIES = ("blocks.yolov5.", "blocks.yolov7.")


def _fusable(m: nn.Module, yolov5_only: bool) -> bool:
    f = getattr(type(m), "fuse", None)
    if f is None or not callable(f):
        return False
    if yolov5_only and not type(m).__module__.startswith(DETECTOR_FAMILIES):
        return False
    try:
        params = list(inspect.signature(f).parameters.values())[1:]
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def fold_sequential(seq: nn.Sequential) -> int:
    """Fold every Conv2d directly followed by a BatchNorm2d inside an nn.Sequential (conv, bn, act patterns)."""
    count = 0
    names = list(seq._modules)
    for a, b in zip(names, names[1:]):
        conv, bn = seq._modules[a], seq._modules[b]
        if type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and bn.track_running_stats and bn.running_mean is not None:
            seq._modules[a] = fuse_conv_bn_eval(conv.eval(), bn.eval())
            seq._modules[b] = nn.Identity()
            count += 1
    return count


def fuse_modules(root: nn.Module, yolov5_only: bool = False) -> int:
    """Fuse `root`'s descendants in place (not `root` itself); returns how many modules were fused.

    A module that defines `fuse()` owns its whole subtree: the walk calls its `fuse()` and does not look inside
    (MobileOne reads its conv-BN branches as they are; timm's reparameterisation runs parents first). Elsewhere
    the walk goes down, and Conv2d+BatchNorm2d pairs in nn.Sequential containers are folded on the way back up.
    """
    count = 0
    for name, child in list(root.named_children()):
        if _fusable(child, yolov5_only):
            new = child.fuse()
            if new is not child:
                setattr(root, name, new)
            count += 1
            continue
        count += fuse_modules(child, yolov5_only)
        if isinstance(child, nn.Sequential) and not yolov5_only:
            count += fold_sequential(child)
    return count
