"""Declarations of the YOLOv9 (original, WongKinYiu/yolov9) dialect, following that repository's parse rules:

- Conv is YOLOv5's `[c2, k, s, p, g, d, act]` (the shared declaration; dilation before the activation).
- RepNCSPELAN4 `[c2, c3, c4, c5]`, ELAN1 `[c2, c3, c4]`, SPPELAN `[c2, c3]`, ADown/AConv `[c2]`, CBLinear
  `[[c2s]]`, CBFuse `[[idx]]` are built by the Ultralytics dialect's implementations (blocks.yolov9.layers):
  the repository's constructors take the same arguments. Their declarations here are the Ultralytics ones,
  re-registered for this dialect; the width rule is YOLOv5's (make_divisible(c2 * width, 8), a count equal to
  na * (nc + 5) left as is), as the repository's parse_model scales.
- MP `[]`, SP `[k, s]` and SPPCSPC `[c2]` (the depth inserted after c2) are the YOLOv7 dialect's
  (blocks.yolov7.layers), as the repository's yolov7-af files use them.
- Silence `[]` passes its input on (row 0: the image, so later rows can start a second branch from `0`).
- The heads take `[nc]` (Segment, DSegment, DualDSegment `[nc, nm, npr]`, Panoptic `[nc, sem_nc, nm, npr]`)
  and then the list of input channels; they are anchor-free (no `anchors` argument: the repository's own
  parse fails on a YOLOv5-era `Detect [nc, anchors]` row). The argument at position 2 (npr; Panoptic's nm)
  is width-scaled by make_divisible(v * width, 8), as the repository scales it.

- DualDDetect takes its inputs as two sets of levels (auxiliary, then main), TripleDDetect three; DSegment
  adds the prototype input after its levels, DualDSegment two (one per set).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from blocks.yolov9_original import counts as pc
from yamlnet import registry
from yamlnet.registry import FILL_C1S, Arg, Scaling, declare, out_same

V9 = "yolov9"
HEADS = "blocks.yolov9_original.heads"
LAYERS = "blocks.yolov9_original.layers"

# The GELAN layers: the Ultralytics dialect's declarations (same arguments, same implementations).
SHARED_WITH_ULTRALYTICS = ("RepNCSPELAN4", "ELAN1", "ADown", "AConv", "SPPELAN", "CBLinear", "CBFuse")


# YOLOv7's pooling layers and SPPCSPC (yolov7-af*): the YOLOv7 dialect's declarations and implementations.
SHARED_WITH_YOLOV7 = ("MP", "SP", "SPPCSPC")


C2_DOC = "output channels, width-scaled as the repository does (make_divisible(c2 * width_multiple, 8))"


def _reuse(dialect: str, names: Sequence[str]) -> None:
    """Register another dialect's declarations of `names` for this dialect too (same arguments, same module)."""
    import blocks.yolov7.decl  # noqa: F401  - registers the declarations this dialect shares
    import blocks.yolov9.decl  # noqa: F401

    for name in names:
        decl = registry.lookup(name, dialect)
        if decl is None or decl.dialect != dialect:  # pragma: no cover - the other dialect lost the block
            raise RuntimeError(f"the {dialect} dialect has no {name} to share with {V9}")
        args = tuple(dataclasses.replace(a, doc=C2_DOC) if a.name == "c2" and a.width is True else a for a in decl.args)
        registry.register(dataclasses.replace(decl, dialect=V9, args=args, source=__name__))


_reuse("ultralytics", SHARED_WITH_ULTRALYTICS)
_reuse("yolov7", SHARED_WITH_YOLOV7)

# Three of them are built by subclasses that give the module tree the repository's shape (SP wrappers in
# SPPELAN, the shared activations of RepNCSPELAN4's RepConvs and of SPPCSPC's convs): same arguments,
# parameters, keys and outputs, so `model.modules()` counts what the repository's model counts.
for _name in ("RepNCSPELAN4", "SPPELAN", "SPPCSPC"):
    _decl = registry.lookup(_name, V9)
    assert _decl is not None
    registry.register(dataclasses.replace(_decl, impl=f"{LAYERS}:{_name}"), replace=True)

# Their parameter counts (so validation applies the parameter limit without building them; MP, SP and SPPCSPC
# carry the YOLOv7 declarations' own). Their sizes are the shared declarations': ADown, AConv and CBLinear
# declare theirs, the stride-1 GELAN stages keep the size (3x3 convs, SPPELAN's odd pools), and CBFuse's output
# is its last input's size (yamlnet/graph/sizes.py takes a picking block's size from its last input).
GELAN_PARAMS: dict[str, registry.Params] = {
    "RepNCSPELAN4": lambda c1, b: pc.repncspelan4(c1, b["c2"], b["c3"], b["c4"], b["n"]),
    "ELAN1": lambda c1, b: pc.elan1(c1, b["c2"], b["c3"], b["c4"]),
    "ADown": lambda c1, b: pc.adown(c1, b["c2"]),
    "AConv": lambda c1, b: pc.conv(c1, b["c2"], 3),
    "SPPELAN": lambda c1, b: pc.sppelan(c1, b["c2"], b["c3"]),
    "CBLinear": pc.cblinear,
    "CBFuse": lambda c1, b: 0,
}
for _name, _count in GELAN_PARAMS.items():
    _decl = registry.lookup(_name, V9)
    assert _decl is not None and _decl.dialect == V9
    registry.register(dataclasses.replace(_decl, params=_count), replace=True)

