"""Parameter counts of the YOLOv9-original dialect's blocks from their arguments (`BlockDecl.params`): the GELAN
layers this dialect shares with Ultralytics (blocks/yolov9/layers.py) and the repository's anchor-free heads
(heads.py). Pure arithmetic on blocks/yolov5/counts.py's conv helpers, no torch;
tests/blocks/test_declared_params.py checks every count against the built block of every reference file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from blocks.yolov5.counts import conv, conv2d

REG_MAX = 16  # DFL bins per box side, fixed in the repository's heads (heads.REG_MAX)


# --- the GELAN layers ----------------------------------------------------------------------------------------


def repconv(c1: int, c2: int) -> int:
    """RepConv (3x3): a 3x3 and a 1x1 Conv+BN in parallel, no identity BN, one activation."""
    return conv(c1, c2, 3, act=False) + conv(c1, c2, 1, act=False)


def repbottleneck(c: int) -> int:
    """RepBottleneck on c channels (e = 1): a RepConv, then a 3x3 Conv."""
    return repconv(c, c) + conv(c, c, 3)


def repcsp(c1: int, c2: int, n: int) -> int:
    """RepCSP: the C3 layout (e = 0.5) with n RepBottlenecks."""
    h = int(c2 * 0.5)
    return 2 * conv(c1, h, 1) + conv(2 * h, c2, 1) + int(n) * repbottleneck(h)


def repncspelan4(c1: int, c2: int, c3: int, c4: int, n: int) -> int:
    """The GELAN stage: a 1x1 Conv to c3, two (RepCSP, 3x3 Conv) stages of width c4, a 1x1 Conv from c3 + 2 c4."""
    stage = lambda c: repcsp(c, c4, n) + conv(c4, c4, 3)  # noqa: E731
    return conv(c1, c3, 1) + stage(c3 // 2) + stage(c4) + conv(c3 + 2 * c4, c2, 1)


def elan1(c1: int, c2: int, c3: int, c4: int) -> int:
    """The light GELAN stage: RepNCSPELAN4's layout with one 3x3 Conv per stage."""
    return conv(c1, c3, 1) + conv(c3 // 2, c4, 3) + conv(c4, c4, 3) + conv(c3 + 2 * c4, c2, 1)


def adown(c1: int, c2: int) -> int:
    """ADown: half the input through a stride-2 3x3 Conv, half through a max pool and a 1x1 Conv, c2 // 2 each."""
    return conv(c1 // 2, c2 // 2, 3) + conv(c1 // 2, c2 // 2, 1)


def sppelan(c1: int, c2: int, c3: int) -> int:
    """SPPELAN: a 1x1 Conv to c3, three pools (no parameters), a 1x1 Conv from 4 c3."""
    return conv(c1, c3, 1) + conv(4 * c3, c2, 1)


def cblinear(c1: int, b: Mapping[str, Any]) -> int:
    """CBLinear: one Conv2d with bias to sum(c2s) channels."""
    return conv2d(c1, sum(int(c) for c in b["c2s"]), b["k"], b["g"], bias=True)


# --- the heads -----------------------------------------------------------------------------------------------


def _round4(x: int) -> int:
    return -(-x // 4) * 4


def detect_set(level: Sequence[int], nc: int, grouped: bool) -> int:
    """One set of a DFL head over its levels: per level a box branch (3x3, 3x3 grouped by 4 in DDetect, 1x1 Conv2d
    with bias to 4 x 16) and a class branch (3x3, 3x3, 1x1 Conv2d with bias to nc), and the set's DFL weights."""
    c_box = max(int(level[0]) // 4, 4 * REG_MAX, 16)
    c_box = _round4(c_box) if grouped else c_box
    c_cls = max(int(level[0]), min(2 * nc, 128))
    g = 4 if grouped else 1
    box = sum(conv(c, c_box, 3) + conv(c_box, c_box, 3, g) + conv2d(c_box, 4 * REG_MAX, 1, g, bias=True) for c in level)
    cls = sum(conv(c, c_cls, 3) + conv(c_cls, c_cls, 3) + conv2d(c_cls, nc, 1, bias=True) for c in level)
    return box + cls + REG_MAX


def detect(ch: Sequence[int], nc: int, sets: int = 1, grouped: bool = False) -> int:
    """Detect (sets = 1), DDetect (grouped), DualDDetect (2 sets), TripleDDetect (3): the inputs in `sets` runs."""
    nl = len(ch) // sets
    return sum(detect_set(ch[k * nl : (k + 1) * nl], nc, grouped) for k in range(sets))


def mask_branches(level: Sequence[int], nm: int) -> int:
    """Mask coefficients per level: 3x3, 3x3 (width max(ch[0] // 4, nm)), 1x1 Conv2d with bias to nm."""
    c4 = max(int(level[0]) // 4, nm)
    return sum(conv(c, c4, 3) + conv(c4, c4, 3) + conv2d(c4, nm, 1, bias=True) for c in level)


def proto(c1: int, c_: int, c2: int) -> int:
    """YOLOv5's Proto: 3x3 Conv, upsample, 3x3 Conv, 1x1 Conv to the masks."""
    return conv(c1, c_, 3) + conv(c_, c_, 3) + conv(c_, c2, 1)


def segment(ch: Sequence[int], b: Mapping[str, Any]) -> int:
    """Segment: Detect, mask coefficients, Proto on the first level."""
    return detect(ch, b["nc"]) + mask_branches(ch, b["nm"]) + proto(ch[0], b["npr"], b["nm"])


def dsegment(ch: Sequence[int], b: Mapping[str, Any]) -> int:
    """DSegment: DDetect and mask coefficients on the levels, a 1x1 Conv of the last input as prototypes."""
    levels = ch[:-1]
    return detect(levels, b["nc"], grouped=True) + mask_branches(levels, b["nm"]) + conv(ch[-1], b["nm"], 1)


def dualdsegment(ch: Sequence[int], b: Mapping[str, Any]) -> int:
    """DualDSegment: DualDDetect, mask coefficients per set, a 1x1 Conv prototype per set (the last two inputs)."""
    levels, nm = ch[:-2], b["nm"]
    nl = len(levels) // 2
    masks = mask_branches(levels[:nl], nm) + mask_branches(levels[nl:], nm)
    return detect(levels, b["nc"], sets=2, grouped=True) + masks + conv(ch[-2], nm, 1) + conv(ch[-1], nm, 1)


def panoptic(ch: Sequence[int], b: Mapping[str, Any]) -> int:
    """Panoptic: Segment plus the semantic branch (3x3 Conv to ch[0] // 4, 1x1 Conv2d with bias to sem_nc + nc)."""
    c0 = int(ch[0])
    semantic = conv(c0, c0 // 4, 3) + conv2d(c0 // 4, b["sem_nc"] + b["nc"], 1, bias=True)
    return segment(ch, b) + semantic
