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
- Bottleneck and SPP are YOLOv5's (same arguments, same modules); they are declared here only because YOLOv7
  gives each conv its own activation instance (its module counts show it).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from blocks.yolov5 import counts as pc
from blocks.yolov5 import decl as v5
from blocks.yolov5.decl import padding_fits, positive
from yamlnet.registry import (
    CHECK_C1,
    FILL_C1,
    FILL_C1S,
    FILL_N,
    Arg,
    SizeRule,
    conv_out,
    conv_size,
    declare,
    level_sets_of,
    lookup,
    out_arg,
    stride_arg,
    stride_fixed,
)

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


def _pool_size(hw: tuple[int, int], k: int, s: int, p: int) -> tuple[int, int]:
    """A max pool's output size (torch's floor rule): MP's k x k blocks drop a remainder, SP's even kernel grows the map."""
    return (conv_out(hw[0], k, s, p), conv_out(hw[1], k, s, p))


def _stem_params(c1: int, c2: int) -> int:
    """Stem: a strided 3x3 Conv to c2 / 2, a 1x1 and a strided 3x3 Conv on it, a 1x1 Conv from both halves to c2."""
    c_ = int(c2 / 2)
    return pc.conv(c1, c_, 3) + pc.conv(c_, c_, 1) + pc.conv(c_, c_, 3) + pc.conv(2 * c_, c2, 1)


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
    size=conv_size("k", "s", "p", None),
    params=lambda c1, b: pc.conv(c1, b["c2"], b["k"], b["g"], b["act"]),
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
    size=lambda args, hw: _pool_size(hw, int(args["k"]), int(args["k"]), 0),
    params=lambda c1, b: 0,
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
    size=lambda args, hw: _pool_size(hw, int(args["k"]), int(args["s"]), int(args["k"]) // 2),
    params=lambda c1, b: 0,
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
    params=lambda c1, b: pc.sppcspc(c1, b["c2"], b["e"], len(b["k"])),
    doc="CSP spatial pyramid pooling: 1x1-3x3-1x1 convs, parallel max pools, 1x1-3x3 convs, joined with a 1x1 path.",
    groups=lambda c1, c2, b: [],
)

# --- reshaping and joining ---------------------------------------------------------------------------------------

declare(
    "ReOrg",
    f"{LAYERS}:ReOrg",
    dialect=V7,
    out_channels=lambda c1, args: 4 * int(c1),
    stride=stride_fixed(2),
    params=lambda c1, b: 0,
    sizes=(SizeRule(multiple=lambda args: 2, why="ReOrg stacks the four pixel phases of every 2x2 block"),),
    doc="Space-to-depth by 2: channels x 4, size / 2 (layer 0 of YOLOv7's P6 files).",
)


