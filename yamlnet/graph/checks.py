"""Static rules over the IR: strides of joins, head ordering, channel limits, unused rows."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic
from ..spec.limits import Limits

if TYPE_CHECKING:
    from .ir import IR, Node


def _fmt(s: Fraction | None) -> str:
    return "?" if s is None else (str(int(s)) if s.denominator == 1 else str(s))


def check_node(ir: "IR", node: "Node", limits: Limits, diags: list[Diagnostic]) -> None:
    decl, row = node.decl, node.row
    for name, port in ([("output", node.out)] + list(node.taps.items())):
        if port.channels is not None and not 1 <= port.channels <= limits.channels:
            diags.append(Diagnostic("YN304", f"{node.label} would have {port.channels:,} channels at its {name}", row.args_span,
                                    help=f"channels must be between 1 and {limits.channels:,}; check the channel argument and width_multiple"))
            node.ok = False
    if decl.inputs == "join":
        _check_join(ir, node, diags)
    if decl.role == "head" and decl.inputs == "list":
        _check_head(ir, node, diags)


def _check_join(ir: "IR", node: "Node", diags: list[Diagnostic]) -> None:
    strides = node.in_strides
    if None in strides or len(set(strides)) <= 1:
        return
    ref = strides[0]
    parts = []
    fixes = []
    for p, s in zip(node.inputs, strides):
        src = "input" if p.node < 0 else ir.nodes[p.node].label
        parts.append(f"{_input_name(ir, p)} has stride {_fmt(s)}")
    for p, s in zip(node.inputs[1:], strides[1:]):
        if s == ref or s is None or ref is None:
            continue
        fixes.append(_fix_for(ir, node, p, s, ref))
    diags.append(Diagnostic(
        "YN402", f"{node.decl.name} joins feature maps of different strides", node.row.from_span,
        label="; ".join(parts),
        notes=(f"all inputs of {node.decl.name} must have one spatial size; the first input has stride {_fmt(ref)}",),
        help="; ".join(fixes)))
    node.ok = False


def _input_name(ir: "IR", p: object) -> str:
    from .ir import PortRef

    assert isinstance(p, PortRef)
    if p.node < 0:
        return "the model input"
    n = ir.nodes[p.node]
    if p.tap:
        return f"input {n.index if ir.numbering == 'rows' else _slot(p, ir)} ({n.row.module}.{p.tap})"
    return f"layer {n.index} ({n.row.module})"


def _slot(p: object, ir: "IR") -> str:
    port = ir.port(p)  # type: ignore[arg-type]
    if ir.numbering == "seeds" and port.stride is not None and port.stride.denominator == 1:
        return str(int(port.stride).bit_length() - 2)
    return str(ir.nodes[p.node].index)  # type: ignore[attr-defined]


def _fix_for(ir: "IR", node: "Node", p: object, s: Fraction, ref: Fraction) -> str:
    """A concrete fix for one input with the wrong stride: a tap or an earlier row with the right stride."""
    from .ir import PortRef

    assert isinstance(p, PortRef)
    if p.node >= 0:
        src = ir.nodes[p.node]
        if src.multi:
            for name, port in src.taps.items():
                if port.stride == ref:
                    where = f"tap {_slot(PortRef(p.node, name), ir)} ({name}, stride {_fmt(ref)})" if ir.numbering == "seeds" else f"`{src.row.name or src.index}.{name}` (stride {_fmt(ref)})"
                    break
            else:
                where = ""
            if where:
                return f"take {where} instead" + _resample_hint(ir, node, s, ref)
    for cand in sorted(ir.nodes.values(), key=lambda n: -n.position):
        if cand.position < node.position and cand.out.stride == ref and cand.position != p.node and not cand.multi:
            return f"take layer {cand.index} (stride {_fmt(ref)}) instead" + _resample_hint(ir, node, s, ref)
    return _resample_hint(ir, node, s, ref).removeprefix(", or ")


def _resample_hint(ir: "IR", node: "Node", s: Fraction, ref: Fraction) -> str:
    first = node.inputs[0]
    label = "the first input" if first.node < 0 else f"layer {ir.nodes[first.node].index}"
    if ref < s:
        return f", or downsample {label} by {_fmt(s / ref)} (or upsample the other input)"
    return f", or upsample by {_fmt(ref / s)} in {label}"


def _check_head(ir: "IR", node: "Node", diags: list[Diagnostic]) -> None:
    spec = ir.spec
    strides = node.in_strides
    anchors = node.bound.get("anchors")
    if isinstance(anchors, (list, tuple)) and len(anchors) != len(node.inputs):
        diags.append(Diagnostic("YN302", f"{node.decl.name} has {len(node.inputs)} inputs but {len(anchors)} anchor levels", node.row.from_span,
                                help="give one input per anchor level (or one anchor level per input in `anchors:`)",
                                notes=(f"anchors are defined at line {spec.span_of('anchors').line}",) if "anchors" in spec.spans else ()))
        node.ok = False
    if None in strides:
        return
    for i in range(1, len(strides)):
        if not strides[i] > strides[i - 1]:  # type: ignore[operator]
            order = ", ".join(f"{_input_name(ir, p)}: stride {_fmt(s)}" for p, s in zip(node.inputs, strides))
            diags.append(Diagnostic("YN403", f"{node.decl.name} inputs must go from small to large stride", node.input_spans[i] if i < len(node.input_spans) else node.row.from_span,
                                    label=f"stride {_fmt(strides[i])} after stride {_fmt(strides[i - 1])}",
                                    notes=(order,), help="list the inputs as P3, P4, P5 (strides 8, 16, 32), matching the anchor levels"))
            node.ok = False
            return
        if strides[i].denominator != 1:  # type: ignore[union-attr]
            break


def check_graph(ir: "IR", diags: list[Diagnostic]) -> None:
    """Rules over the whole graph: rows whose output nothing uses."""
    outputs = {o.node for o in ir.outputs}
    for pos, node in ir.nodes.items():
        if pos in outputs or not node.ok:
            continue
        if not ir.consumers(pos):
            diags.append(Diagnostic("YN206", f"nothing uses the output of {node.label}", node.row.span, severity="warning",
                                    help="reference it from a later row's `from`, or remove the row"))
