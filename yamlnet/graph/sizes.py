"""Spatial sizes at a given input size, and the blocks' size rules (patch unfold, Focus, Contract, windows).

Sizes follow the strides: a stride-s layer gives ceil(size / s), an upsample multiplies. A rule such as
"MobileViTBlock needs a multiple of patch_size" is checked at every requested input size, and so is every
join (Concat): its inputs must arrive with one spatial size, which rounding at odd sizes can break. A failure
names the nearest input sizes that work (multiples of the model's largest stride, as YOLOv5 rounds them) and
the smallest multiple that always works.
"""

from __future__ import annotations

from fractions import Fraction

from ..diagnostics import Diagnostic
from ..spec.limits import Limits
from .ir import INPUT, IR, PortRef

Size = tuple[int, int]
SEARCH_STEPS = 64  # how many multiples of the step to try on each side for "nearest sizes that work"


def _scale(size: int, stride: Fraction) -> int:
    """The size after a relative stride: ceil(size / stride) when it downsamples, size / stride when it
    upsamples (integer arithmetic on the fraction's parts)."""
    num, den = stride.numerator, stride.denominator
    if num == den:
        return size
    if num > den:
        return -(-size * den // num)
    return size * den // num


def propagate(ir: IR, hw: Size) -> dict[PortRef, Size]:
    """The (height, width) of every port at input size hw, from the inferred strides (kept in the IR's cache:
    the size rules and the shape facts both need them)."""
    key = ("sizes", tuple(hw))
    if key not in ir.cache:
        ir.cache[key] = _propagate(ir, hw)
    return ir.cache[key]  # type: ignore[no-any-return]


def _propagate(ir: IR, hw: Size) -> dict[PortRef, Size]:
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


def _violations(ir: IR, sizes: dict[PortRef, Size]) -> list[tuple[int, int, Size, str, int]]:
    """(position, required multiple, arriving size, why, input stride) of every size rule broken."""
    out = []
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
            except Exception:  # a faulty rule must not stop the check of the others
                continue
            if m > 1 and (arriving[0] % m or arriving[1] % m):
                out.append((pos, m, arriving, rule.why, int(s_in) if s_in.denominator == 1 else 1))
    return out


def _join_mismatches(ir: IR, sizes: dict[PortRef, Size]) -> list[tuple[int, list[Size]]]:
    """(position, input sizes) of every join whose inputs arrive with different spatial sizes."""
    out = []
    for pos, node in ir.nodes.items():
        if node.decl.inputs != "join" or not node.ok or len(node.inputs) < 2:
            continue
        got = [sizes.get(p) for p in node.inputs]
        if any(g is None for g in got):
            continue
        if len(set(got)) > 1:
            out.append((pos, got))  # type: ignore[arg-type]
    return out


def _works(ir: IR, size: int) -> bool:
    """Whether `size` works along one axis (every rule is per axis, so a square input tells)."""
    sizes = propagate(ir, (size, size))
    if any(min(v) < 1 for v in sizes.values()):
        return False
    return not _violations(ir, sizes) and not _join_mismatches(ir, sizes)


def size_step(ir: IR) -> int:
    """The granularity of input sizes: the largest integer stride of the model, at least 32 (YOLOv5's rule)."""
    strides = [p.stride for n in ir.nodes.values() for p in [n.out, *n.taps.values()] if p.stride is not None and p.stride.denominator == 1]
    return max([32, *(int(s) for s in strides)])


def nearest_sizes(ir: IR, size: int) -> tuple[int | None, int | None]:
    """The nearest multiples of size_step below and above `size` that work along one axis (kept in the IR's
    cache: the search runs the size rules many times)."""
    memo: dict[int, tuple[int | None, int | None]] = ir.cache.setdefault("nearest_sizes", {})
    if size in memo:
        return memo[size]
    step = size_step(ir)
    below = ((size - 1) // step) * step
    above = (size // step + 1) * step
    lo = next((s for s in range(below, max(below - SEARCH_STEPS * step, 0), -step) if _works(ir, s)), None)
    hi = next((s for s in range(above, above + SEARCH_STEPS * step, step) if _works(ir, s)), None)
    memo[size] = (lo, hi)
    return lo, hi


def _nearest_note(ir: IR, hw: Size, axis: int) -> str:
    lo, hi = nearest_sizes(ir, hw[axis])
    found = [str(v) for v in (lo, hi) if v is not None]
    what = "height" if axis == 0 else "width"
    if hw[0] == hw[1]:
        what = "size"
    if not found:
        return f"no {what} near {hw[axis]} works"
    return f"{what} {hw[axis]}: the nearest sizes that work are {' and '.join(found)}"


def _fmt(hw: Size) -> str:
    return f"{hw[0]}x{hw[1]}" if hw[0] != hw[1] else str(hw[0])


def _suggest(ir: IR, hw: Size, axes: list[int]) -> str:
    picks = []
    for axis in (0, 1):
        if axis in axes:
            lo, hi = nearest_sizes(ir, hw[axis])
            cands = [v for v in (lo, hi) if v is not None]
            picks.append(min(cands, key=lambda v: (abs(v - hw[axis]), v)) if cands else hw[axis])
        else:
            picks.append(hw[axis])
    return _fmt((picks[0], picks[1]))


def check_sizes(ir: IR, hw: Size, limits: Limits) -> list[Diagnostic]:
    """Size rules and joins at input size hw (height, width)."""
    return _check_sizes(ir, hw, limits)


def _check_sizes(ir: IR, hw: Size, limits: Limits) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    label = _fmt(hw)
    spec = ir.spec
    if not all(1 <= v <= limits.imgsz for v in hw):
        diags.append(
            Diagnostic(
                "YN507", f"input size {label} is outside 1..{limits.imgsz}", spec.span_of("backbone"), help="pass a size such as 640 or 640x384"
            )
        )
        return diags
    sizes = propagate(ir, hw)
    for ref, s in sizes.items():
        if min(s) < 1 and ref.node >= 0:
            node = ir.nodes[ref.node]
            diags.append(
                Diagnostic(
                    "YN404",
                    f"at input {label}, {node.label} has no pixels left",
                    node.row.span,
                    help=f"use a larger input size (at least {size_step(ir)})",
                )
            )
            return diags
    for pos, m, arriving, why, s_in in _violations(ir, sizes):
        node = ir.nodes[pos]
        multiple = m * s_in
        axes = [axis for axis in (0, 1) if arriving[axis] % m]
        notes = [_nearest_note(ir, hw, axis) for axis in (axes if hw[0] != hw[1] else axes[:1])]
        diags.append(
            Diagnostic(
                "YN404",
                f"at input {label}, {node.label} gets {arriving[0]}x{arriving[1]}, not a multiple of {m}",
                node.row.span,
                label=why,
                notes=tuple(notes),
                help=f"use an input size that is a multiple of {multiple} (stride {s_in} x {m}), e.g. {_suggest(ir, hw, axes)}",
            )
        )
    for pos, got in _join_mismatches(ir, sizes)[:1]:  # later mismatches follow from the first
        node = ir.nodes[pos]
        axes = [axis for axis in (0, 1) if len({g[axis] for g in got}) > 1]
        parts = "; ".join(f"{_input(ir, p)} is {g[0]}x{g[1]}" for p, g in zip(node.inputs, got))
        notes = [_nearest_note(ir, hw, axis) for axis in (axes if hw[0] != hw[1] else axes[:1])]
        diags.append(
            Diagnostic(
                "YN404",
                f"at input {label}, the inputs of {node.label} arrive with different sizes",
                node.row.from_span,
                label=parts,
                notes=("rounding up at each stride-2 layer makes odd sizes drift apart", *notes),
                help=f"use an input size that is a multiple of {size_step(ir)}, e.g. {_suggest(ir, hw, axes)}",
            )
        )
    return diags


def _input(ir: IR, p: PortRef) -> str:
    if p.node < 0:
        return "the input"
    n = ir.nodes[p.node]
    return f"layer {n.index}" + (f".{p.tap}" if p.tap else "")