declare(
    "Silence",
    f"{LAYERS}:Silence",
    dialect=V9,
    args=(),
    out_channels=out_same,
    params=lambda c1, b: 0,
    doc="Identity: at row 0 it stands for the input image, so that a second (auxiliary) branch can start from `0`. []",
)


# --- heads -------------------------------------------------------------------------------------------------


def _width_v9(value: Any, sc: Scaling) -> Any:
    """The repository's rule for a head's channel argument: make_divisible(v * width, 8), no exception."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    return int(math.ceil(value * sc.width / 8) * 8)


NC = Arg("nc", "int", default=80, doc="number of classes")
CH = Arg("ch", "list", fill=FILL_C1S, doc="channels of the inputs (filled by the compiler)")
NM = Arg("nm", "int", default=32, low=1, doc="number of masks (prototypes)")
NPR = Arg("npr", "int", default=256, low=1, width=_width_v9, doc="prototype channels, width-scaled (make_divisible(npr * width, 8))")
SEM_NC = Arg("sem_nc", "int", default=93, low=1, doc="number of semantic (stuff) classes; the semantic map has sem_nc + nc channels")
# Panoptic [nc, sem_nc, nm, npr]: the repository scales the row's third argument, which is nm there, not npr
NM_SCALED = dataclasses.replace(NM, width=_width_v9, doc="number of masks, width-scaled (the repository scales the third argument)")
NPR_PLAIN = dataclasses.replace(NPR, width=False, doc="prototype channels (not scaled in Panoptic's row)")


_sets = registry.level_sets_of  # inputs as k sets of levels, then `extra` single inputs (prototype sources)


def _count_check(k: int, extra: int, what: str) -> registry.Prepare:
    def prepare(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
        levels = n_inputs - extra
        if levels < k or levels % k:
            raise ValueError(f"its inputs are {what}: {n_inputs} inputs do not split that way")
        return args

    return prepare


def _head(name: str, doc: str, args: tuple[Arg, ...], params: registry.Params, sets: int = 1, extra: int = 0, what: str = "") -> None:
    declare(
        name,
        f"{HEADS}:{name}",
        dialect=V9,
        args=args,
        inputs="list",
        role="head",
        out_channels=None,
        level_sets=_sets(sets, extra) if (sets > 1 or extra) else None,
        prepare=_count_check(sets, extra, what) if (sets > 1 or extra) else None,
        params=params,
        doc=doc,
    )


_head(
    "Detect",
    "YOLOv9-repository anchor-free head (yolov7-af): DFL boxes and class logits per level. [nc]",
    (NC, CH),
    lambda c1, b: pc.detect(c1, b["nc"]),
)
_head("DDetect", "GELAN detection head: Detect with grouped (g=4) box convs. [nc]", (NC, CH), lambda c1, b: pc.detect(c1, b["nc"], grouped=True))
_head(
    "DualDDetect",
    "YOLOv9 head over two sets of levels (auxiliary, then main); eval decodes both. [nc]",
    (NC, CH),
    lambda c1, b: pc.detect(c1, b["nc"], sets=2, grouped=True),
    sets=2,
    what="two sets of levels (auxiliary P3..P5, then main P3..P5)",
)
_head(
    "TripleDDetect",
    "YOLOv9 head over three sets of levels; eval decodes the third only. [nc]",
    (NC, CH),
    lambda c1, b: pc.detect(c1, b["nc"], sets=3, grouped=True),
    sets=3,
    what="three sets of levels",
)
_head("Segment", "Detect plus mask coefficients and prototypes from the first level. [nc, nm, npr]", (NC, NM, NPR, CH), pc.segment)
_head(
    "DSegment",
    "DDetect plus mask coefficients; prototypes are a 1x1 Conv of the last input. [nc, nm, npr]",
    (NC, NM, NPR, CH),
    pc.dsegment,
    extra=1,
    what="the levels, then the prototype input",
)
_head(
    "DualDSegment",
    "DualDDetect plus mask coefficients per set; prototypes from the last two inputs; eval keeps the main set. [nc, nm, npr]",
    (NC, NM, NPR, CH),
    pc.dualdsegment,
    sets=2,
    extra=2,
    what="two sets of levels, then one prototype input per set",
)
_head(
    "Panoptic",
    "Segment plus a semantic map over sem_nc + nc classes (2x the first level). [nc, sem_nc, nm, npr]",
    (NC, SEM_NC, NM_SCALED, NPR_PLAIN, CH),
    pc.panoptic,
)
