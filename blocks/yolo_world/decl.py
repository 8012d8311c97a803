"""Declarations of the YOLO-World and YOLOE blocks (Ultralytics dialect), following ultralytics 8.4.190's parse
rules as measured (no torch imported here).

- C2fAttn [c2, ec, nh, gc, shortcut, g, e]: c2 width-scaled like any layer; the heads become
  int(max(round(min(nh, max_channels // 64)) * width, 1)) when nh > 1; the embedding channels `ec` written in the
  row are replaced by the hidden channels int(c2 * e), which the heads must divide; the scaled depth is its `n`.
- ImagePoolingAttn [ec, ct, nh, k, scale]: takes the list of its inputs' channels; nothing is scaled. It returns
  the updated text embeddings (B, K, ct), which the later C2fAttn rows use.
- WorldDetect [nc, embed, with_bn], YOLOEDetect [nc, embed, with_bn], YOLOESegment and YOLOESegment26
  [nc, nm, npr, embed, with_bn]: then the spec's `reg_max` and `end2end` and the input channels, as Detect;
  YOLOE's prototype channels `npr` are width-scaled like a layer's c2; the YOLOE heads take `legacy` as Detect.

Text embeddings are the compiled model's optional second forward argument (see blocks.yolo_world.heads).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from blocks.ultralytics_heads.decl import CH, END2END, LEGACY, NM, NPR, REG_MAX  # the heads below extend those
from yamlnet.registry import FILL_C1, FILL_C1S, FILL_N, Arg, Scaling, declare, out_arg

UL = "ultralytics"
LAYERS = "blocks.yolo_world.layers"
HEADS = "blocks.yolo_world.heads"


def _heads_rule(value: Any, sc: Scaling) -> Any:
    """C2fAttn's head count under the scale: int(max(round(min(nh, max_channels // 2 // 32)) * width, 1)) if nh > 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 1:
        return value
    cap = sc.max_channels // 2 // 32 if math.isfinite(sc.max_channels) else value  # no max_channels: no cap
    return int(max(round(min(value, cap)) * sc.width, 1))


def _c2fattn_scale(bound: dict[str, Any], sc: Scaling) -> dict[str, Any]:
    """The row's `ec` is replaced by the hidden channels int(c2 * e) (c2 already scaled)."""
    bound["ec"] = int(bound["c2"] * float(bound.get("e", 0.5)))
    return bound


def _text_channels(c1: Any, args: Mapping[str, Any]) -> int:
    return int(args["ct"])


declare(
    "C2fAttn",
    f"{LAYERS}:C2fAttn",
    dialect=UL,
    args=(
        Arg("c1", "int", fill=FILL_C1, doc="input channels (filled)"),
        Arg("c2", "int", width=True, doc="output channels; make_divisible(min(c2, max_channels) * width, 8)"),
        Arg("n", "int", default=1, fill=FILL_N, doc="inner bottlenecks (the row's depth after scaling)"),
        Arg("ec", "int", default=128, doc="embedding channels; Ultralytics replaces the value with the hidden channels int(c2 * e)"),
        Arg("nh", "int", default=1, width=_heads_rule, doc="attention heads, scaled: int(max(round(min(nh, max_channels // 64)) * width, 1))"),
        Arg("gc", "int", default=512, doc="size of the text embeddings (guide channels)"),
        Arg("shortcut", "bool", default=False, doc="residual inner bottlenecks"),
        Arg("g", "int", default=1, doc="groups of the inner 3x3 Convs"),
        Arg("e", "float", default=0.5, doc="hidden channels as a fraction of c2"),
    ),
    repeat="arg",
    out_channels=out_arg("c2"),
    scale_args=_c2fattn_scale,
    heads=lambda c1, c2, b: [
        (
            int(b["nh"]),
            f"{int(b['nh'])} attention heads do not divide the hidden channels (c2 x e) ({int(c2 * float(b['e']))})",
            int(c2 * float(b["e"])),
        )
    ],
    text_io="in",
    doc="C2f whose last branch is gated by its similarity with the text embeddings (YOLO-World).",
)

declare(
    "ImagePoolingAttn",
    f"{LAYERS}:ImagePoolingAttn",
    dialect=UL,
    args=(
        Arg("ec", "int", default=256, doc="attention channels (not width-scaled)"),
        Arg("ch", "list", fill=FILL_C1S, doc="channels of the input levels (filled)"),
        Arg("ct", "int", default=512, doc="size of the text embeddings"),
        Arg("nh", "int", default=8, doc="attention heads"),
        Arg("k", "int", default=3, doc="each level is max-pooled to k x k patches"),
        Arg("scale", "bool", default=False, doc="learn a scale for the update (starts at 0)"),
    ),
    inputs="list",
    repeat="none",
    out_channels=_text_channels,
    static_shapes=False,  # it returns text embeddings (B, K, ct), not a feature map: measured on meta
    text_io="update",
    doc="Updates the text embeddings by attending to pooled patches of several levels (YOLO-World); returns (B, K, ct).",
)

NC = Arg("nc", "int", default=80, doc="number of classes before text is given (not width-scaled)")
EMBED = Arg("embed", "int", default=512, doc="size of the text embeddings")
_HEAD = {"dialect": UL, "inputs": "list", "role": "head", "out_channels": None, "repeat": "none"}

declare(
    "WorldDetect",
    f"{HEADS}:WorldDetect",
    args=(NC, EMBED, Arg("with_bn", "bool", default=False, doc="BatchNorm contrastive heads"), REG_MAX, END2END, CH),
    doc="YOLO-World head: Detect whose class logits are similarities with the text embeddings.",
    **_HEAD,
    text_io="original",
)
WITH_BN = Arg("with_bn", "bool", default=True, doc="BatchNorm contrastive heads (YOLOE requires True)")
declare(
    "YOLOEDetect",
    f"{HEADS}:YOLOEDetect",
    args=(NC, EMBED, WITH_BN, REG_MAX, END2END, CH, LEGACY),
    doc="YOLOE head: Detect scored against text or visual prompt embeddings.",
    **_HEAD,
    text_io="original",
)
declare(
    "YOLOESegment",
    f"{HEADS}:YOLOESegment",
    args=(NC, NM, NPR, EMBED, WITH_BN, REG_MAX, END2END, CH, LEGACY),
    doc="YOLOEDetect plus mask coefficients and mask prototypes.",
    **_HEAD,
    text_io="original",
)
declare(
    "YOLOESegment26",
    f"{HEADS}:YOLOESegment26",
    args=(NC, NM, NPR, EMBED, WITH_BN, REG_MAX, END2END, CH, LEGACY),
    doc="YOLOESegment with YOLO26 prototypes from all levels.",
    **_HEAD,
    text_io="original",
)
