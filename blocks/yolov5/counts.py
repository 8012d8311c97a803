"""Parameter counts of the YOLOv5 and Ultralytics layers from their arguments (`BlockDecl.params`), so validation
applies the parameter limit without building anything. Pure arithmetic, no torch;
tests/blocks/test_declared_params.py checks every count against the built block."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from yamlnet.registry import axes


def act_params(act: Any) -> int:
    """Activations carry no parameters, except PReLU (whose count depends on how it is built): unknown."""
    if getattr(act, "name", None) == "nn.PReLU":
        raise ValueError("PReLU's parameters are counted on the built block")
    return 0


def conv2d(c1: int, c2: int, k: Any = 1, g: int = 1, bias: bool = False) -> int:
    """A torch Conv2d: c2 x (c1 / g) x kh x kw weights, plus a bias per output channel."""
    kh, kw = axes(k)
    return (int(c1) // int(g)) * int(c2) * kh * kw + (int(c2) if bias else 0)


def conv(c1: int, c2: int, k: Any = 1, g: int = 1, act: Any = True) -> int:
    """YOLOv5's Conv: a Conv2d without bias, a BatchNorm (weight and bias per channel), an activation."""
    return conv2d(c1, c2, k, g) + 2 * int(c2) + act_params(act)


def bottleneck_v5(c1: int, c2: int, g: int = 1, e: float = 0.5) -> int:
    c_ = int(c2 * e)
    return conv(c1, c_, 1) + conv(c_, c2, 3, g)


def bottleneck_ul(c1: int, c2: int, g: int = 1, k: Any = (3, 3), e: float = 0.5) -> int:
    h = int(c2 * e)
    k1, k2 = (k[0], k[1]) if isinstance(k, (list, tuple)) else (k, k)
    return conv(c1, h, k1) + conv(h, c2, k2, g)


def c3(c1: int, c2: int, n: int, g: int, e: float, inner: Any) -> int:
    """The C3 pattern: two 1x1 Convs to c2 x e, n inner blocks on one of them, a 1x1 Conv from both to c2."""
    c_ = int(c2 * e)
    return 2 * conv(c1, c_, 1) + conv(2 * c_, c2, 1) + int(n) * inner(c_)


def split_stage(c1: int, c2: int, n: int, e: float, inner: Any) -> int:
    """The C2f pattern: a 1x1 Conv to 2h (h = c2 x e), n inner blocks on h channels, a 1x1 Conv from (2 + n) h."""
    h = int(c2 * e)
    return conv(c1, 2 * h, 1) + conv((2 + int(n)) * h, c2, 1) + int(n) * inner(h)


