"""What the diagrams and summaries show, measured without allocating a weight: output shapes from the shape
pass, parameters and FLOPs from the model built on the meta device.

FLOPs follow YOLOv5's convention (`docs/summary.md`): torch's FlopCounterMode (2 x multiply-accumulates of
convolutions, linear layers and matmuls, bias not counted) plus what thop adds and YOLOv5 doubles: 8 per
element through an affine normalisation (4 without affine) and 2 per output element of a nearest upsample
(linear 10, bilinear 22, bicubic 518). yolov5s at 640: 16.63 GFLOPs, which YOLOv5 prints as 16.6.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, SourceText, Span
from ..graph.ir import INPUT, IR, Node, PortRef
from ..spec.limits import DEFAULT_LIMITS, Limits
from .table import LayerRow, _fmt_shape, layer_rows

#: FLOPs per element that thop counts for upsampling modes, before YOLOv5's doubling
_UPSAMPLE_OPS = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}


@dataclass
class Facts:
    """Everything the renderers need about one spec at one input size."""

    path: str
    hw: tuple[int, int]
    ir: IR | None
    diagnostics: list[Diagnostic]
    source: SourceText | None = None
    shapes: dict[int, Any] = field(default_factory=dict)  # position -> output shape(s) from the shape pass
    static_sizes: dict[PortRef, tuple[int, int]] = field(default_factory=dict)  # from the strides, when the pass failed
    params: dict[int, int] = field(default_factory=dict)  # position -> parameters
    modules: dict[int, Any] = field(default_factory=dict)  # position -> the row's module on the meta device
    layers: int | None = None  # len(list(model.modules())), as YOLOv5's model.info counts layers
    flops: dict[int, int] = field(default_factory=dict)  # position -> FLOPs (YOLOv5 convention)
    total_flops: int | None = None
    torch_flops: int | None = None  # torch.utils.flop_counter alone

    @property
    def name(self) -> str:
        return Path(self.path).stem

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def total_params(self) -> int | None:
        """All parameters, or None when a row could not be measured (a spec with errors)."""
        if self.ir is None or any(pos not in self.params for pos, n in self.ir.nodes.items() if n.decl.role != "select"):
            return None
        return sum(self.params.values())

    @property
    def gflops(self) -> float | None:
        return None if self.total_flops is None else self.total_flops / 1e9

    def port_shape(self, ref: PortRef) -> tuple[int, int, int] | None:
        """(C, H, W) of a tensor: from the shape pass where it ran, else from channels and strides."""
        if self.ir is None:
            return None
        if ref.node == INPUT:
            return (self.ir.spec.ch, *self.hw)
        node = self.ir.nodes.get(ref.node)
        if node is None:
            return None
        got = self.shapes.get(ref.node)
        if ref.tap is not None and isinstance(got, list) and ref.tap in node.taps:
            k = list(node.taps).index(ref.tap)
            got = got[k] if k < len(got) else None
        if isinstance(got, tuple) and len(got) == 4:
            return got[1], got[2], got[3]
        try:
            port = self.ir.port(ref)
        except KeyError:
            return None
        size = self.static_sizes.get(ref)
        if port.channels is None or size is None:
            return None
        return port.channels, size[0], size[1]

    def output_text(self, node: Node) -> str:
        """The row's output as the table prints it (C x H x W, or the head's output)."""
        if node.multi:
            return ", ".join(shape_text(self.port_shape(PortRef(node.position, t))) for t in node.taps)
        if node.decl.role == "head":
            return _fmt_shape(self.shapes.get(node.position)).replace("x", "×")
        return shape_text(self.port_shape(PortRef(node.position)))

    def rows(self) -> list[LayerRow]:
        if self.ir is None:
            return []
        rows = layer_rows(self.ir, self.params, self.shapes)
        for r in rows:
            node = self.ir.nodes[r.position]
            if not r.shape and not node.multi and node.decl.role != "head":
                s = self.port_shape(PortRef(node.position))
                r.shape = "x".join(map(str, s)) if s else ""
        return rows


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(v) for v in shape) if shape else "?"


def stride_text(s: Fraction | None) -> str:
    if s is None:
        return "?"
    return str(int(s)) if s.denominator == 1 else str(s)


def collect(
    path: str | os.PathLike[str],
    hw: tuple[int, int] = (640, 640),
    limits: Limits = DEFAULT_LIMITS,
    flops: bool = False,
    modules: bool = False,
    overrides: dict[str, Any] | None = None,
) -> Facts:
    """Analyse a spec and measure it on the meta device; a spec with errors gives what can still be known.
    `overrides` replace top-level keys (scale, nc, ...), as in `yamlnet.analyze`."""
    from ..api import analyze
    from ..graph.sizes import check_sizes, propagate

    report = analyze(path, limits, **(overrides or {}))
    facts = Facts(report.path, hw, report.ir, list(report.diagnostics), report.source)
    ir = report.ir
    if ir is None:
        return facts
    facts.static_sizes = propagate(ir, hw)
    if facts.ok:
        facts.diagnostics += check_sizes(ir, hw, limits)
    if not facts.ok:
        _rowwise(facts)
        return facts
    from ..compile.shapes import meta_model, shape_pass

    facts.shapes, sdiags = shape_pass(ir, hw, limits, fast=False)  # the modules the FLOPs count runs on, built once
    facts.diagnostics += sdiags
    gm, mdiags, mods = meta_model(ir)
    facts.diagnostics += [d for d in mdiags if d not in sdiags]
    if gm is None:
        facts.params = {pos: sum(p.numel() for p in m.parameters()) for pos, m in mods.items()}
        facts.modules = mods
        return facts
    facts.params = {pos: sum(p.numel() for p in m.parameters()) for pos, m in mods.items()}
    facts.layers = len(list(gm.modules()))
    if modules:
        facts.modules = mods
    if flops and facts.ok:
        _count_flops(facts, gm, mods)
    return facts


def _rowwise(facts: Facts) -> None:
    """Build the rows that are fine on meta (for a spec with errors): their parameters and modules."""
    from ..compile.shapes import meta_modules

    assert facts.ir is not None
    mods, diags = meta_modules(facts.ir)
    facts.diagnostics += diags
    facts.modules = mods
    facts.params = {pos: sum(p.numel() for p in m.parameters()) for pos, m in mods.items()}


def _count_flops(facts: Facts, gm: Any, mods: dict[int, Any]) -> None:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    assert facts.ir is not None
    extra: dict[int, int] = {}
    torch_rows: dict[int, int] = {}
    state: dict[str, Any] = {"row": None, "start": 0}
    counter = FlopCounterMode(display=False)
    handles = []

    def before(pos: int) -> Any:
        def hook(_m: Any, _inp: Any) -> None:
            state["row"], state["start"] = pos, counter.get_total_flops()

        return hook

    def after(pos: int) -> Any:
        def hook(_m: Any, _inp: Any, _out: Any) -> None:
            torch_rows[pos] = torch_rows.get(pos, 0) + counter.get_total_flops() - state["start"]
            state["row"] = None

        return hook

    def leaf(m: Any, inp: Any, out: Any) -> None:
        ops = 0
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm, nn.GroupNorm)):
            affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
            ops = 2 * inp[0].numel() * (2 if affine else 1)
        elif isinstance(m, nn.Upsample) and isinstance(out, torch.Tensor):
            ops = _UPSAMPLE_OPS.get(m.mode, 0) * out.numel()
        if ops and state["row"] is not None:
            extra[state["row"]] = extra.get(state["row"], 0) + 2 * ops  # YOLOv5 doubles thop's count

    for pos, m in mods.items():
        for sub in m.modules():  # before the row's own hooks: a row that is itself an Upsample counts first
            if isinstance(sub, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm, nn.GroupNorm, nn.Upsample)):
                handles.append(sub.register_forward_hook(leaf))
        handles.append(m.register_forward_pre_hook(before(pos)))
        handles.append(m.register_forward_hook(after(pos)))
    x = torch.empty(1, facts.ir.spec.ch, *facts.hw, device="meta")
    gm.eval()
    try:
        with counter, torch.no_grad():
            gm(x)
    except Exception as e:  # noqa: BLE001 - the shape pass ran, so this is unexpected; report it, do not crash
        facts.diagnostics.append(
            Diagnostic("YN901", f"FLOPs could not be counted: {type(e).__name__}: {e}"[:300], Span.unknown(facts.path), severity="warning")
        )
        return
    finally:
        for h in handles:
            h.remove()
    facts.torch_flops = counter.get_total_flops()
    facts.flops = {pos: torch_rows.get(pos, 0) + extra.get(pos, 0) for pos in mods}
    facts.total_flops = facts.torch_flops + sum(extra.values())


# ---- output -------------------------------------------------------------------------------------------------


def summary_json(facts: Facts) -> dict[str, Any]:
    """The summary as a `yamlnet.output.ModelOutput` document (docs/output-format.md)."""
    from ..output import model_document

    doc = model_document(
        "summary",
        facts.path,
        facts.ir,
        facts.diagnostics,
        facts.hw,
        params=facts.params,
        shapes=facts.shapes,
        port_shape=facts.port_shape,
        parameters=facts.total_params,
        flops=facts.flops,
        gflops=None if facts.total_flops is None else round(facts.total_flops / 1e9, 4),
        gflops_torch=None if facts.torch_flops is None else round(facts.torch_flops / 1e9, 4),
        flops_convention="yolov5-thop",
        module_count=facts.layers,
    )
    return doc.model_dump(by_alias=True, mode="json")


def _gf(v: int | None) -> str:
    return "" if v is None else f"{v / 1e9:.2f}"


def totals_line(facts: Facts) -> str:
    parts = []
    if facts.layers is not None:
        parts.append(f"{facts.layers} layers")
    if facts.total_params is not None:
        parts.append(f"{facts.total_params:,} parameters")
    if facts.total_flops is not None:
        parts.append(f"{facts.total_flops / 1e9:.1f} GFLOPs at {facts.hw[0]}x{facts.hw[1]}")
    n_rows = len(facts.ir.nodes) if facts.ir is not None else 0
    return f"{facts.name} summary: {n_rows} rows, " + ", ".join(parts)


def summary_text(facts: Facts) -> str:
    from .table import format_columns

    head = ("", "from", "n", "params", "GFLOPs", "module", "arguments", "output", "stride")
    data = [
        (
            str(r.index),
            r.from_,
            str(r.n),
            "" if r.params is None else f"{r.params:,}",
            _gf(facts.flops.get(r.position)),
            r.module,
            r.args,
            r.shape,
            r.stride,
        )
        for r in facts.rows()
    ]
    table = format_columns(head, data, right={0, 2, 3, 4}, clip={6: 60})
    lines = [table, "", totals_line(facts)]
    if facts.torch_flops is not None:
        lines.append(f"(GFLOPs as YOLOv5 counts them; torch.utils.flop_counter alone: {facts.torch_flops / 1e9:.2f})")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def summary_markdown(facts: Facts) -> str:
    lines = [
        f"### {facts.name}",
        "",
        "| # | from | n | params | GFLOPs | module | arguments | output | stride |",
        "|--:|:--|--:|--:|--:|:--|:--|:--|:--|",
    ]
    for r in facts.rows():
        p = "" if r.params is None else f"{r.params:,}"
        lines.append(
            f"| {r.index} | `{_md(r.from_)}` | {r.n} | {p} | {_gf(facts.flops.get(r.position))} | {_md(r.module)} "
            f"| `{_md(r.args)}` | {_md(r.shape)} | {_md(r.stride)} |"
        )
    lines += ["", f"**{_md(totals_line(facts))}**"]
    return "\n".join(lines)


__all__ = ["Facts", "collect", "shape_text", "stride_text", "summary_json", "summary_markdown", "summary_text", "totals_line"]
