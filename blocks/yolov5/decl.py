"""Declarations of the YOLOv5 v7.0 layers, following YOLOv5's parse_model rules.

- The conv family gets its input channels filled (c1) and its first YAML argument (c2) width-scaled.
- The CSP stages (BottleneckCSP, C3, C3TR, C3Ghost, C3x) take the scaled depth as their `n` argument;
  every other layer is repeated as n copies in an nn.Sequential.
- Detect and Segment take the list of their inputs' channels (ch); an int `anchors` means that many
  anchors per level, with placeholder sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from yamlnet.registry import (
    FILL_C1,
    FILL_C1S,
    FILL_N,
    REQUIRED,
    Arg,
    SizeError,
    SizeRule,
    conv_out,
    conv_size,
    declare,
    odd_kernel,
    out_arg,
    out_sum,
    stride_arg,
    transpose_out,
)

from . import counts as pc

COMMON = "blocks.yolov5.common"
HEADS = "blocks.yolov5.heads"


def _first(v: Any) -> Any:
    return v[0] if isinstance(v, (list, tuple)) else v


def _ints(v: Any) -> list[int]:
    if isinstance(v, bool):
        return []
    if isinstance(v, int):
        return [v]
    return [x for x in v if isinstance(x, int) and not isinstance(x, bool)] if isinstance(v, (list, tuple)) else []


def padding_fits(kernel: str, dilation: str | None = None) -> Callable[[Any, Mapping[str, Any]], str]:
    """An `Arg.valid` rule: padding at most half the (dilated) kernel, as torch requires of pooling. More only
    adds rows and columns of zeros around the output, so the output is larger than the stride says."""

    def valid(p: Any, args: Mapping[str, Any]) -> str:
        ks, ps = _ints(args.get(kernel)), _ints(p)
        ds = _ints(args.get(dilation)) if dilation else [1]
        if not ks or not ps:
            return ""
        k, d = max(ks), max(ds or [1])
        limit = (d * (k - 1) + 1) // 2
        if max(ps) > limit:
            what = f"a kernel of {k}" + (f" with dilation {d}" if d > 1 else "")
            return f"is {p}; {what} takes at most {limit}: more only adds zeros around the output, which then grows instead of keeping its stride"
        return ""

    return valid


def positive(v: Any, args: Mapping[str, Any]) -> str:
    """An `Arg.valid` rule: a number > 0."""
    return "" if v > 0 else f"is {v}; it must be > 0"


# --- arguments shared by many layers ----------------------------------------------------------------------

C1 = Arg("c1", "int", fill=FILL_C1, doc="input channels (filled by the compiler)")
C2 = Arg("c2", "int", width=True, low=1, doc="output channels, scaled by width_multiple")
N = Arg("n", "int", default=1, fill=FILL_N, doc="number of inner blocks (the row's depth after depth_multiple)")
K1 = Arg("k", "int|list", default=1, low=1, doc="kernel size")
K3 = Arg("k", "int|list", default=3, low=1, doc="kernel size")
S = Arg("s", "int|list", default=1, low=1, doc="stride")
P = Arg("p", "int|list|none", default=None, low=0, valid=padding_fits("k", "d"), doc="padding; None pads to keep the size at stride 1")
G = Arg("g", "int", default=1, low=1, doc="groups")
D = Arg("d", "int", default=1, low=1, doc="dilation")
ACT = Arg("act", "bool|activation", default=True, doc="True: the spec's default activation (SiLU); False: none; or an activation, e.g. nn.ReLU()")
SHORTCUT = Arg("shortcut", "bool", default=True, doc="residual connection in the inner blocks")
E = Arg("e", "float", default=0.5, valid=positive, doc="hidden channels as a fraction of c2")
POOLS = Arg("k", "list", default=(5, 9, 13), low=1, valid=odd_kernel, doc="max-pool kernel sizes (odd: each pool's output is joined with its input)")

CSP_ARGS = (C1, C2, N, SHORTCUT, G, E)


def _stride_s(args: Mapping[str, Any]) -> Fraction:
    return Fraction(int(_first(args["s"])))


def _upsample_s(args: Mapping[str, Any]) -> Fraction:
    return Fraction(1, int(_first(args["s"])))


# --- the real size arithmetic of blocks whose kernels come from their arguments (BlockDecl.size) -----------------

Size = tuple[int, int]


def _focus_size(args: Mapping[str, Any], hw: Size) -> Size:
    """Space-to-depth halves the size, then a Conv with the row's kernel, stride and padding."""
    return conv_size("k", "s", "p", None)(args, (hw[0] // 2, hw[1] // 2))


def _crossconv_size(args: Mapping[str, Any], hw: Size) -> Size:
    """A 1 x k conv (stride 1 x s) then a k x 1 conv (stride s x 1): each axis gets one k-conv; the residual add
    (shortcut and c1 == c2) needs the size kept."""
    k, s = int(args["k"]), int(args["s"])
    out = (conv_out(hw[0], k, s), conv_out(hw[1], k, s))
    if args.get("shortcut") and args.get("c1") == args.get("c2") and out != hw:
        raise SizeError(f"its residual add joins the {hw[0]}x{hw[1]} input with a {out[0]}x{out[1]} output (kernel {k}, stride {s})", "k")
    return out


def _mixconv_size(args: Mapping[str, Any], hw: Size) -> Size:
    """Parallel convs padded by k // 2, concatenated, then added to the input: every kernel must keep the size."""
    s = int(args["s"])
    for k in args["k"]:
        out = (conv_out(hw[0], int(k), s, int(k) // 2), conv_out(hw[1], int(k), s, int(k) // 2))
        if out != hw:
            raise SizeError(f"its kernel-{k} conv turns {hw[0]}x{hw[1]} into {out[0]}x{out[1]}; the block adds its input to the joined outputs", "k")
    return hw


def _ghost_bottleneck_size(args: Mapping[str, Any], hw: Size) -> Size:
    """The kernel is used only at stride 2 (a depth-wise conv on both branches); at stride 1 the size is kept."""
    if int(args["s"]) != 2:
        return hw
    k = int(args["k"])
    return (conv_out(hw[0], k, 2), conv_out(hw[1], k, 2))


def _dw_transpose_size(args: Mapping[str, Any], hw: Size) -> Size:
    k, s, p, op = (int(args[n]) for n in ("k", "s", "p1", "p2"))
    return (transpose_out(hw[0], k, s, p, op), transpose_out(hw[1], k, s, p, op))


# --- what `g` groups and which attention heads a block fixes (checked statically, YN303) --------------------


def _hidden(c2: int, b: Mapping[str, Any]) -> int:
    return int(c2 * float(b.get("e", 0.5)))


def HIDDEN_GROUPS(c1: int, c2: int, b: Mapping[str, Any]) -> list[tuple[str, int]]:  # noqa: N802 - a rule, named like one
    """`g` groups the convs of the inner blocks, which work on the hidden channels c2 x e."""
    return [("the hidden channels (c2 x e)", _hidden(c2, b))]


def UNUSED_GROUPS(c1: int, c2: int, b: Mapping[str, Any]) -> list[tuple[str, int]]:  # noqa: N802
    """`g` is accepted and not used."""
    return []


# --- the conv family ----------------------------------------------------------------------------------------

declare(
    "Conv",
    f"{COMMON}:Conv",
    args=(C1, C2, K1, S, P, G, D, ACT),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=conv_size("k", "s", "p", "d"),
    params=lambda c1, b: pc.conv(c1, b["c2"], b["k"], b["g"], b["act"]),
    doc="Conv2d (no bias) + BatchNorm2d + activation, 'same' padding by default.",
)
declare(
    "DWConv",
    f"{COMMON}:DWConv",
    args=(C1, C2, K1, S, D, ACT),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=conv_size("k", "s", None, "d"),
    params=lambda c1, b: pc.dwconv(c1, b["c2"], b["k"], b["act"]),
    doc="Depth-wise Conv (groups = gcd(c1, c2)).",
)
declare(
    "GhostConv",
    f"{COMMON}:GhostConv",
    args=(C1, C2, K1, S, G, ACT),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=conv_size("k", "s", None, None),
    params=lambda c1, b: pc.conv(c1, b["c2"] // 2, b["k"], b["g"], b["act"]) + pc.conv(b["c2"] // 2, b["c2"] // 2, 5, b["c2"] // 2, b["act"]),
    doc="Ghost convolution: half the channels from a Conv, half from a cheap 5x5 depth-wise Conv.",
    groups=lambda c1, c2, b: [("the input channels", c1), ("half the output channels", c2 // 2)],
)
declare(
    "Focus",
    f"{COMMON}:Focus",
    args=(C1, C2, K1, S, P, G, ACT),
    out_channels=out_arg("c2"),
    stride=lambda args: 2 * _stride_s(args),
    size=_focus_size,
    params=lambda c1, b: pc.conv(4 * c1, b["c2"], b["k"], b["g"], b["act"]),
    sizes=(SizeRule(multiple=lambda args: 2, why="Focus takes every second pixel in each direction"),),
    doc="Space-to-depth by 2 (four pixel phases on channels), then a Conv.",
    groups=lambda c1, c2, b: [("the input channels x 4 (after space-to-depth)", 4 * c1), ("the output channels", c2)],
)
declare(
    "CrossConv",
    f"{COMMON}:CrossConv",
    args=(
        C1,
        C2,
        K3,
        Arg("s", "int", default=1, low=1, doc="stride"),
        G,
        Arg("e", "float", default=1.0, valid=positive, doc="hidden channels as a fraction of c2"),
        Arg("shortcut", "bool", default=False, doc="residual connection when c1 == c2"),
    ),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=_crossconv_size,
    params=lambda c1, b: pc.conv(c1, int(b["c2"] * b["e"]), (1, b["k"])) + pc.conv(int(b["c2"] * b["e"]), b["c2"], (b["k"], 1), b["g"]),
    doc="A 1xk Conv then a kx1 Conv, optionally residual.",
    groups=lambda c1, c2, b: [("the hidden channels (c2 x e)", _hidden(c2, b)), ("the output channels", c2)],
)
declare(
    "MixConv2d",
    f"{COMMON}:MixConv2d",
    args=(
        C1,
        C2,
        Arg("k", "list", default=(1, 3), low=1, doc="kernel sizes of the parallel convs"),
        Arg("s", "int", default=1, low=1, doc="stride"),
        Arg("equal_ch", "bool", default=True, doc="True: equal channels per kernel; False: equal weights"),
    ),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=_mixconv_size,
    doc="Mixed depth-wise convs of several kernel sizes, BN + SiLU, added to the input (c1 == c2, s == 1).",
)
declare(
    "Bottleneck",
    f"{COMMON}:Bottleneck",
    args=(C1, C2, SHORTCUT, G, E),
    out_channels=out_arg("c2"),
    doc="1x1 Conv then 3x3 Conv, residual when c1 == c2.",
    groups=lambda c1, c2, b: [("the hidden channels (c2 x e)", _hidden(c2, b)), ("the output channels", c2)],
    params=lambda c1, b: pc.bottleneck_v5(c1, b["c2"], b["g"], b["e"]),
)
declare(
    "GhostBottleneck",
    f"{COMMON}:GhostBottleneck",
    args=(C1, C2, K3, Arg("s", "int", default=1, low=1, high=2, doc="stride (1 or 2)")),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=_ghost_bottleneck_size,
    doc="Two GhostConvs (with a depth-wise Conv between when s == 2) plus a shortcut.",
)
declare(
    "SPP",
    f"{COMMON}:SPP",
    args=(C1, C2, POOLS),
    out_channels=out_arg("c2"),
    doc="Spatial pyramid pooling: parallel stride-1 max pools, concatenated, 1x1 Conv.",
    params=lambda c1, b: pc.conv(c1, c1 // 2, 1) + pc.conv(c1 // 2 * (len(b["k"]) + 1), b["c2"], 1),
)
declare(
    "SPPF",
    f"{COMMON}:SPPF",
    args=(C1, C2, Arg("k", "int", default=5, low=1, valid=odd_kernel, doc="max-pool kernel size (odd: the pools' outputs are joined)")),
    out_channels=out_arg("c2"),
    doc="Fast SPP: one max pool applied three times in series.",
    params=lambda c1, b: pc.conv(c1, c1 // 2, 1) + pc.conv(c1 // 2 * 4, b["c2"], 1),
)
declare(
    "BottleneckCSP",
    f"{COMMON}:BottleneckCSP",
    args=CSP_ARGS,
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="CSP stage of n Bottlenecks in the original CSPNet form.",
    groups=HIDDEN_GROUPS,
)
declare(
    "C3",
    f"{COMMON}:C3",
    args=CSP_ARGS,
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="CSP stage with three Convs around n Bottlenecks.",
    groups=HIDDEN_GROUPS,
    params=lambda c1, b: pc.c3(c1, b["c2"], b["n"], b["g"], b["e"], lambda c: pc.bottleneck_v5(c, c, b["g"], 1.0)),
)
declare(
    "C3x",
    f"{COMMON}:C3x",
    args=CSP_ARGS,
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="C3 with n CrossConvs inside.",
    groups=HIDDEN_GROUPS,
)
declare(
    "C3TR",
    f"{COMMON}:C3TR",
    args=CSP_ARGS,
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="C3 with a transformer block of n layers (4 heads) inside.",
    groups=UNUSED_GROUPS,
    heads=lambda c1, c2, b: [
        (4, f"4 attention heads do not divide the hidden channels (c2 x e) of its transformer ({_hidden(c2, b)})", _hidden(c2, b))
    ],
)
declare(
    "C3Ghost",
    f"{COMMON}:C3Ghost",
    args=CSP_ARGS,
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="C3 with n GhostBottlenecks inside.",
    groups=UNUSED_GROUPS,
)
declare(
    "C3SPP",
    f"{COMMON}:C3SPP",
    args=(C1, C2, POOLS, Arg("n", "int", default=1, doc="unused by the SPP inside"), SHORTCUT, G, E),
    out_channels=out_arg("c2"),
    doc="C3 with an SPP inside (depth repeats the whole block, as in YOLOv5).",
    groups=UNUSED_GROUPS,
)
declare(
    "DWConvTranspose2d",
    f"{COMMON}:DWConvTranspose2d",
    args=(
        C1,
        C2,
        Arg("k", "int", default=1, low=1, doc="kernel size"),
        Arg("s", "int", default=1, low=1, doc="upsampling factor"),
        Arg("p1", "int", default=0, low=0, doc="padding"),
        Arg("p2", "int", default=0, low=0, doc="output padding"),
    ),
    out_channels=out_arg("c2"),
    stride=_upsample_s,
    size=_dw_transpose_size,
    doc="Depth-wise transposed conv; upsamples by s.",
)

# --- reshaping and joining ------------------------------------------------------------------------------------

GAIN = Arg("gain", "int", default=2, low=1, doc="space/depth factor")

declare(
    "Contract",
    f"{COMMON}:Contract",
    args=(GAIN,),
    out_channels=lambda c1, args: int(c1) * int(args["gain"]) ** 2,
    stride=lambda args: Fraction(int(args["gain"])),
    sizes=(SizeRule(multiple=lambda args: int(args["gain"]), why="Contract folds gain x gain pixel blocks"),),
    doc="Space-to-depth: channels x gain^2, size / gain.",
    params=lambda c1, b: 0,
)
declare(
    "Expand",
    f"{COMMON}:Expand",
    args=(GAIN,),
    out_channels=lambda c1, args: int(c1) // int(args["gain"]) ** 2,
    stride=lambda args: Fraction(1, int(args["gain"])),
    doc="Depth-to-space: channels / gain^2, size x gain.",
    params=lambda c1, b: 0,
)
declare(
    "Concat",
    f"{COMMON}:Concat",
    args=(Arg("dimension", "int", default=1, low=1, high=1, doc="dimension to concatenate along: 1, the channels (as YOLOv5 joins)"),),
    inputs="join",
    role="join",
    out_channels=out_sum,
    doc="Concatenate the inputs along the channel dimension.",
    params=lambda c1, b: 0,
)

# --- heads ----------------------------------------------------------------------------------------------------


def _prepare_anchors(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    """An int `anchors` is the number of anchors per level: placeholder sizes 0..2a-1 for every input."""
    a = args.get("anchors")
    if isinstance(a, int) and not isinstance(a, bool):
        args = dict(args)
        args["anchors"] = [list(range(a * 2))] * n_inputs
    return args


NC = Arg("nc", "int", default=80, doc="number of classes")
ANCHORS = Arg("anchors", "int|list", default=(), doc="anchor sizes per level [[w, h, ...], ...], or anchors per level")
CH = Arg("ch", "list", default=(), fill=FILL_C1S, doc="input channels per level (filled by the compiler)")
INPLACE = Arg("inplace", "bool", default=True, doc="kept for YOLOv5 compatibility")

declare(
    "Detect",
    f"{HEADS}:Detect",
    args=(NC, ANCHORS, CH, INPLACE),
    inputs="list",
    role="head",
    out_channels=None,
    prepare=_prepare_anchors,
    doc="YOLOv5 anchor-based detection head over several levels.",
    params=lambda c1, b: pc.detect_v5(c1, b["nc"], b["anchors"]),
)
declare(
    "Segment",
    f"{HEADS}:Segment",
    args=(
        NC,
        ANCHORS,
        Arg("nm", "int", default=32, low=1, doc="number of masks (prototypes)"),
        Arg("npr", "int", default=256, width=True, low=1, doc="prototype channels, scaled by width_multiple"),
        CH,
        INPLACE,
    ),
    inputs="list",
    role="head",
    out_channels=None,
    prepare=_prepare_anchors,
    doc="Detect plus mask coefficients and mask prototypes (instance segmentation).",
)
declare(
    "Classify",
    f"{HEADS}:Classify",
    args=(
        C1,
        Arg("c2", "int", default=REQUIRED, low=1, doc="number of classes"),
        Arg("k", "int", default=1, low=1, doc="kernel size of the 1280-channel Conv"),
        Arg("s", "int", default=1, low=1, doc="stride of that Conv"),
        Arg("p", "int|none", default=None, low=0, valid=padding_fits("k"), doc="padding of that Conv"),
        G,
        Arg("dropout_p", "float", default=0.0, low=0, high=1, doc="dropout before the linear layer"),
    ),
    role="head",
    out_channels=None,
    doc="Classification head: Conv to 1280, global pool, dropout, linear.",
    groups=lambda c1, c2, b: [("the input channels", c1), ("the 1280 channels of its conv", 1280)],
)
