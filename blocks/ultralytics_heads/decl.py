"""Declarations of the Ultralytics-dialect heads, following ultralytics 8.4.190's parse rules.

- The Detect family (Detect, Segment, Pose, OBB and the YOLO26 forms) takes its YAML arguments, then the
  spec's top-level `reg_max` (default 16) and `end2end` (default off), then the list of input channels.
- `legacy` picks the YOLOv8-era class branch (two 3x3 Convs) over the depth-wise one. The package decides it
  per model: legacy unless a C3k2, A2C2f or C2fCIB row comes before the head. It is filled from the header
  key `legacy`, which the compiler derives that way when the spec does not state it.
- Segment's prototype channels `npr` are width-scaled like a layer's c2: make_divisible(min(npr, max_channels)
  * width, 8); nm, ne, kpt_shape and nc are not scaled.
- v10Detect takes only nc and the input channels (reg_max 16, one-to-one branch always).
- Classify [c2, k, s, p, g] gets its input channels filled; its c2 (the classes) is never width-scaled.
- Depth [c_mid] (not scaled) and SemanticSegment [nc] take the list of input channels.
"""

from __future__ import annotations

import math
from typing import Any

from blocks.yolov5.counts import detect_ul
from yamlnet.registry import FILL_C1, FILL_C1S, REQUIRED, Arg, Scaling, declare

UL = "ultralytics"
DETECT = "blocks.ultralytics_heads.detect"
DENSE = "blocks.ultralytics_heads.dense"


def _scale_channels(value: Any, sc: Scaling) -> Any:
    """Ultralytics' width rule for a channel count: make_divisible(min(v, max_channels) * width, 8)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    return int(math.ceil(min(value, sc.max_channels) * sc.width / 8) * 8)


NC = Arg("nc", "int", default=80, doc="number of classes (not width-scaled)")
REG_MAX = Arg("reg_max", "int", default=16, fill="header:reg_max", doc="DFL bins per box side; from the spec's `reg_max` (1: direct regression)")
END2END = Arg("end2end", "bool|none", default=False, fill="header:end2end", doc="add the one-to-one (NMS-free) branch; from the spec's `end2end`")
CH = Arg("ch", "list", fill=FILL_C1S, doc="channels of the input levels (filled)")
LEGACY = Arg(
    "legacy",
    "bool",
    default=True,
    fill="header:legacy",
    doc="YOLOv8-era class branch; derived: legacy unless a C3k2, A2C2f or C2fCIB row precedes the head",
)
NM = Arg("nm", "int", default=32, doc="number of masks (prototypes)")
NPR = Arg("npr", "int", default=256, width=_scale_channels, doc="prototype channels, width-scaled like c2")
KPT_SHAPE = Arg(
    "kpt_shape", "list", default=(17, 3), doc="[keypoints, dims]: dims 2 (x, y) or 3 (x, y, visibility); usually `kpt_shape` from the spec"
)
NE = Arg("ne", "int", default=1, doc="number of angle outputs")

_HEAD = {"dialect": UL, "inputs": "list", "role": "head", "out_channels": None}
_TAIL = (REG_MAX, END2END, CH, LEGACY)

declare(
    "Detect",
    f"{DETECT}:Detect",
    args=(NC, *_TAIL),
    doc="Anchor-free detection head (DFL boxes, class logits; decoded in eval).",
    params=lambda ch, b: detect_ul(ch, b),
    **_HEAD,
)
declare("Segment", f"{DETECT}:Segment", args=(NC, NM, NPR, *_TAIL), doc="Detect plus mask coefficients and mask prototypes.", **_HEAD)
declare(
    "Segment26",
    f"{DETECT}:Segment26",
    args=(NC, NM, NPR, *_TAIL),
    doc="YOLO26 Segment: prototypes from all levels, semantic auxiliary output in training.",
    **_HEAD,
)
declare("Pose", f"{DETECT}:Pose", args=(NC, KPT_SHAPE, *_TAIL), doc="Detect plus keypoints.", **_HEAD)
declare(
    "Pose26",
    f"{DETECT}:Pose26",
    args=(NC, KPT_SHAPE, *_TAIL),
    doc="YOLO26 Pose: keypoints with uncertainties and a RealNVP flow for the loss.",
    **_HEAD,
)
declare("OBB", f"{DETECT}:OBB", args=(NC, NE, *_TAIL), doc="Detect plus rotation angles (oriented boxes).", **_HEAD)
declare("OBB26", f"{DETECT}:OBB26", args=(NC, NE, *_TAIL), doc="YOLO26 OBB: raw angle outputs.", **_HEAD)
declare("v10Detect", f"{DETECT}:v10Detect", args=(NC, CH), doc="YOLOv10 head: one-to-many and one-to-one branches, light class branch.", **_HEAD)

declare(
    "Classify",
    f"{DENSE}:Classify",
    dialect=UL,
    args=(
        Arg("c1", "int", fill=FILL_C1, doc="input channels (filled)"),
        Arg("c2", "int", default=REQUIRED, doc="number of classes (not width-scaled)"),
        Arg("k", "int", default=1, doc="kernel size of the 1280-channel Conv"),
        Arg("s", "int", default=1, doc="stride of that Conv"),
        Arg("p", "int|none", default=None, doc="padding of that Conv"),
        Arg("g", "int", default=1, doc="groups of that Conv"),
    ),
    role="head",
    out_channels=None,
    doc="Classification head: Conv to 1280, global pool, linear; eval returns (probabilities, logits).",
    groups=lambda c1, c2, b: [("the input channels", c1), ("the 1280 channels of its conv", 1280)],
)
declare(
    "Depth",
    f"{DENSE}:Depth",
    args=(Arg("c_mid", "int", default=256, doc="decoder channels (not width-scaled)"), CH),
    doc="Monocular depth head: levels fused top-down, upsampled to stride 4, one positive depth channel.",
    **_HEAD,
)
declare(
    "SemanticSegment",
    f"{DENSE}:SemanticSegment",
    args=(Arg("nc", "int", default=19, doc="number of classes"), CH),
    doc="Per-pixel class logits from the first level (stride 8), auxiliary logits from the second in training.",
    **_HEAD,
)
