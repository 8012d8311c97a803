"""The layer table (index, from, n, params, module, arguments, output shape, stride), as text or data."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..graph.ir import IR, Node
from ..registry import FILL_C1, FILL_C1S, FILL_N, FILL_WEIGHTS


@dataclass
class LayerRow:
    index: int | str
    position: int
    from_: str
    n: int
    params: int | None
    module: str
    args: str
    shape: str
    stride: str


def display_args(node: Node) -> list[Any]:
    """The constructor arguments as YOLOv5 prints them: filled values plus the arguments the row wrote."""
    if node.decl.role == "select":
        return list(node.row.args)
    out: list[Any] = []
    given = len(node.row.args)
    k = 0
    for a in node.decl.args:
        if a.fill in (FILL_C1, FILL_C1S, FILL_N):
            out.append(node.bound.get(a.name))
            continue
        if a.fill == FILL_WEIGHTS:
            k += 1
            continue
        if k < given and a.name in node.bound:
            out.append(node.bound[a.name])
        k += 1
    return out


def _fmt_stride(s: Fraction | None) -> str:
    if s is None:
        return "?"
    return str(int(s)) if s.denominator == 1 else str(s)


def _fmt_from(node: Node) -> str:
    refs = node.row.refs
    texts = [r.text for r in refs]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _fmt_shape(shape: Any) -> str:
    if shape is None:
        return ""
    if isinstance(shape, tuple):
        return "x".join(str(v) for v in shape[1:])
    if isinstance(shape, list):
        inner = [s for s in shape if s is not None]
        if inner and all(isinstance(s, tuple) for s in inner):
            return ", ".join(_fmt_shape(s) for s in inner)
        return _fmt_shape(inner[0]) if inner else ""
    return ""


def index_label(ir: IR, node: Node) -> str:
    if ir.numbering == "seeds" and node.position == 0:
        return "0-4"
    return str(node.index)


def layer_rows(ir: IR, params: dict[int, int] | None = None, shapes: dict[int, Any] | None = None) -> list[LayerRow]:
    rows = []
    for pos, node in ir.nodes.items():
        stride = (
            ", ".join(f"{k}:{_fmt_stride(p.stride)}" for k, p in node.taps.items())
            if node.multi
            else _fmt_stride(node.out.stride)
            if node.decl.role != "head"
            else ""
        )
        rows.append(
            LayerRow(
                index=index_label(ir, node),
                position=pos,
                from_=_fmt_from(node),
                n=node.n,
                params=(params or {}).get(pos, 0 if node.decl.role == "select" else None),
                module=node.row.module,
                args=str(display_args(node)),
                shape=_fmt_shape((shapes or {}).get(pos)),
                stride=stride,
            )
        )
    return rows


def format_table(rows: list[LayerRow]) -> str:
    head = ("", "from", "n", "params", "module", "arguments", "output", "stride")
    data = [(str(r.index), r.from_, str(r.n), "" if r.params is None else f"{r.params:,}", r.module, r.args, r.shape, r.stride) for r in rows]
    widths = [max(len(head[i]), *(len(d[i]) for d in data)) if data else len(head[i]) for i in range(len(head))]
    widths[5] = min(widths[5], 60)
    right = {0, 2, 3}

    def line(cells: tuple[str, ...]) -> str:
        parts = []
        for i, c in enumerate(cells):
            if i == 5 and len(c) > widths[5]:
                c = c[: widths[5] - 3] + "..."
            parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    return "\n".join([line(head)] + [line(d) for d in data])


def format_columns(
    head: tuple[str, ...],
    data: list[tuple[str, ...]],
    right: set[int] = frozenset(),  # type: ignore[assignment]
    clip: dict[int, int] | None = None,
) -> str:
    """Any table as aligned text: `right` are right-aligned columns, `clip` caps a column's width (with ...)."""
    clip = clip or {}
    widths = [max(len(head[i]), *(len(d[i]) for d in data)) if data else len(head[i]) for i in range(len(head))]
    for i, w in clip.items():
        widths[i] = min(widths[i], w)

    def line(cells: tuple[str, ...]) -> str:
        parts = []
        for i, c in enumerate(cells):
            if i in clip and len(c) > widths[i]:
                c = c[: widths[i] - 3] + "..."
            parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    return "\n".join([line(head)] + [line(d) for d in data])