def _two_inputs(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    if n_inputs != 2:
        raise ValueError(f"it adds exactly two inputs (YOLOv7 would ignore any others), not {n_inputs}")
    return args


declare(
    "Shortcut",
    f"{LAYERS}:Shortcut",
    dialect=V7,
    args=(Arg("dimension", "int", default=0, doc="not used (YOLOv7 files write 1)"),),
    inputs="join",
    out_channels=lambda c1, args: int(c1[0]),
    prepare=_two_inputs,
    same_channels=True,
    params=lambda c1, b: 0,
    doc="The sum of its two inputs (same channels and stride): YOLOv7-E6E's residual rows.",
)


def _downc_check(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    if args["c2"] % 2:
        raise ValueError(f"DownC makes c2 from two halves, so c2 ({args['c2']}) must be even")
    return args


declare(
    "DownC",
    f"{LAYERS}:DownC",
    dialect=V7,
    args=(
        C1,
        C2,
        Arg("n", "int", default=1, fill=FILL_N, doc="not used (YOLOv7 passes the depth in)"),
        Arg("k", "int", default=2, low=1, doc="downsampling factor"),
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    stride=stride_arg("k"),
    prepare=_downc_check,
    params=lambda c1, b: pc.conv(c1, c1, 1) + pc.conv(c1, b["c2"] // 2, 3) + pc.conv(c1, b["c2"] // 2, 1),
    sizes=(SizeRule(multiple=lambda args: int(args["k"]), why="DownC's max-pool half drops a remainder that its strided-conv half keeps"),),
    doc="Downsampling by k: (1x1, strided 3x3) conv and (max pool, 1x1) conv halves, concatenated.",
)
declare(
    "Stem",
    f"{LAYERS}:Stem",
    dialect=V7,
    args=(
        C1,
        C2,
        Arg("k", "int", default=1, doc="not used"),
        Arg("s", "int", default=1, doc="not used"),
        Arg("p", "int|none", default=None, doc="not used"),
        Arg("g", "int", default=1, doc="not used"),
        Arg("act", "bool|activation", default=True, doc="not used"),
    ),
    out_channels=out_arg("c2"),
    stride=stride_fixed(4),
    params=lambda c1, b: _stem_params(c1, b["c2"]),
    sizes=(SizeRule(multiple=lambda args: 4, why="Stem joins a strided conv and a 2x2 max pool after a first stride-2 conv"),),
    doc="Stride-4 stem of the CSP-ResNet files: strided 3x3 conv, then (1x1, strided 3x3) conv and max pool, concatenated, 1x1 conv.",
    groups=lambda c1, c2, b: [],
)
declare(
    "RepConv",
    f"{LAYERS}:RepConv",
    dialect=V7,
    args=(
        C1,
        C2,
        Arg("k", "int", default=3, low=3, high=3, doc="kernel size (3 only)"),
        Arg("s", "int", default=1, low=1, doc="stride"),
        Arg("p", "int|none", default=None, low=1, high=1, doc="padding (None or 1)"),
        Arg("g", "int", default=1, low=1, doc="groups"),
        ACT,
        Arg("deploy", "bool", default=False, doc="build the fused single conv (rbr_reparam) instead of the branches"),
    ),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=conv_size("k", "s", "p", None),
    params=lambda c1, b: pc.repconv(c1, b["c2"], b["s"], b["g"], b["act"], b["deploy"]),
    doc="RepVGG block: 3x3 and 1x1 conv+BN branches (+ identity BN when c1 == c2, s == 1), summed; fuse() reparameterises.",
)

# --- the baseline CSP family ---------------------------------------------------------------------------------------


def _csp(name: str, doc: str, shortcut: bool, g: int, width: str, inner_e: float) -> None:
    """Declare one CSP stage: `width` says its hidden channels ("c2 x e" or "c2"), `inner_e` the inner blocks'
    expansion (what `g` must divide in their 3x3 convs). The inner blocks are Res blocks for the Res* stages,
    else Bottlenecks; the last letter is the stage's form (A, B, C)."""
    form, inner = name[-1], "Res" if name.startswith("Res") else "Bottleneck"

    def params(c1: int, b: Mapping[str, Any]) -> int:
        g_ = int(b["g"])
        one = (lambda c: pc.bottleneck_v5(c, c, g_, 1.0)) if inner == "Bottleneck" else (lambda c: pc.res_v7(c, c, g_, inner_e))
        return pc.csp_v7(form, c1, b["c2"], b["n"], float(b["e"]), one)

    def hidden(c2: int, b: Mapping[str, Any]) -> int:
        c_ = int(c2 * float(b.get("e", 0.5))) if width == "c2 x e" else int(c2)
        return int(c_ * inner_e)

    declare(
        name,
        f"{LAYERS}:{name}",
        dialect=V7,
        args=(
            C1,
            C2,
            N,
            Arg("shortcut", "bool", default=shortcut, doc="residual connections in the inner blocks"),
            Arg("g", "int", default=g, low=1, doc="groups of the inner blocks' 3x3 convs"),
            Arg("e", "float", default=0.5, valid=positive, doc="hidden channels / c2" + (" (not used: they are c2)" if width == "c2" else "")),
        ),
        repeat="arg",
        out_channels=out_arg("c2"),
        params=params,
        doc=doc,
        groups=lambda c1, c2, b: [(f"the hidden channels of its inner blocks ({width}{f' x {inner_e}' if inner_e != 1 else ''})", hidden(c2, b))],
    )


_csp("BottleneckCSPA", "CSP stage A: 1x1 branches, one through n Bottlenecks, concatenated, 1x1 out (hidden c2 x e).", True, 1, "c2 x e", 1.0)
_csp("BottleneckCSPB", "CSP stage B: 1x1 conv to c2, split into n Bottlenecks and a 1x1 conv, concatenated, 1x1 out.", False, 1, "c2", 1.0)
_csp("BottleneckCSPC", "CSP stage C: as A with a 1x1 conv after the Bottlenecks.", True, 1, "c2 x e", 1.0)
_csp("ResCSPA", "CSP stage A over n Res blocks (1x1, 3x3, 1x1; expansion 0.5).", True, 1, "c2 x e", 0.5)
_csp("ResCSPB", "CSP stage B over n Res blocks (expansion 0.5); residual by default.", True, 1, "c2", 0.5)
_csp("ResCSPC", "CSP stage C over n Res blocks (expansion 0.5).", True, 1, "c2 x e", 0.5)
_csp("ResXCSPA", "CSP stage A over n ResNeXt blocks (grouped 3x3, g=32).", True, 32, "c2 x e", 1.0)
_csp("ResXCSPB", "CSP stage B over n ResNeXt blocks (grouped 3x3, g=32).", True, 32, "c2", 1.0)
_csp("ResXCSPC", "CSP stage C over n ResNeXt blocks (grouped 3x3, g=32).", True, 32, "c2 x e", 1.0)
declare(
    "Res",
    f"{LAYERS}:Res",
    dialect=V7,
    args=(C1, C2, Arg("shortcut", "bool", default=True, doc="residual when c1 == c2"), G, E),
    out_channels=out_arg("c2"),
    params=lambda c1, b: pc.res_v7(c1, b["c2"], b["g"], b["e"]),
    doc="ResNet bottleneck: 1x1 conv to c2 x e, 3x3 (grouped) conv, 1x1 conv to c2; residual when c1 == c2.",
    groups=lambda c1, c2, b: [("the hidden channels (c2 x e)", int(c2 * float(b.get("e", 0.5))))],
)

# --- heads ---------------------------------------------------------------------------------------------------------


def _anchors_for(levels_per_input: int) -> Any:
    """An int `anchors` is anchors per level: placeholder sizes 0..2a-1 for every level (IAuxDetect: one level
    per lead input, half its inputs)."""

    def prepare(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
        if n_inputs % levels_per_input:
            raise ValueError(f"it takes its inputs in {levels_per_input} runs of one per level (lead P3.., then auxiliary P3..), not {n_inputs}")
        a = args.get("anchors")
        if isinstance(a, int) and not isinstance(a, bool):
            args = dict(args)
            args["anchors"] = [list(range(a * 2))] * (n_inputs // levels_per_input)
        return args

    return prepare


NC = Arg("nc", "int", default=80, doc="number of classes")
ANCHORS = Arg("anchors", "int|list", default=(), doc="anchor sizes per level [[w, h, ...], ...], or anchors per level")
CH = Arg("ch", "list", default=(), fill=FILL_C1S, doc="input channels per level (filled by the compiler)")
HEADS = "blocks.yolov7.heads"

declare(
    "Detect",
    f"{HEADS}:Detect",
    dialect=V7,
    args=(NC, ANCHORS, CH),
    inputs="list",
    role="head",
    prepare=_anchors_for(1),
    params=lambda c1, b: pc.detect_v5(c1, b["nc"], b["anchors"]),
    doc="YOLOv7's anchor detection head (YOLOv5's, with the pixel anchors kept as the buffer anchor_grid).",
)
declare(
    "IDetect",
    f"{HEADS}:IDetect",
    dialect=V7,
    args=(NC, ANCHORS, CH),
    inputs="list",
    role="head",
    prepare=_anchors_for(1),
    params=lambda c1, b: pc.idetect_v7(c1, b["nc"], b["anchors"]),
    doc="Detect with implicit knowledge (ImplicitA before, ImplicitM after each level's conv); fuse() folds them in.",
)
declare(
    "IAuxDetect",
    f"{HEADS}:IAuxDetect",
    dialect=V7,
    args=(NC, ANCHORS, CH),
    inputs="list",
    role="head",
    prepare=_anchors_for(2),
    level_sets=level_sets_of(2),
    params=lambda c1, b: pc.idetect_v7(c1, b["nc"], b["anchors"], aux=True),
    doc="IDetect over the lead levels plus plain convs over as many auxiliary levels (inputs: lead P3.., then aux P3..); eval decodes the lead.",
)
for _name, _mean in (("ImplicitA", 0.0), ("ImplicitM", 1.0)):
    declare(
        _name,
        f"{HEADS}:{_name}",
        dialect=V7,
        args=(
            Arg("channel", "int|none", default=None, check=CHECK_C1, low=1, doc="channels; checked against the input, filled when left out"),
            Arg("mean", "float", default=_mean, doc="initial mean"),
            Arg("std", "float", default=0.02, low=0, doc="initial standard deviation"),
        ),
        out_channels=lambda c1, args: int(c1),
        params=lambda c1, b: int(c1),
        doc=("A learned per-channel offset, added" if _mean == 0 else "A learned per-channel scale, multiplied") + " (YOLOR's implicit knowledge).",
    )

# --- YOLOv5's layers with one activation per conv ----------------------------------------------------------------

for _name in ("Bottleneck", "SPP"):
    _v5 = lookup(_name, None)
    assert _v5 is not None and _v5.source == v5.COMMON
    declare(
        _name,
        f"{LAYERS}:{_name}",
        dialect=V7,
        args=_v5.args,
        out_channels=_v5.out_channels,
        stride=_v5.stride,
        groups=_v5.groups,
        params=_v5.params,
        doc=_v5.doc + " (YOLOv5's module; each conv has its own activation, as YOLOv7 builds it)",
    )
