"""The architecture diagram: IR + measured facts -> graphviz.Digraph (laid out top-down by dot).

One node per row (index, block x n, key arguments, output C x H x W, stride, parameters), filled with the
colour of its stride level; a multi-output backbone is one node with a port per tap, and each consumer's edge
leaves its tap's port; backbone and head are clusters; edges carry tensor shapes; faulty rows get a red
border and the diagnostics are listed in a note.
"""

from __future__ import annotations

import html
import math
from fractions import Fraction
from typing import Any

import graphviz

from ..diagnostics import Diagnostic
from ..graph.ir import INPUT, IR, Node, PortRef
from ..registry import FILL_WEIGHTS
from .summary import Facts, shape_text, stride_text
from .table import index_label

FONT = "Helvetica"
ERROR = "#d62728"
WARNING = "#e08a00"

# (fill, line) per stride level 2^k; fractional or unknown strides are white
_PALETTE = {
    0: ("#eeeeee", "#6b6b6b"),
    1: ("#fbe3ea", "#b8336a"),
    2: ("#fde9d3", "#c46a12"),
    3: ("#e1f3dc", "#2e8b3d"),
    4: ("#dde9f8", "#2c6fbb"),
    5: ("#ebe4f6", "#7345a8"),
    6: ("#fbf3c4", "#9c7c00"),
    7: ("#daf1f4", "#127f8c"),
}
_NEUTRAL = ("#ffffff", "#555555")


def stride_colors(s: Fraction | None) -> tuple[str, str]:
    """(fill, line) colour of a stride level."""
    if s is None or s <= 0 or s.denominator != 1:
        return _NEUTRAL
    k = int(s).bit_length() - 1
    if 2**k != int(s):
        return _NEUTRAL
    return _PALETTE.get(k, _PALETTE[k % 8])


def node_id(ir: IR, ref_node: int) -> str:
    return "input" if ref_node == INPUT else f"n{ir.nodes[ref_node].index}"


