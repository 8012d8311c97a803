"""Declarations of the Ultralytics-dialect feature layers (ultralytics 8.4's parse_model rules).

- Every layer here gets its input channels filled (c1) and its first YAML argument (c2) width-scaled by the
  Ultralytics rule (make_divisible(min(c2, max_channels) * width, 8)).
- The CSP stages (C1, C2, C2f, C3k2, C3k, C2PSA, C2fPSA, C2fCIB, A2C2f, BottleneckCSP) take the scaled depth
  as their `n` argument; the other layers are repeated as n copies in an nn.Sequential.
- Scale-dependent arguments, measured on the package's built models: C3k2 uses C3k inner blocks (c3k=True)
  at scales m, l and x; A2C2f is residual with mlp_ratio 1.2 at scales l and x.
- Layers whose Ultralytics form equals YOLOv5's (Conv, DWConv, GhostConv, Focus, GhostBottleneck, SPP, C3,
  C3x, C3TR, C3Ghost, Concat) are not redeclared: the shared YOLOv5 declarations serve both dialects.
  Bottleneck, BottleneckCSP and SPPF differ (two 3x3 convs; SPPF takes a pool count and a shortcut, and a
  row that states the pool count gets a first conv without activation) and are declared here.

The channel rules of the attention layers (PSA heads: one per 64 of c x e channels, which they must divide;
A2C2f: c2 x e a multiple of 32, with or without attention; C2PSA/C2fPSA/PSA keep their channels) are checked statically in
yamlnet/graph/checks.py (YN303, YN301); the area-attention size rule is declared here (YN404).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from blocks.yolov5 import counts as pc
from blocks.yolov5.decl import positive  # the shared value rules
from yamlnet.registry import (
    FILL_C1,
    FILL_N,
    REQUIRED,
    Arg,
    Scaling,
    SizeError,
    SizeRule,
    axes,
    conv_out,
    conv_size,
    declare,
    odd_kernel,
    out_arg,
    stride_arg,
    transpose_out,
)

UL = "ultralytics"
LAYERS = "blocks.ultralytics.layers"

C1 = Arg("c1", "int", fill=FILL_C1, doc="input channels (filled by the compiler)")
C2 = Arg("c2", "int", width=True, low=1, doc="output channels; make_divisible(min(c2, max_channels) * width, 8)")
N = Arg("n", "int", default=1, fill=FILL_N, doc="number of inner blocks (the row's depth after depth scaling)")
G = Arg("g", "int", default=1, low=1, doc="groups of the inner convs")
E = Arg("e", "float", default=0.5, valid=positive, doc="hidden channels as a fraction of c2")
SHORTCUT = Arg("shortcut", "bool", default=True, doc="residual connection in the inner blocks")
NO_SHORTCUT = Arg("shortcut", "bool", default=False, doc="residual connection in the inner blocks")


# --- scale-dependent arguments ------------------------------------------------------------------------------


def _c3k2_scale(bound: dict[str, Any], sc: Scaling) -> dict[str, Any]:
    """Scales m, l and x use C3k inner blocks in every C3k2 (YOLO11, YOLO12, YOLO26)."""
    if sc.scale in ("m", "l", "x"):
        bound["c3k"] = True
    return bound


def _a2c2f_scale(bound: dict[str, Any], sc: Scaling) -> dict[str, Any]:
    """Scales l and x make every A2C2f residual (a learned per-channel scale) with an MLP ratio of 1.2."""
    if sc.scale in ("l", "x"):
        bound["residual"] = True
        bound["mlp_ratio"] = 1.2
    return bound


def _area_multiple(b: Mapping[str, Any]) -> int:
    """Area attention cuts the h*w pixels into `area` runs: a side multiple of m with m*m divisible by area
    makes h*w divisible by area at every aspect ratio."""
    area = int(b.get("area", 1) or 1)
    if not b.get("a2", True) or area <= 1:
        return 1
    return next(m for m in range(1, area + 1) if (m * m) % area == 0)


def _upsample_stride(b: Mapping[str, Any]) -> Fraction:
    return Fraction(1, int(b["s"]))


def _bottleneck_size(b: Mapping[str, Any], hw: tuple[int, int]) -> tuple[int, int]:
    """Two stride-1 convs padded by k // 2 (an even kernel grows the map by one); the residual add (shortcut and
    c1 == c2) needs the size kept."""
    k1, k2 = axes(b["k"])
    out = (conv_out(conv_out(hw[0], k1), k2), conv_out(conv_out(hw[1], k1), k2))
    if b.get("shortcut") and b.get("c1") == b.get("c2") and out != hw:
        raise SizeError(f"its residual add joins the {hw[0]}x{hw[1]} input with a {out[0]}x{out[1]} output (kernels {k1}, {k2})", "k")
    return out


def _transpose_size(b: Mapping[str, Any], hw: tuple[int, int]) -> tuple[int, int]:
    k, s, p = int(b["k"]), int(b["s"]), int(b["p"])
    return (transpose_out(hw[0], k, s, p), transpose_out(hw[1], k, s, p))


def _c3k2_inner(h: int, b: Mapping[str, Any]) -> int:
    """Parameters of one inner block of C3k2 on h channels: Bottleneck (+ PSA attention), or a C3k of 2."""
    if b.get("attn"):
        return pc.bottleneck_ul(h, h, b["g"]) + pc.attention_block(h)
    if b.get("c3k"):
        return pc.c3(h, h, 2, b["g"], 0.5, lambda c: pc.bottleneck_ul(c, c, b["g"], (3, 3), 1.0))
    return pc.bottleneck_ul(h, h, b["g"])


# --- declarations ------------------------------------------------------------------------------------------


def _hidden(c2: int, b: Mapping[str, Any]) -> int:
    return int(c2 * float(b.get("e", 0.5)))


def _hidden_groups(c1: int, c2: int, b: Mapping[str, Any]) -> list[tuple[str, int]]:
    """`g` groups the 3x3 convs of the inner blocks, on the hidden channels c2 x e."""
    return [("the hidden channels (c2 x e)", _hidden(c2, b))]


def _psa_heads(c: int, b: Mapping[str, Any]) -> list[tuple[int, str, int]]:
    """PSA attention: one head per 64 of its c x e channels (at least one), which they must divide."""
    h = _hidden(c, b)
    n = max(h // 64, 1)
    return [(n, f"{n} attention heads (one per 64 channels) do not divide its {h} attention channels (c x e)", h)]


def _a2c2f_heads(c1: int, c2: int, b: Mapping[str, Any]) -> list[tuple[int, str, int]]:
    """Area attention works on heads of 32 channels: c2 x e must be a multiple of 32 (the package asserts it
    with or without attention)."""
    h = _hidden(c2, b)
    return [(32, f"area attention needs c2 x e ({h}) to be a multiple of 32 (32 channels per head)", h)]


# the package builds its Detect-family heads with the YOLOv8-era class branch unless one of these rows precedes them
NOT_LEGACY = (("legacy", False),)

declare(
    "Bottleneck",
    f"{LAYERS}:Bottleneck",
    dialect=UL,
    args=(C1, C2, SHORTCUT, G, Arg("k", "list", default=(3, 3), low=1, doc="kernel sizes of the two convs"), E),
    out_channels=out_arg("c2"),
    size=_bottleneck_size,
    doc="Two convs (3x3 and 3x3 by default) through c2*e channels, residual when c1 == c2.",
    groups=lambda c1, c2, b: [("the hidden channels (c2 x e)", _hidden(c2, b)), ("the output channels", c2)],
    params=lambda c1, b: pc.bottleneck_ul(c1, b["c2"], b["g"], b["k"], b["e"]),
)
declare(
    "BottleneckCSP",
    f"{LAYERS}:BottleneckCSP",
    dialect=UL,
    args=(C1, C2, N, SHORTCUT, G, E),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="CSPNet stage of n Bottlenecks (two 3x3 convs each).",
    groups=_hidden_groups,
)
declare(
    "SPPF",
    f"{LAYERS}:SPPF",
    dialect=UL,
    args=(
        C1,
        C2,
        Arg("k", "int", default=5, low=1, valid=odd_kernel, doc="max-pool kernel size (odd: the pools' outputs are joined)"),
        Arg("n", "int|none", default=None, low=1, doc="number of chained max pools; left out: 3, and the first conv keeps its activation"),
        Arg("shortcut", "bool", default=False, doc="add the input to the output (when c1 == c2)"),
    ),
    out_channels=out_arg("c2"),
    doc="Fast SPP: 1x1 Conv, n chained max pools, all concatenated, 1x1 Conv; optional residual (n stated: no activation on the first conv).",
    params=lambda c1, b: pc.conv(c1, c1 // 2, 1) + pc.conv(c1 // 2 * ((3 if b["n"] is None else b["n"]) + 1), b["c2"], 1),
)
declare(
    "C1",
    f"{LAYERS}:C1",
    dialect=UL,
    args=(C1, C2, N),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="1x1 Conv then n 3x3 Convs with a residual around them.",
)
declare(
    "C2",
    f"{LAYERS}:C2",
    dialect=UL,
    args=(C1, C2, N, SHORTCUT, G, E),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="CSP stage with two Convs; one half goes through n Bottlenecks.",
    groups=_hidden_groups,
)
declare(
    "C2f",
    f"{LAYERS}:C2f",
    dialect=UL,
    args=(C1, C2, N, NO_SHORTCUT, G, E),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="YOLOv8's CSP stage: a split 1x1 Conv, n Bottlenecks, every output concatenated into a 1x1 Conv.",
    groups=_hidden_groups,
    params=lambda c1, b: pc.split_stage(c1, b["c2"], b["n"], b["e"], lambda h: pc.bottleneck_ul(h, h, b["g"], (3, 3), 1.0)),
)
declare(
    "C3k2",
    f"{LAYERS}:C3k2",
    dialect=UL,
    args=(
        C1,
        C2,
        N,
        Arg("c3k", "bool", default=False, doc="C3k inner blocks instead of Bottlenecks (forced True at scales m/l/x)"),
        E,
        Arg("attn", "bool", default=False, doc="a Bottleneck plus a PSA attention block as each inner block (YOLO26)"),
        G,
        SHORTCUT,
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    scale_args=_c3k2_scale,
    doc="YOLO11's CSP stage: C2f with Bottleneck, C3k or Bottleneck+attention inner blocks.",
    implies=NOT_LEGACY,
    groups=lambda c1, c2, b: [("half the hidden channels (c2 x e / 2)", _hidden(c2, b) // 2)],
    heads=lambda c1, c2, b: _psa_heads(c2, b) if b.get("attn") else [],
    params=lambda c1, b: pc.split_stage(c1, b["c2"], b["n"], b["e"], lambda h: _c3k2_inner(h, b)),
)
declare(
    "C3k",
    f"{LAYERS}:C3k",
    dialect=UL,
    args=(C1, C2, N, SHORTCUT, G, E, Arg("k", "int", default=3, low=1, valid=odd_kernel, doc="kernel size of the Bottlenecks' convs (odd)")),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="C3 whose n Bottlenecks use two k x k convs (C3k2's inner block).",
    groups=_hidden_groups,
    params=lambda c1, b: pc.c3(c1, b["c2"], b["n"], b["g"], b["e"], lambda c: pc.bottleneck_ul(c, c, b["g"], (b["k"], b["k"]), 1.0)),
)
declare(
    "C2PSA",
    f"{LAYERS}:C2PSA",
    dialect=UL,
    args=(C1, C2, N, E),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="Split 1x1 Conv; one half through n PSA attention blocks; 1x1 Conv (needs c1 == c2).",
    heads=lambda c1, c2, b: _psa_heads(c1, b),
    keeps_channels=True,
    params=lambda c1, b: pc.conv(c1, 2 * int(c1 * b["e"]), 1) + pc.conv(2 * int(c1 * b["e"]), c1, 1) + b["n"] * pc.attention_block(int(c1 * b["e"])),
)
declare(
    "C2fPSA",
    f"{LAYERS}:C2fPSA",
    dialect=UL,
    args=(C1, C2, N, E),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="C2f with PSA attention blocks as its inner blocks (needs c1 == c2).",
    heads=lambda c1, c2, b: _psa_heads(c1, b),
    keeps_channels=True,
)
declare(
    "PSA",
    f"{LAYERS}:PSA",
    dialect=UL,
    args=(C1, C2, E),
    out_channels=out_arg("c2"),
    doc="YOLOv10's partial self-attention: half the channels get attention and a feed-forward (needs c1 == c2).",
    heads=lambda c1, c2, b: _psa_heads(c1, b),
    keeps_channels=True,
)
declare(
    "SCDown",
    f"{LAYERS}:SCDown",
    dialect=UL,
    args=(
        C1,
        C2,
        Arg("k", "int", default=REQUIRED, low=1, doc="kernel size of the depth-wise conv"),
        Arg("s", "int", default=REQUIRED, low=1, doc="stride"),
    ),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    size=conv_size("k", "s", None, None),
    doc="YOLOv10's downsampling: 1x1 Conv to c2, then a depth-wise k x k stride-s Conv.",
    params=lambda c1, b: pc.conv(c1, b["c2"], 1) + pc.conv(b["c2"], b["c2"], b["k"], b["c2"]),
)
declare(
    "C2fCIB",
    f"{LAYERS}:C2fCIB",
    dialect=UL,
    args=(C1, C2, N, NO_SHORTCUT, Arg("lk", "bool", default=False, doc="large-kernel (7x7 RepVGG) depth-wise conv inside"), G, E),
    repeat="arg",
    out_channels=out_arg("c2"),
    doc="YOLOv10's CSP stage: C2f with compact inverted blocks.",
    implies=NOT_LEGACY,
    groups=_hidden_groups,
)
declare(
    "A2C2f",
    f"{LAYERS}:A2C2f",
    dialect=UL,
    args=(
        C1,
        C2,
        N,
        Arg("a2", "bool", default=True, doc="area-attention inner blocks (False: C3k)"),
        Arg("area", "int", default=1, doc="number of areas the pixels are cut into for attention"),
        Arg("residual", "bool", default=False, doc="add the input, scaled per channel (forced True at scales l/x)"),
        Arg("mlp_ratio", "float", default=2.0, valid=positive, doc="MLP width of the attention blocks (1.2 at scales l/x)"),
        E,
        G,
        SHORTCUT,
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    scale_args=_a2c2f_scale,
    sizes=(SizeRule(multiple=_area_multiple, why="area attention cuts each feature map's pixels into `area` equal parts"),),
    doc="YOLOv12's stage: n pairs of area-attention blocks (or C3k), every output concatenated into a 1x1 Conv.",
    implies=NOT_LEGACY,
    groups=lambda c1, c2, b: [] if b.get("a2", True) else [("half the hidden channels (c2 x e / 2)", _hidden(c2, b) // 2)],
    heads=_a2c2f_heads,
)
declare(
    "ConvTranspose",
    f"{LAYERS}:ConvTranspose",
    dialect=UL,
    args=(
        C1,
        C2,
        Arg("k", "int", default=2, low=1, doc="kernel size"),
        Arg("s", "int", default=2, low=1, doc="upsampling factor"),
        Arg("p", "int", default=0, low=0, doc="padding"),
        Arg("bn", "bool", default=True, doc="BatchNorm after the conv (else the conv has a bias)"),
        Arg("act", "bool", default=True, doc="True: the default activation; False: none"),
    ),
    out_channels=out_arg("c2"),
    stride=_upsample_stride,
    size=_transpose_size,
    doc="Transposed conv + BatchNorm + activation; upsamples by s.",
    params=lambda c1, b: pc.conv2d(c1, b["c2"], b["k"]) + (2 if b["bn"] else 1) * b["c2"] + pc.act_params(b["act"]),
)
