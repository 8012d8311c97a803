"""Declarations of the YOLOv7 layers (dialect "yolov7"), following YOLOv7's parse_model rules as measured
(../shared/reference/yolov7/README.md):

- Width and depth scale as in YOLOv5: c2 = make_divisible(c2 * width_multiple, 8) unless it equals
  na * (nc + 5); n = max(round(n * depth_multiple), 1) when n > 1.
- The channel layers (Conv, RepConv, DownC, SPPCSPC, Stem, the CSP family) get their input channels filled
  (c1) and their first YAML argument (c2) width-scaled.
- DownC, SPPCSPC and the CSP family take the scaled depth as their `n` argument (inserted after c2); every
  other layer is repeated as n copies in an nn.Sequential.
- Conv's sixth argument is `act` (YOLOv5's is the dilation `d`): `[c2, k, s, None, 1, nn.LeakyReLU(0.1)]`.
- MP, SP, ReOrg, Shortcut keep or derive their channels from their input.
- Bottleneck and SPP are YOLOv5's (same arguments, same modules) and not redeclared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from blocks.yolov5.decl import padding_fits, positive
from yamlnet.registry import FILL_C1, FILL_N, Arg, SizeRule, declare, out_arg, stride_arg

V7 = "yolov7"
LAYERS = "blocks.yolov7.layers"

C1 = Arg("c1", "int", fill=FILL_C1, doc="input channels (filled by the compiler)")
C2 = Arg("c2", "int", width=True, low=1, doc="output channels, scaled by width_multiple")
N = Arg("n", "int", default=1, fill=FILL_N, doc="number of inner blocks (the row's depth after depth_multiple)")
G = Arg("g", "int", default=1, low=1, doc="groups")
E = Arg("e", "float", default=0.5, valid=positive, doc="hidden channels as a fraction of c2")
ACT = Arg("act", "bool|activation", default=True, doc="True: SiLU (each conv its own); False: none; or an activation, e.g. nn.LeakyReLU(0.1)")


def _odd_kernels(v: Any, args: Mapping[str, Any]) -> str:
    """An `Arg.valid` rule: stride-1 pools padded by k // 2 keep the size only for odd kernels."""
    ks = [v] if isinstance(v, int) else list(v) if isinstance(v, (list, tuple)) else []
    even = [k for k in ks if isinstance(k, int) and not isinstance(k, bool) and k % 2 == 0]
    if even:
        return f"is {v}; a stride-1 max pool padded by k // 2 keeps the size only for odd kernels ({even[0]} grows it by one)"
    return ""


def _first(v: Any) -> Any:
    return v[0] if isinstance(v, (list, tuple)) else v


# --- the conv --------------------------------------------------------------------------------------------------

declare(
    "Conv",
    f"{LAYERS}:Conv",
    dialect=V7,
    args=(
        C1,
        C2,
        Arg("k", "int|list", default=1, low=1, doc="kernel size"),
        Arg("s", "int|list", default=1, low=1, doc="stride"),
        Arg("p", "int|list|none", default=None, low=0, valid=padding_fits("k"), doc="padding; None pads to keep the size at stride 1"),
        G,
        ACT,
    ),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    doc="Conv2d (no bias) + BatchNorm2d + activation; YOLOv7's form [c2, k, s, p, g, act].",
)

# --- pooling -----------------------------------------------------------------------------------------------------

declare(
    "MP",
    f"{LAYERS}:MP",
    dialect=V7,
    args=(Arg("k", "int", default=2, low=1, doc="pooling kernel and stride"),),
    out_channels=lambda c1, args: int(c1),
    stride=lambda args: Fraction(int(args["k"])),
    sizes=(SizeRule(multiple=lambda args: int(args["k"]), why="MP pools k x k blocks and drops a remainder, which the conv branch it joins keeps"),),
    doc="Max pooling by k with stride k (the pooling branch of YOLOv7's downsampling).",
)
declare(
    "SP",
    f"{LAYERS}:SP",
    dialect=V7,
    args=(
        Arg("k", "int", default=3, low=1, valid=_odd_kernels, doc="pooling kernel (odd: padded by k // 2)"),
        Arg("s", "int", default=1, low=1, doc="stride"),
    ),
    out_channels=lambda c1, args: int(c1),
    stride=stride_arg("s"),
    doc="Max pooling with kernel k, stride s, padding k // 2 (YOLOv7-tiny writes its SPP as SP rows).",
)
declare(
    "SPPCSPC",
    f"{LAYERS}:SPPCSPC",
    dialect=V7,
    args=(
        C1,
        C2,
        N,
        Arg("shortcut", "bool", default=False, doc="unused (kept for YOLOv7's signature)"),
        Arg("g", "int", default=1, low=1, doc="unused (kept for YOLOv7's signature)"),
        E,
        Arg("k", "list", default=(5, 9, 13), low=1, valid=_odd_kernels, doc="max-pool kernel sizes (odd)"),
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="CSP spatial pyramid pooling: 1x1-3x3-1x1 convs, parallel max pools, 1x1-3x3 convs, joined with a 1x1 path.",
    groups=lambda c1, c2, b: [],
)
