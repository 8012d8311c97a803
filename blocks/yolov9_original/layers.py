"""Layers of the original YOLOv9 repository that no other dialect has."""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from blocks.yolov5.common import Conv as _V5Conv
from blocks.yolov5.common import make_activation
from blocks.yolov7.layers import SP
from blocks.yolov7.layers import SPPCSPC as _SPPCSPC
from blocks.yolov9.layers import SPPELAN as _SPPELAN
from blocks.yolov9.layers import RepConv
from blocks.yolov9.layers import RepNCSPELAN4 as _RepNCSPELAN4
from yamlnet.compile.context import default_activation


class Silence(nn.Module):
    """Passes its input through unchanged. YOLOv9 puts it at row 0, so that row 0 stands for the input image
    and a later row can start a second (auxiliary) backbone from `0`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


# --- the repository's module structure where it differs from the shared implementations -------------------
# Same parameters, keys and outputs as the Ultralytics/YOLOv7 modules; these subclasses only give the module
# tree the repository's shape (its SP wrappers, its shared activations), so `model.modules()` counts as it does.

_SECOND_SHARED: weakref.WeakKeyDictionary[Any, nn.Module] = weakref.WeakKeyDictionary()


def repconv_activation() -> nn.Module | None:
    """The activation the repository's RepConvN layers share: a second shared instance per build (its class
    attribute `RepConvN.default_act` is set apart from `Conv.default_act`), or None outside a yamlnet build."""
    factory = default_activation()
    if factory is None:
        return None
    if factory not in _SECOND_SHARED:
        _SECOND_SHARED[factory] = copy.deepcopy(factory())
    return _SECOND_SHARED[factory]


class RepNCSPELAN4(_RepNCSPELAN4):
    """The GELAN stage (blocks.yolov9.layers), its RepConvs sharing the repository's second default activation."""

    def __init__(self, c1: int, c2: int, c3: int, c4: int, n: int = 1) -> None:
        super().__init__(c1, c2, c3, c4, n)
        act = repconv_activation()
        shared = default_activation()
        if act is not None and shared is not None:
            for m in self.modules():
                if isinstance(m, RepConv) and m.act is shared():
                    m.act = act


class SPPELAN(_SPPELAN):
    """SPPELAN (blocks.yolov9.layers) with its three pools as SP modules, as the repository builds it."""

    def __init__(self, c1: int, c2: int, c3: int, k: int = 5) -> None:
        super().__init__(c1, c2, c3, k)
        self.cv2, self.cv3, self.cv4 = SP(k), SP(k), SP(k)


class SPPCSPC(_SPPCSPC):
    """YOLOv7's SPPCSPC (blocks.yolov7.layers) with the convs sharing the build's default activation, as the
    YOLOv9 repository's Conv does (YOLOv7's gives each conv its own)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5, k: Sequence[int] = (5, 9, 13)) -> None:
        super().__init__(c1, c2, n, shortcut, g, e, k)
        for m in self.modules():
            if isinstance(m, _V5Conv) and not isinstance(m.act, nn.Identity):
                m.act = make_activation(True)