def _short(v: Any, depth: int = 0) -> str:
    """A value as a compact argument text: long or nested lists are summarised."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, (list, tuple)) for x in v):
            inner = {len(x) for x in v}
            return f"{len(v)}×[{inner.pop()}]" if len(inner) == 1 else f"[{len(v)} lists]"
        if len(v) > 4:
            return "[" + ", ".join(_short(x, depth + 1) for x in v[:3]) + f", … {len(v)}]"
        return "[" + ", ".join(_short(x, depth + 1) for x in v) + "]"
    return str(v)


def key_args(node: Node) -> list[str]:
    """The arguments the row wrote, by name (`c2=128`), after binding and width scaling."""
    if node.decl.role == "select":
        return [f"k={node.row.args[1]}"] if len(node.row.args) == 2 else []
    out: list[str] = []
    written = len(node.row.args)
    k = 0
    for a in node.decl.args:
        if not a.from_yaml:
            continue
        if k < written:
            if a.fill == FILL_WEIGHTS:
                w = node.bound.get(a.name, node.row.args[k])
                if w not in (False, None):
                    out.append("weights")
            elif a.name in node.bound:
                if node.bound[a.name] is not None:
                    out.append(f"{a.name}={_short(node.bound[a.name])}")
            else:
                out.append(_short(node.row.args[k]))
        k += 1
    return out


def _wrap(parts: list[str], width: int = 34) -> list[str]:
    lines: list[str] = []
    cur = ""
    for p in parts:
        piece = p if not cur else cur + ", " + p
        if cur and len(piece) > width:
            lines.append(cur + ",")
            cur = p
        else:
            cur = piece
    if cur:
        lines.append(cur)
    return lines


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _params_text(n: int | None) -> str:
    if n is None:
        return "? params"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M params"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k params"
    return f"{n:,} params"


def _describe(m: Any) -> str:
    """A child module in a few words: its class and, for convolutions, channels, kernel and stride."""
    from torch import nn

    conv = m if isinstance(m, nn.Conv2d) else getattr(m, "conv", None)
    name = type(m).__name__
    if isinstance(conv, nn.Conv2d):
        k = "x".join(map(str, conv.kernel_size)) if len(set(conv.kernel_size)) > 1 else str(conv.kernel_size[0])
        s = conv.stride[0]
        g = f" g{conv.groups}" if conv.groups > 1 else ""
        return f"{name} {conv.in_channels}→{conv.out_channels} k{k}" + (f" s{s}" if s != 1 else "") + g
    if isinstance(m, (nn.Sequential, nn.ModuleList)):
        kids = list(m.children())
        kinds = {type(c).__name__ for c in kids}
        if kids and len(kinds) == 1:
            return f"{len(kids)}× {kinds.pop()}"
        return f"{name} ({len(kids)})"
    return name


def _children_rows(module: Any, colspan: int) -> str:
    kids = list(module.named_children())
    if not kids:
        return ""
    cells = []
    for name, child in kids[:12]:
        p = sum(x.numel() for x in child.parameters())
        cells.append(
            f'<TR><TD ALIGN="LEFT"><FONT FACE="Courier" POINT-SIZE="8">{_e(name)}</FONT></TD>'
            f'<TD ALIGN="LEFT"><FONT POINT-SIZE="8">{_e(_describe(child))}</FONT></TD>'
            f'<TD ALIGN="RIGHT"><FONT POINT-SIZE="8">{p:,}</FONT></TD></TR>'
        )
    if len(kids) > 12:
        cells.append(f'<TR><TD COLSPAN="3" ALIGN="LEFT"><FONT POINT-SIZE="8">… {len(kids) - 12} more</FONT></TD></TR>')
    inner = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1" BGCOLOR="#ffffff">' + "".join(cells) + "</TABLE>"
    return f'<TR><TD COLSPAN="{colspan}" ALIGN="LEFT">{inner}</TD></TR>'


def _row_label(facts: Facts, node: Node, border: str | None, detail: bool, own: list[Diagnostic] | None = None) -> str:
    ir = facts.ir
    assert ir is not None
    taps = list(node.taps.items()) if node.multi else []
    span = max(1, len(taps))
    fill, line = stride_colors(node.out.stride if not node.multi and node.decl.role != "head" else None)
    title = f'<FONT POINT-SIZE="9" COLOR="#444444">{_e(index_label(ir, node))}</FONT>  <B>{_e(node.row.module)}</B>'
    if node.n > 1:
        title += f" <B>×{node.n}</B>"
    if node.row.name:
        title += f"  <I>{_e(node.row.name)}</I>"
    rows = [f'<TR><TD COLSPAN="{span}" ALIGN="LEFT">{title}</TD></TR>']
    args = _wrap(key_args(node))
    if args:
        text = '<BR ALIGN="LEFT"/>'.join(_e(a) for a in args) + '<BR ALIGN="LEFT"/>'
        rows.append(f'<TR><TD COLSPAN="{span}" ALIGN="LEFT"><FONT POINT-SIZE="9">{text}</FONT></TD></TR>')
    measured = node.position in facts.params
    params = _params_text(facts.params.get(node.position)) if node.decl.role != "select" and measured else ""
    errs = [d for d in own or [] if d.severity == "error"]
    if errs or not node.ok:
        codes = ", ".join(sorted({d.code for d in errs}))
        problem = f"error {codes} (see the note)" if errs else "not checked: an input has an error"
        rows.append(f'<TR><TD COLSPAN="{span}" ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="{ERROR}"><B>{_e(problem)}</B></FONT></TD></TR>')
    if not node.ok or node.multi:
        info = params
    elif node.decl.role == "head":
        strides = ", ".join(stride_text(s) for s in node.in_strides)
        out = facts.output_text(node)
        info = f"{out}  ·  strides {strides}" + (f"  ·  {params}" if params else "")
    else:
        info = f"{facts.output_text(node)}  ·  /{stride_text(node.out.stride)}" + (f"  ·  {params}" if params else "")
    if info:
        rows.append(f'<TR><TD COLSPAN="{span}" ALIGN="LEFT"><FONT POINT-SIZE="9">{_e(info)}</FONT></TD></TR>')
    if detail and node.position in facts.modules:
        rows.append(_children_rows(facts.modules[node.position], span))
    if taps:
        cells = []
        for name, port in taps:
            tf, tl = stride_colors(port.stride)
            shp = shape_text(facts.port_shape(PortRef(node.position, name)))
            cells.append(
                f'<TD PORT="{_e(name)}" BORDER="1" CELLPADDING="4" COLOR="{tl}" BGCOLOR="{tf}"><B>{_e(name)}</B>'
                f'<BR/><FONT POINT-SIZE="9">{_e(shp)}<BR/>/{_e(stride_text(port.stride))}</FONT></TD>'
            )
        rows.append("<TR>" + "".join(cells) + "</TR>")
    color = border or line
    width = "3" if border else "1"
    style = ' STYLE="dashed"' if not node.ok and not errs else ""
    if style:
        width = "2"
    return (
        f'<<TABLE BORDER="{width}"{style} CELLBORDER="0" CELLSPACING="2" CELLPADDING="2" BGCOLOR="{fill}" COLOR="{color}">'
        + "".join(rows)
        + "</TABLE>>"
    )


def row_diagnostics(facts: Facts) -> dict[int, list[Diagnostic]]:
    """position -> the diagnostics whose span lies on that row."""
    ir = facts.ir
    out: dict[int, list[Diagnostic]] = {}
    if ir is None:
        return out
    by_line: dict[int, int] = {}
    for pos, node in ir.nodes.items():
        sp = node.row.span
        for ln in range(sp.line, (sp.end_line or sp.line) + 1):
            by_line.setdefault(ln, pos)
    for d in facts.diagnostics:
        pos = by_line.get(d.span.line) if d.span.line and d.severity != "note" else None
        if pos is not None:
            out.setdefault(pos, []).append(d)
    return out


def _faulty_rows(facts: Facts) -> dict[int, str]:
    """position -> border colour: red for rows with an error (ok=False or an error on the row), orange for
    rows with only warnings."""
    ir = facts.ir
    out: dict[int, str] = {}
    if ir is None:
        return out
    for pos, diags in row_diagnostics(facts).items():
        out[pos] = ERROR if any(d.severity == "error" for d in diags) else WARNING
    for pos, node in ir.nodes.items():
        if not node.ok:
            out[pos] = ERROR
    return out


def drawn_inputs(ir: IR, node: Node) -> list[PortRef]:
    """The inputs to draw for a row: the IR's, or for a row whose inputs the IR dropped after an error upstream,
    its `from` resolved leniently (whatever can be found, without judging it)."""
    if len(node.inputs) == len(node.row.refs) or node.decl.role == "select" and node.inputs:
        return list(node.inputs)
    from ..spec.numbering import SEED_SLOTS

    names = {n.row.name: pos for pos, n in ir.nodes.items() if n.row.name}
    by_index = {n.index: pos for pos, n in ir.nodes.items()}
    out: list[PortRef] = []
    for ref in node.row.refs:
        tap = ref.tap
        if ref.row_name is not None:
            pos = names.get(ref.row_name)
        elif ref.index is not None:
            if node.position == 0 and ref.index == -1 and tap is None:
                out.append(PortRef(INPUT))
                continue
            target = node.index + ref.index if ref.index < 0 else ref.index
            pos = by_index.get(target)
            if pos is None and ir.numbering == "seeds" and 0 <= target < SEED_SLOTS:
                pos = 0
                if tap is None:
                    tap = next((t for t, p in ir.nodes[0].taps.items() if p.stride == 2 ** (target + 1)), None)
        else:
            pos = None
        if pos is None or pos >= node.position or pos not in ir.nodes:
            continue
        src = ir.nodes[pos]
        if tap is not None and tap not in src.taps:
            tap = None
        out.append(PortRef(pos, tap))
    return out


def _diag_line(d: Diagnostic) -> str:
    where = f"line {d.span.line}: " if d.span.line else ""
    text = f"{d.severity}[{d.code}] {where}{d.message}"
    return text if len(text) <= 110 else text[:107] + "…"


def _note_lines(d: Diagnostic) -> str:
    """One diagnostic for the note node: the message, then its help, as left-justified DOT text."""
    lines = [_diag_line(d)] + ([f"    help: {d.help}" if len(d.help) <= 110 else f"    help: {d.help[:100]}…"] if d.help else [])
    return "\\l".join(x.replace("\\", "\\\\").replace('"', "'") for x in lines)


def _legend(levels: list[Fraction]) -> str:
    rows = ['<TR><TD COLSPAN="2"><B>stride</B></TD></TR>']
    for s in levels:
        fill, line = stride_colors(s)
        tap = f"  P{int(math.log2(s))}" if s.denominator == 1 and s >= 1 and 2 ** int(math.log2(s)) == s else ""
        rows.append(
            f'<TR><TD BGCOLOR="{fill}" COLOR="{line}" BORDER="1" WIDTH="18"> </TD>'
            f'<TD ALIGN="LEFT"><FONT POINT-SIZE="9">/{_e(stride_text(s))}{tap}</FONT></TD></TR>'
        )
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def build_digraph(facts: Facts, detail: bool = False) -> graphviz.Digraph:
    """The diagram of one spec as a graphviz.Digraph (its `.source` is the DOT text)."""
    g = graphviz.Digraph(facts.name, format="svg")
    # more room between ranks when edges fan out of a backbone's taps, so they bend clear of its bottom border
    multi = facts.ir is not None and any(n.multi for n in facts.ir.nodes.values())
    g.attr(
        "graph",
        rankdir="TB",
        fontname=FONT,
        fontsize="12",
        nodesep="0.3",
        ranksep="0.42" if multi else "0.25",
        newrank="true",
        labelloc="t",
        label=_title(facts),
        bgcolor="white",
        pad="0.2",
    )
    g.attr("node", shape="plaintext", fontname=FONT, fontsize="10", margin="0")
    g.attr("edge", fontname=FONT, fontsize="8", arrowsize="0.6", penwidth="1.1")
    ir = facts.ir
    top = graphviz.Digraph("top")
    top.attr(rank="source")
    if ir is not None:
        c, h, w = ir.spec.ch, *facts.hw
        top.node(
            "input", f"input\n{c}×{h}×{w}", id="input", shape="box", style="rounded,filled", fillcolor="#f7f7f7", color="#888888", margin="0.12,0.04"
        )
        levels = sorted(
            {
                s
                for n in ir.nodes.values()
                for s in ([p.stride for p in n.taps.values()] if n.multi else [n.out.stride])
                if s is not None and n.decl.role != "head"
            }
        )
        if levels:
            top.node("legend", _legend(levels), id="legend")
    if facts.diagnostics and any(d.severity != "note" for d in facts.diagnostics):
        shown = [d for d in facts.diagnostics if d.severity != "note"]
        text = "\\l".join(_note_lines(d) for d in shown[:15])
        if len(shown) > 15:
            text += f"\\l… and {len(shown) - 15} more (yamlnet validate lists them all)"
        top.node(
            "diagnostics",
            text + "\\l",
            shape="note",
            id="diagnostics",
            style="filled",
            fillcolor="#fff0f0",
            color=ERROR if any(d.severity == "error" for d in shown) else WARNING,
            fontcolor="#7a0000",
            fontsize="9",
        )
    g.subgraph(top)
    if ir is None:
        return g
    faulty = _faulty_rows(facts)
    own = row_diagnostics(facts)
    for section in ("backbone", "head"):
        cl = graphviz.Digraph(f"cluster_{section}")
        cl.attr(label=section, fontname=FONT, fontsize="11", style="rounded,dashed", color="#9a9a9a", fontcolor="#555555", labeljust="l", margin="10")
        for pos, node in ir.nodes.items():
            if node.row.section == section:
                cl.node(
                    node_id(ir, pos),
                    _row_label(facts, node, faulty.get(pos), detail, own.get(pos)),
                    id=node_id(ir, pos),
                    tooltip=_tooltip(facts, node, own.get(pos)),
                )
        g.subgraph(cl)
    edge_ids: set[str] = set()
    # edges leaving taps first, in tap order (P3 before P4): dot's initial order, which keeps tap edges from crossing
    tap_rank = {(pos, t): k for pos, n in ir.nodes.items() for k, t in enumerate(n.taps)}
    pairs = [(pos, node, ref) for pos, node in ir.nodes.items() for ref in drawn_inputs(ir, node)]
    pairs.sort(key=lambda e: (0, e[2].node, tap_rank[(e[2].node, e[2].tap)], e[0]) if e[2].tap is not None else (1, 0, 0, 0))
    for pos, node, ref in pairs:
        if True:
            src = node_id(ir, ref.node)
            tail = f"{src}:{ref.tap}:s" if ref.tap is not None else src
            try:
                port = ir.port(ref)
            except KeyError:
                continue
            chain = ref.node == pos - 1 or (ref.node == INPUT and pos == 0)
            shape = facts.port_shape(ref)
            eid = f"{src}:{ref.tap}->{node_id(ir, pos)}" if ref.tap is not None else f"{src}->{node_id(ir, pos)}"
            while eid in edge_ids:
                eid += "'"
            edge_ids.add(eid)
            if shape is None or not node.ok:
                g.edge(
                    tail,
                    node_id(ir, pos),
                    label=shape_text(shape) if shape else "",
                    color="#999999",
                    fontcolor="#777777",
                    style="dashed",
                    weight="8" if chain else "1",
                    id=eid,
                )
                continue
            _, line = stride_colors(port.stride)
            g.edge(tail, node_id(ir, pos), label=shape_text(shape), color=line, fontcolor=line, weight="8" if chain else "1", id=eid)
    return g


def _tooltip(facts: Facts, node: Node, own: list[Diagnostic] | None) -> str:
    from .table import display_args

    assert facts.ir is not None
    text = f"{index_label(facts.ir, node)}: [{', '.join(r.text for r in node.row.refs)}], {node.row.number}, {node.row.module}, {display_args(node)}"
    text += f" (line {node.row.span.line})"
    for d in own or []:
        text += f"\n{d.severity}[{d.code}] {d.message}"
    return text.replace("\\", "/")


def _title(facts: Facts) -> str:
    parts = [facts.name]
    if facts.ir is not None:
        parts.append(f"{len(facts.ir.nodes)} rows")
        total = facts.total_params
        if total is not None:
            parts.append(f"{total:,} parameters")
        parts.append(f"input {facts.hw[0]}×{facts.hw[1]}")
    if not facts.ok:
        parts.append("ERRORS")
    return "  ·  ".join(parts)


__all__ = ["build_digraph", "key_args", "node_id", "stride_colors"]
