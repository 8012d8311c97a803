"""Spatial sizes at a given input size, and the blocks' size rules (patch unfold, Focus, Contract, windows).

Sizes follow the strides: a stride-s layer gives ceil(size / s), an upsample multiplies. A rule such as
"MobileViTBlock needs a multiple of patch_size" is checked at every requested input size, and a failure names
the nearest input sizes that work and the smallest multiple that always works.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..diagnostics import Diagnostic
from ..spec.limits import Limits
from .ir import INPUT, IR, PortRef

Size = tuple[int, int]


def _scale(size: int, stride: Fraction) -> int:
    if stride >= 1:
        return math.ceil(size / stride)
    return int(size * (1 / stride))


def propagate(ir: IR, hw: Size) -> dict[PortRef, Size]:
    """The (height, width) of every port at input size hw, from the inferred strides."""
    sizes: dict[PortRef, Size] = {PortRef(INPUT): hw}
    for pos, node in ir.nodes.items():
        if not node.inputs or not node.ok:
            continue
        base = sizes.get(node.inputs[0])
        if base is None:
            continue
        s_in = node.in_strides[0] if node.in_strides and node.in_strides[0] else Fraction(1)
        for name, port in node.taps.items():
            if port.stride:
                rel = port.stride / s_in
                sizes[PortRef(pos, name)] = (_scale(base[0], rel), _scale(base[1], rel))
        if node.out.stride and not node.taps:
            rel = node.out.stride / s_in
            sizes[PortRef(pos)] = (_scale(base[0], rel), _scale(base[1], rel))
    return sizes


def _violations(ir: IR, hw: Size) -> list[tuple[int, int, Size, str, int]]:
    """(position, required multiple, arriving size, why, input stride) of every size rule broken at hw."""
    out = []
    sizes = propagate(ir, hw)
    for pos, node in ir.nodes.items():
        if not node.decl.sizes or not node.inputs or not node.ok:
            continue
        arriving = sizes.get(node.inputs[0])
        if arriving is None:
            continue
        s_in = node.in_strides[0] or Fraction(1)
        for rule in node.decl.sizes:
            try:
                m = int(rule.multiple(node.bound))
            except (KeyError, TypeError, ValueError):
                continue
            if m > 1 and (arriving[0] % m or arriving[1] % m):
                out.append((pos, m, arriving, rule.why, int(s_in) if s_in.denominator == 1 else 1))
    return out


def _works(ir: IR, size: int, axis: int, other: int) -> bool:
    hw = (size, other) if axis == 0 else (other, size)
    sizes = propagate(ir, hw)
    if any(min(v) < 1 for v in sizes.values()):
        return False
    return not _violations(ir, hw)


def _nearest(ir: IR, size: int, axis: int, other: int, step: int = 32) -> tuple[int | None, int | None]:
    lo = next((s for s in range(size - 1, max(size - 64 * step, 0), -1) if _works(ir, s, axis, other)), None)
    hi = next((s for s in range(size + 1, size + 64 * step) if _works(ir, s, axis, other)), None)
    return lo, hi


def check_sizes(ir: IR, hw: Size, limits: Limits) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    label = f"{hw[0]}x{hw[1]}" if hw[0] != hw[1] else str(hw[0])
    spec = ir.spec
    if not all(1 <= v <= limits.imgsz for v in hw):
        diags.append(Diagnostic("YN507", f"input size {label} is outside 1..{limits.imgsz}", spec.span_of("backbone"),
                                help="pass a size such as 640 or 640x384"))
        return diags
    sizes = propagate(ir, hw)
    for ref, s in sizes.items():
        if min(s) < 1 and ref.node >= 0:
            node = ir.nodes[ref.node]
            diags.append(Diagnostic("YN404", f"at input {label}, {node.label} has no pixels left", node.row.span,
                                    help=f"use a larger input size (at least {int(node.out.stride or 1)})"))
            return diags
    for pos, m, arriving, why, s_in in _violations(ir, hw):
        node = ir.nodes[pos]
        multiple = m * s_in
        lo_hi = []
        for axis in (0, 1):
            if arriving[axis] % m:
                lo, hi = _nearest(ir, hw[axis], axis, hw[1 - axis])
                lo_hi.append(f"{'height' if axis == 0 else 'width'} {hw[axis]}: nearest sizes that work are {lo} and {hi}")
        diags.append(Diagnostic(
            "YN404", f"at input {label}, {node.label} gets {arriving[0]}x{arriving[1]}, not a multiple of {m}", node.row.span,
            label=why,
            notes=tuple(lo_hi),
            help=f"use an input size that is a multiple of {multiple} (stride {s_in} x {m}), e.g. {_round(hw[0], multiple)}" +
                 ("" if hw[0] == hw[1] else f"x{_round(hw[1], multiple)}")))
    return diags


def _round(v: int, m: int) -> int:
    return max(m, int(round(v / m)) * m)
