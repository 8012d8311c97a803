"""Spatial sizes at a given input size, and the blocks' size rules (patch unfold, Focus, Contract, windows).

Sizes follow the real arithmetic: a block whose kernel and padding come from its arguments declares its `size`
rule (torch's floor((h + 2p - d(k-1) - 1) / s) + 1, with YOLOv5's autopad k // 2, so an even kernel grows or
shrinks the map by one pixel); other blocks follow their strides (ceil(size / s); an upsample multiplies). A
rule such as "MobileViTBlock needs a multiple of patch_size" is checked at every requested input size, and so is
every join (Concat): its inputs must arrive with one spatial size. When a join fails because a row's kernel
changed the size (the strides alone would agree), the diagnostic blames that row (YN407), with a label at the
join; such a change that reaches the model's outputs without failing is a warning (YN406); a block that cannot
run at its own kernel (its inner add or concatenation fails) is YN408. A rounding failure (odd input sizes)
names the nearest input sizes that work (multiples of the model's largest stride, as YOLOv5 rounds them) and
the smallest multiple that always works.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

from ..diagnostics import Diagnostic, Edit, Fix, Label
from ..registry import CHECK_PICK, SizeError
from ..spec.limits import Limits
from .ir import INPUT, IR, Node, PortRef

Size = tuple[int, int]
SEARCH_STEPS = 64  # how many multiples of the step to try on each side for "nearest sizes that work"
KERNEL_ARGS = ("k", "kernel_size")  # the arguments a size change is blamed on, in this order
PAD_ARGS = ("p", "padding", "p1")


def _scale(size: int, stride: Fraction) -> int:
    """The size after a relative stride: ceil(size / stride) when it downsamples, size / stride when it
    upsamples (integer arithmetic on the fraction's parts)."""
    num, den = stride.numerator, stride.denominator
    if num == den:
        return size
    if num > den:
        return -(-size * den // num)
    return size * den // num


def propagate(ir: IR, hw: Size, ideal: bool = False) -> dict[PortRef, Size]:
    """The (height, width) of every port at input size hw: the blocks' `size` rules where they declare one, else
    the inferred strides; `ideal=True` uses the strides alone (what the sizes would be if every kernel kept
    them). Kept in the IR's cache: the size rules and the shape facts both need them."""
    key = ("sizes", tuple(hw), ideal)
    if key not in ir.cache:
        ir.cache[key] = _propagate(ir, hw, ideal)
    return ir.cache[key]  # type: ignore[no-any-return]


def size_failures(ir: IR, hw: Size) -> dict[int, SizeError]:
    """Rows whose `size` rule says the block cannot run at this input size (YN408), by position."""
    propagate(ir, hw)
    return ir.cache[("size_failures", tuple(hw))]  # type: ignore[no-any-return]


def _repeats(node: Node) -> int:
    return max(node.n, 1) if node.decl.repeat == "sequential" else 1


def _source(node: Node) -> int:
    """Which input a row's size follows: the first, except for a block that picks outputs of its inputs
    (CBFuse, `CHECK_PICK`), which resizes them all to its last input's size (as its stride is the last input's)."""
    decl = node.decl
    return decl.kept("_size_source", lambda: -1 if any(a.check == CHECK_PICK for a in decl.args) else 0)  # type: ignore[no-any-return]


def _propagate(ir: IR, hw: Size, ideal: bool) -> dict[PortRef, Size]:
    sizes: dict[PortRef, Size] = {PortRef(INPUT): hw}
    failures: dict[int, SizeError] = {}
    for pos, node in ir.nodes.items():
        if not node.inputs or not node.ok:
            continue
        src = _source(node)
        base = sizes.get(node.inputs[src])
        if base is None:
            continue
        rule = node.decl.size
        same = not node.taps or all(p.stride == node.out.stride for p in node.taps.values())  # taps of one map (CBLinear)
        if rule is not None and same and not ideal:
            try:
                out = base
                for _ in range(_repeats(node)):
                    out = rule(node.bound, out)
                hw_out = (int(out[0]), int(out[1]))
                for name in node.taps or (None,):
                    sizes[PortRef(pos, name)] = hw_out
                continue
            except SizeError as e:
                failures[pos] = e
                continue
            except Exception:  # a faulty rule (a bug in a declaration): the strides still tell
                pass
        s_in = node.in_strides[src] if node.in_strides and node.in_strides[src] else Fraction(1)
        for name, port in node.taps.items():
            if port.stride:
                rel = port.stride / s_in
                sizes[PortRef(pos, name)] = (_scale(base[0], rel), _scale(base[1], rel))
        if node.out.stride and not node.taps:
            rel = node.out.stride / s_in
            sizes[PortRef(pos)] = (_scale(base[0], rel), _scale(base[1], rel))
    if not ideal:
        ir.cache[("size_failures", tuple(hw))] = failures
    return sizes


def drifts(ir: IR, sizes: dict[PortRef, Size]) -> dict[int, tuple[Size, Size, Size]]:
    """Rows whose kernel or padding changes the size away from their stride: position -> (input size, output
    size, the size the stride gives), only where the input is a multiple of the stride (else it is rounding)."""
    out: dict[int, tuple[Size, Size, Size]] = {}
    for pos, node in ir.nodes.items():
        if node.decl.size is None or not node.ok or not node.inputs:
            continue
        base, got = sizes.get(node.inputs[0]), sizes.get(PortRef(pos, next(iter(node.taps), None)))
        s_in = node.in_strides[0] if node.in_strides else None
        if base is None or got is None or not s_in or node.out.stride is None:
            continue
        rel = node.out.stride / s_in
        if any((v * rel.denominator) % rel.numerator for v in base):
            continue
        expected = (base[0] * rel.denominator // rel.numerator, base[1] * rel.denominator // rel.numerator)
        if got != expected:
            out[pos] = (base, got, expected)
    return out


def _ancestors(ir: IR, refs: list[PortRef]) -> set[int]:
    seen: set[int] = set()
    todo = [r.node for r in refs if r.node >= 0]
    while todo:
        pos = todo.pop()
        if pos in seen or pos not in ir.nodes:
            continue
        seen.add(pos)
        todo += [p.node for p in ir.nodes[pos].inputs if p.node >= 0]
    return seen


def culprits(ir: IR, sizes: dict[PortRef, Size], refs: list[PortRef]) -> list[int]:
    """The rows upstream of `refs` (themselves included) whose kernel changes the size, in row order."""
    d = drifts(ir, sizes)
    return sorted(p for p in _ancestors(ir, refs) if p in d)


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
    if size_failures(ir, (size, size)) or any(min(v) < 1 for v in sizes.values()):
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


def _blamed_arg(node: Node) -> tuple[str | None, object]:
    """The argument a size change is blamed on: an even kernel the row writes, else a padding it writes, else
    the kernel (name and value; None when the row writes none of them)."""
    yaml_names = [a.name for a in node.decl.yaml_args()][: len(node.row.args)]
    written = {n: node.bound.get(n) for n in yaml_names}
    for name in KERNEL_ARGS:
        v = written.get(name)
        vs = v if isinstance(v, (list, tuple)) else [v]
        if any(isinstance(x, int) and not isinstance(x, bool) and x % 2 == 0 for x in vs):
            return name, v
    for name in (*PAD_ARGS, *KERNEL_ARGS):
        if written.get(name) is not None:
            return name, written[name]
    return None, None


def _kernel_fix(node: Node, name: str | None, value: object) -> tuple[Fix, ...]:
    """Replace an even kernel written as a number by the next odd one (unsafe: the model changes)."""
    from .bind import arg_span

    if name not in KERNEL_ARGS or not isinstance(value, int) or isinstance(value, bool) or value % 2:
        return ()
    span = arg_span(node.row, node.decl, name)
    if span.line <= 0 or span.end_line != span.line:
        return ()
    return (Fix(f"use kernel {value + 1} (odd: the size follows the stride)", (Edit(span, str(value + 1)),), "unsafe"),)


def _size_words(node: Node, change: tuple[Size, Size, Size]) -> str:
    (h, w), (oh, ow), (eh, ew) = change
    name, value = _blamed_arg(node)
    what = f"its {name} = {value}" if name else "its arguments"
    return f"{what} turns {h}x{w} into {oh}x{ow}; stride {_frac(node.out.stride / node.in_strides[0])} would give {eh}x{ew}"  # type: ignore[operator]


def _frac(f: Fraction) -> str:
    return str(int(f)) if f.denominator == 1 else str(f)


def _blame(ir: IR, pos: int, change: tuple[Size, Size, Size]) -> dict[str, Any]:
    """Where and how a size change is blamed on row `pos`: its kernel (or padding) argument, the sizes, the fix."""
    from .bind import arg_span

    node = ir.nodes[pos]
    name, value = _blamed_arg(node)
    even = name in KERNEL_ARGS
    odd = f"use an odd kernel (e.g. {int(value) + 1})" if even and isinstance(value, int) else "use an odd kernel or padding k // 2"  # type: ignore[call-overload]
    return {
        "span": arg_span(node.row, node.decl, name) if name else node.row.args_span,
        "label": _size_words(node, change),
        "notes": ("YOLOv5 and Ultralytics pad by k // 2 (autopad), which keeps the size only for odd kernels; their own models fail the same way",)
        if even
        else (),
        "help": odd + ", so the size follows the stride",
        "fixes": _kernel_fix(node, name, value),
    }


def _kernel_joins(ir: IR, hw: Size, sizes: dict[PortRef, Size]) -> tuple[list[Diagnostic], set[int]]:
    """YN407 for every join whose inputs differ only because a row's kernel changed a size (at the ideal, stride
    only, sizes they agree); the joins so explained."""
    out: list[Diagnostic] = []
    explained: set[int] = set()
    mismatched = _join_mismatches(ir, sizes)
    d = drifts(ir, sizes) if mismatched else {}
    if not d:
        return out, explained
    ideal = propagate(ir, hw, ideal=True)
    blamed: set[int] = set()
    for pos, got in mismatched:
        node = ir.nodes[pos]
        want = [ideal.get(p) for p in node.inputs]
        if None in want or len(set(want)) > 1:
            continue  # the strides alone disagree: rounding (YN404) or a stride error (YN402)
        rows = culprits(ir, sizes, node.inputs)
        if not rows:
            continue
        explained.add(pos)
        first = rows[0]
        if first in blamed:
            continue
        blamed.add(first)
        parts = "; ".join(f"{_input(ir, p)} is {g[0]}x{g[1]}" for p, g in zip(node.inputs, got))
        culprit = ir.nodes[first]
        more = [ir.nodes[p].label for p in rows[1:]]
        diag = Diagnostic(
            "YN407",
            f"at input {_fmt(hw)}, {culprit.label} changes the feature map's size, so {node.label} joins maps of different sizes",
            labels=(Label(node.row.from_span, f"{node.label} fails here: {parts}"),),
            **_blame(ir, first, d[first]),
        )
        if more:
            diag = replace(diag, notes=(*diag.notes, "other rows upstream that change the size: " + ", ".join(more)))
        out.append(diag)
    return out, explained


def _output_drift(ir: IR, hw: Size, sizes: dict[PortRef, Size]) -> list[Diagnostic]:
    """YN406: a size change that reaches the model's outputs (a head's inputs) without failing: the model runs,
    but its maps are not input / stride (YOLOv5 and Ultralytics then measure fractional strides)."""
    d = drifts(ir, sizes)
    if not d:
        return []
    ideal = propagate(ir, hw, ideal=True)
    ends: list[tuple[PortRef, Node | None]] = [(p, h) for h in ir.heads() for p in h.inputs] or [(p, None) for p in ir.outputs]
    out: list[Diagnostic] = []
    blamed: set[int] = set()
    for ref, head in ends:
        real, want = sizes.get(ref), ideal.get(ref)
        if real is None or want is None or real == want:
            continue
        rows = [p for p in culprits(ir, sizes, [ref]) if p not in blamed]
        if not rows:
            continue
        blamed.add(rows[0])
        where = f"{head.label} gets {_input(ir, ref)} at {real[0]}x{real[1]}" if head else f"the output {_input(ir, ref)} is {real[0]}x{real[1]}"
        label_span = head.row.from_span if head else ir.nodes[ref.node].row.span
        out.append(
            Diagnostic(
                "YN406",
                f"at input {_fmt(hw)}, {ir.nodes[rows[0]].label} changes the feature map's size: {where}, not {want[0]}x{want[1]}",
                severity="warning",
                labels=(Label(label_span, f"{real[0]}x{real[1]} where the stride gives {want[0]}x{want[1]}"),),
                **_blame(ir, rows[0], d[rows[0]]),
            )
        )
    return out


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
    for pos, e in size_failures(ir, hw).items():
        from .bind import arg_span

        node = ir.nodes[pos]
        diags.append(
            Diagnostic(
                "YN408",
                f"at input {label}, {node.label} cannot run: {e}",
                arg_span(node.row, node.decl, e.arg) if e.arg else node.row.args_span,
                notes=("YOLOv5 and Ultralytics pad by k // 2 (autopad), which keeps the size only for odd kernels",),
                help="use an odd kernel, or turn off the block's residual connection",
            )
        )
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
    kernel_diags, explained = _kernel_joins(ir, hw, sizes)
    for pos, m, arriving, why, s_in in _violations(ir, sizes):
        node = ir.nodes[pos]
        if explained & _ancestors(ir, node.inputs):
            continue  # it gets a size a kernel changed before a failing join (YN407 blames that row): no rounding
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
    diags += kernel_diags
    for pos, got in [j for j in _join_mismatches(ir, sizes) if j[0] not in explained][:1]:  # later mismatches follow from the first
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
    if not any(d.severity == "error" for d in diags):
        diags += _output_drift(ir, hw, sizes)
    return diags


def _input(ir: IR, p: PortRef) -> str:
    if p.node < 0:
        return "the input"
    n = ir.nodes[p.node]
    return f"layer {n.index}" + (f".{p.tap}" if p.tap else "")