def attention_block(c: int) -> int:
    """Ultralytics' PSA attention block on c channels: qkv, projection, positional depth-wise conv, feed-forward."""
    heads = max(c // 64, 1)
    q = int((c // heads) * 0.5)
    return conv(c, c + 2 * q * heads, 1) + conv(c, c, 1) + conv(c, c, 3, c) + conv(c, 2 * c, 1) + conv(2 * c, c, 1)


def detect_v5(ch: Sequence[int], nc: int, anchors: Sequence[Sequence[Any]]) -> int:
    """YOLOv5's Detect: one 1x1 Conv2d with bias per level to na x (nc + 5) outputs."""
    na = len(anchors[0]) // 2
    return sum(conv2d(c, na * (nc + 5), 1, bias=True) for c in ch)


def detect_ul(ch: Sequence[int], b: Mapping[str, Any]) -> int:
    """Ultralytics' anchor-free Detect: per level a box branch (two 3x3 Convs, a 1x1 Conv2d to 4 x reg_max) and a
    class branch (legacy: like the box branch; else two depth-wise + 1x1 Conv stages), the DFL weights, and with
    `end2end` a copy of both branches."""
    nc, reg_max = int(b["nc"]), int(b["reg_max"])
    c_box = max(16, ch[0] // 4, 4 * reg_max)
    c3_ = max(ch[0], min(nc, 100))
    box = sum(conv(c, c_box, 3) + conv(c_box, c_box, 3) + conv2d(c_box, 4 * reg_max, 1, bias=True) for c in ch)
    if b.get("legacy"):
        cls = sum(conv(c, c3_, 3) + conv(c3_, c3_, 3) + conv2d(c3_, nc, 1, bias=True) for c in ch)
    else:
        cls = sum(conv(c, c, 3, c) + conv(c, c3_, 1) + conv(c3_, c3_, 3, c3_) + conv(c3_, c3_, 1) + conv2d(c3_, nc, 1, bias=True) for c in ch)
    dfl = reg_max if reg_max > 1 else 0
    return (box + cls) * (2 if b.get("end2end") else 1) + dfl


def dwconv(c1: int, c2: int, k: Any = 1, act: Any = True) -> int:
    return conv(c1, c2, k, math.gcd(int(c1), int(c2)), act)


def res_v7(c1: int, c2: int, g: int = 1, e: float = 0.5) -> int:
    """YOLOv7's Res block: 1x1 Conv to c2 x e, 3x3 (grouped) Conv, 1x1 Conv to c2."""
    c_ = int(c2 * e)
    return conv(c1, c_, 1) + conv(c_, c_, 3, g) + conv(c_, c2, 1)


def csp_v7(form: str, c1: int, c2: int, n: int, e: float, inner: Any) -> int:
    """YOLOv7's CSP stages: "A" two 1x1 Convs to c2 x e and a 1x1 out; "B" a 1x1 Conv to c2, a second 1x1 on it
    and a 1x1 out; "C" as A with a 1x1 Conv after the inner blocks. `inner(c)` counts one inner block."""
    c_ = int(c2) if form == "B" else int(c2 * e)
    first = conv(c1, c_, 1) + (conv(c_, c_, 1) if form == "B" else conv(c1, c_, 1))
    after = conv(c_, c_, 1) if form == "C" else 0
    return first + after + conv(2 * c_, c2, 1) + int(n) * inner(c_)


def sppcspc(c1: int, c2: int, e: float, pools: int) -> int:
    """YOLOv7's SPPCSPC: hidden 2 x c2 x e; 1x1, 1x1, 3x3, 1x1 Convs, the pools' join reduced by 1x1 and 3x3,
    the two paths joined by a 1x1 Conv."""
    c_ = int(2 * c2 * e)
    return 2 * conv(c1, c_, 1) + conv(c_, c_, 3) + conv(c_, c_, 1) + conv((pools + 1) * c_, c_, 1) + conv(c_, c_, 3) + conv(2 * c_, c2, 1)


def repconv(c1: int, c2: int, s: int, g: int, act: Any, deploy: bool) -> int:
    """YOLOv7's RepConv: 3x3 and 1x1 Conv2d + BatchNorm branches (and a BatchNorm on the input when c1 == c2 and
    s == 1); deployed, one biased 3x3 Conv2d."""
    if deploy:
        return conv2d(c1, c2, 3, g, bias=True) + act_params(act)
    identity = 2 * int(c1) if int(c1) == int(c2) and int(s) == 1 else 0
    return conv2d(c1, c2, 3, g) + conv2d(c1, c2, 1, g) + 4 * int(c2) + identity + act_params(act)


def idetect_v7(ch: Sequence[int], nc: int, anchors: Sequence[Sequence[Any]], aux: bool = False) -> int:
    """YOLOv7's IDetect: Detect's convs plus an ImplicitA per input channel and an ImplicitM per output channel
    of every level; IAuxDetect (`aux`): the lead levels are the first len(anchors) inputs, and every auxiliary
    input adds a biased 1x1 Conv2d."""
    nl, no = len(anchors), (len(anchors[0]) // 2) * (int(nc) + 5)
    lead, rest = list(ch[:nl]), list(ch[nl:]) if aux else []
    return detect_v5(lead, nc, anchors) + sum(lead) + nl * no + sum(conv2d(c, no, 1, bias=True) for c in rest)
