"""Declarations of the RT-DETR backbone and encoder layers (Ultralytics dialect), following the package's
parse rules as measured (none of these arguments is width-scaled):

- HGStem [cm, c2]: input channels filled; stride 4.
- HGBlock [cm, c2, k, lightconv, shortcut]: input channels filled, the row's number (after depth scaling)
  becomes the block's `n` (its repeated convs), the row is built once.
- RepC3 [c2, e]: c2 width-scaled, the row's number becomes `n` (its RepConvs).
- ResNetLayer [c1, c2, s, is_first, n, e]: every argument as written, c1 included (checked against the
  channels that arrive); output channels c2 for the stem (`is_first`, stride 4), e*c2 otherwise (stride s).
- AIFI [cm, num_heads, dropout]: input channels filled and kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from yamlnet.registry import CHECK_C1, FILL_C1, FILL_N, Arg, declare, out_arg, out_same, stride_fixed

UL = "ultralytics"
IMPL = "blocks.rtdetr.layers"

C1 = Arg("c1", "int", fill=FILL_C1, doc="input channels (filled by the compiler)")
N = Arg("n", "int", default=1, fill=FILL_N, doc="the row's number after depth scaling")


def _positive(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {v!r}")


def _check_hgstem(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    _positive("cm", args["cm"])
    _positive("c2", args["c2"])
    if args["cm"] < 2:
        raise ValueError("cm is halved inside the stem, so it must be at least 2")
    return args


declare(
    "HGStem",
    f"{IMPL}:HGStem",
    dialect=UL,
    args=(C1, Arg("cm", "int", doc="stem width"), Arg("c2", "int", doc="output channels (not scaled)")),
    out_channels=out_arg("c2"),
    stride=stride_fixed(4),
    prepare=_check_hgstem,
    doc="PP-HGNet stem (RT-DETR): stride-2 conv, max-pool and two-conv branches, stride-2 conv, 1x1 conv; stride 4, ReLU. [cm, c2]",
)


def _check_hgblock(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    for name in ("cm", "c2", "k"):
        _positive(name, args[name])
    if args["k"] % 2 == 0:
        raise ValueError(f"k is the kernel of the block's convs and must be odd to keep the size, not {args['k']}")
    if args["c2"] < 2:
        raise ValueError("c2 is reached through c2 // 2 channels, so it must be at least 2")
    return args


declare(
    "HGBlock",
    f"{IMPL}:HGBlock",
    dialect=UL,
    args=(
        C1,
        Arg("cm", "int", doc="width of each of the n chained convs"),
        Arg("c2", "int", doc="output channels (not scaled)"),
        Arg(
            "k",
            "int",
            doc="kernel size; write it: Ultralytics inserts the row's number after k, so a row without k builds k = number",
        ),
        N,
        Arg("lightconv", "bool", default=False, doc="LightConv (1x1 conv, depth-wise k x k conv) instead of Conv"),
        Arg("shortcut", "bool", default=False, doc="add the input to the output (when c1 == c2)"),
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    prepare=_check_hgblock,
    doc="PP-HGNet stage block (RT-DETR): n chained convs, input and outputs concatenated, 1x1 squeeze and excite; ReLU. "
    "[cm, c2, k, lightconv, shortcut]",
)


def _check_repc3(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    if int(args["c2"] * float(args["e"])) < 1:
        raise ValueError(f"the hidden width c2 * e = {args['c2']} * {args['e']} is below one channel")
    return args


declare(
    "RepC3",
    f"{IMPL}:RepC3",
    dialect=UL,
    args=(
        C1,
        Arg("c2", "int", width=True, doc="output channels, width-scaled"),
        Arg("n", "int", default=3, fill=FILL_N, doc="RepConvs (the row's number after depth scaling)"),
        Arg("e", "float", default=1.0, doc="hidden width as a fraction of c2"),
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    prepare=_check_repc3,
    doc="RT-DETR CSP fusion block: two 1x1 branches, n RepConvs on one, summed (then 1x1 to c2 when e != 1). [c2, e]",
)


def _resnet_out(c1: Any, args: Mapping[str, Any]) -> int:
    return int(args["c2"]) if args["is_first"] else int(args["e"]) * int(args["c2"])


def _resnet_stride(args: Mapping[str, Any]) -> Fraction:
    return Fraction(4) if args["is_first"] else Fraction(int(args["s"]))


def _check_resnet(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    for name in ("c2", "s", "n", "e"):
        _positive(name, args[name])
    return args


declare(
    "ResNetLayer",
    f"{IMPL}:ResNetLayer",
    dialect=UL,
    args=(
        Arg("c1", "int|none", check=CHECK_C1, doc="input channels as the row states them (checked against what arrives)"),
        Arg("c2", "int", doc="bottleneck width (not scaled); the stage outputs e * c2 channels, the stem c2"),
        Arg("s", "int", default=1, doc="stride of the first bottleneck"),
        Arg("is_first", "bool", default=False, doc="True: the ResNet stem (7x7 stride-2 conv and 3x3 stride-2 max pool), stride 4"),
        Arg("n", "int", default=1, doc="bottlenecks in the stage (the row's number is not used)"),
        Arg("e", "int", default=4, doc="expansion of the bottlenecks' last conv"),
    ),
    out_channels=_resnet_out,
    stride=_resnet_stride,
    prepare=_check_resnet,
    doc="A ResNet stage of n bottlenecks (output e*c2 channels), or the ResNet stem with is_first. [c1, c2, s, is_first, n, e]",
)


def _check_aifi(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    _positive("cm", args["cm"])
    c1 = args["c1"]
    if isinstance(c1, int) and c1 % 4:
        raise ValueError(f"the 2D sin-cos position embedding needs input channels divisible by 4; {c1} arrive")
    d = args["dropout"]
    if not 0 <= float(d) < 1:
        raise ValueError(f"dropout is a probability in [0, 1), not {d!r}")
    return args


declare(
    "AIFI",
    f"{IMPL}:AIFI",
    dialect=UL,
    args=(
        C1,
        Arg("cm", "int", default=2048, doc="hidden width of the feed-forward"),
        Arg("num_heads", "int", default=8, doc="attention heads (must divide the channels)"),
        Arg("dropout", "float", default=0.0, doc="dropout probability"),
    ),
    out_channels=out_same,
    prepare=_check_aifi,
    doc="RT-DETR intra-scale attention: one transformer encoder layer over the pixels, with a 2D sin-cos position embedding. "
    "[cm, num_heads, dropout]",
)
