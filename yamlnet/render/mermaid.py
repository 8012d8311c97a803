"""The diagram as Mermaid (`flowchart TD`), for READMEs that render Mermaid: the same rows, taps, shapes and
stride colours as the graphviz diagram. Mermaid has no ports, so each tap of a multi-output backbone is a small
node of its own (`n0_P4`) hanging under the backbone, and consumers' edges leave from it."""

from __future__ import annotations

from fractions import Fraction

from ..graph.ir import IR, PortRef
from .diagram import ERROR, WARNING, _diag_line, _faulty_rows, drawn_inputs, key_args, node_id, stride_colors
from .summary import Facts, shape_text, stride_text
from .table import index_label


def _q(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;").replace("|", "#124;")


def _cls(s: Fraction | None) -> str:
    if s is None or s <= 0:
        return "sx"
    return f"s{stride_text(s).replace('/', '_')}"


def _tap_id(ir: IR, ref: PortRef) -> str:
    return f"{node_id(ir, ref.node)}_{ref.tap}"


def to_mermaid(facts: Facts) -> str:
    ir = facts.ir
    lines = ["flowchart TD"]
    if ir is None:
        for k, d in enumerate(facts.diagnostics):
            lines.append(f'  d{k}["{_q(_diag_line(d))}"]:::faulty')
        lines.append(f"  classDef faulty fill:#fff0f0,stroke:{ERROR},stroke-width:3px")
        return "\n".join(lines) + "\n"
    c, h, w = ir.spec.ch, *facts.hw
    lines.append(f'  input(["input {c}×{h}×{w}"])')
    faulty = _faulty_rows(facts)
    used: set[Fraction | None] = set()
    classes: list[str] = []
    for section in ("backbone", "head"):
        lines.append(f"  subgraph {section}")
        lines.append("    direction TB")
        for pos, node in ir.nodes.items():
            if node.row.section != section:
                continue
            nid = node_id(ir, pos)
            parts = []
            args = ", ".join(key_args(node))
            if args:
                parts.append(args if len(args) <= 48 else args[:45] + "…")
            p = facts.params.get(pos)
            ptext = f"{p:,} params" if p is not None else ""
            if node.multi:
                parts.append(ptext)
                stride = None
            elif node.decl.role == "head":
                parts.append(f"{facts.output_text(node)} · strides {', '.join(stride_text(s) for s in node.in_strides)}")
                parts.append(ptext)
                stride = None
            else:
                parts.append(
                    f"{facts.output_text(node)} · /{stride_text(node.out.stride)}" + (f" · {ptext}" if ptext and node.decl.role != "select" else "")
                )
                stride = node.out.stride
            title = f"<b>{_q(index_label(ir, node))} {_q(node.row.module)}</b>" + (f" ×{node.n}" if node.n > 1 else "")
            label = "<br/>".join([title] + [_q(x) for x in parts if x])
            lines.append(f'    {nid}["{label}"]')
            used.add(stride)
            classes.append(f"  class {nid} {'faulty' if faulty.get(pos) == ERROR else 'warned' if faulty.get(pos) else _cls(stride)}")
            for tap, port in node.taps.items():
                tid = _tap_id(ir, PortRef(pos, tap))
                shp = shape_text(facts.port_shape(PortRef(pos, tap)))
                lines.append(f'    {tid}(["{_q(tap)} · {shp} · /{stride_text(port.stride)}"])')
                used.add(port.stride)
                classes.append(f"  class {tid} {_cls(port.stride)}")
        lines.append("  end")
    for pos, node in ir.nodes.items():
        for tap in node.taps:
            lines.append(f"  {node_id(ir, pos)} --- {_tap_id(ir, PortRef(pos, tap))}")
    for pos, node in ir.nodes.items():
        for ref in drawn_inputs(ir, node):
            src = _tap_id(ir, ref) if ref.tap is not None else node_id(ir, ref.node)
            shape = facts.port_shape(ref)
            arrow = f'-->|"{_q(shape_text(shape))}"|' if shape and node.ok else "-.->"
            lines.append(f"  {src} {arrow} {node_id(ir, pos)}")
    shown = [d for d in facts.diagnostics if d.severity != "note"]
    if shown:
        text = "<br/>".join(_q(_diag_line(d)) for d in shown[:15])
        lines.append(f'  diagnostics["{text}"]:::faulty')
    for s in sorted((s for s in used if s is not None), key=float):
        fill, line = stride_colors(s)
        lines.append(f"  classDef {_cls(s)} fill:{fill},stroke:{line},color:#111")
    lines.append("  classDef sx fill:#ffffff,stroke:#555555,color:#111")
    lines.append(f"  classDef faulty fill:#fff0f0,stroke:{ERROR},stroke-width:3px,color:#111")
    lines.append(f"  classDef warned stroke:{WARNING},stroke-width:3px,color:#111")
    lines += classes
    return "\n".join(lines) + "\n"


__all__ = ["to_mermaid"]
