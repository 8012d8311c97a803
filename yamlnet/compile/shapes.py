"""The shape pass: build every block on the meta device (no weight memory), propagate a meta tensor, and
turn whatever a block raises into a diagnostic on its row. Also used for summaries and parameter counts."""

from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn

from ..diagnostics import Diagnostic
from ..graph.ir import IR, PortRef
from ..spec.limits import Limits
from .codegen import generate
from .instantiate import instantiate


def meta_model(ir: IR) -> tuple[fx.GraphModule | None, list[Diagnostic], dict[int, nn.Module]]:
    """The model built on the meta device; construction errors become diagnostics."""
    try:
        modules = instantiate(ir, "meta")
    except Exception as e:  # a block's constructor rejected its arguments
        pos = _failing_position(ir)
        node = ir.nodes.get(pos) if pos is not None else None
        span = node.row.span if node else ir.spec.span_of("backbone")
        return None, [Diagnostic("YN301" if "channel" in str(e).lower() else "YN107",
                                 f"{node.label if node else 'a block'} cannot be built: {_one_line(e)}", span,
                                 help="check this row's arguments against the block's reference (`yamlnet blocks`)")], {}
    gm = generate(ir, modules)
    for node in ir.heads():
        m = gm.get_submodule(f"model.{node.position}")
        if hasattr(m, "bind_strides"):
            m.bind_strides([float(s) for s in node.in_strides if s is not None])
    return gm, [], modules


def _failing_position(ir: IR) -> int | None:
    """Find the row whose constructor fails by building rows one at a time on meta."""
    from .context import activation
    from .instantiate import activation_factory, instantiate_node

    with activation(activation_factory(ir.spec.activation)), torch.device("meta"):
        for pos, node in ir.nodes.items():
            if node.decl.name == "Index":
                continue
            try:
                instantiate_node(node)
            except Exception:
                return pos
    return None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def shape_pass(ir: IR, hw: tuple[int, int], limits: Limits) -> tuple[dict[int, Any], list[Diagnostic]]:
    """Output shapes of every row at input size hw (position -> shape or list of shapes), and diagnostics."""
    gm, diags, _ = meta_model(ir)
    if gm is None:
        return {}, diags
    gm.eval()
    shapes: dict[int, Any] = {}
    env: dict[str, Any] = {}
    label = f"{hw[0]}x{hw[1]}"
    x = torch.empty(1, ir.spec.ch, hw[0], hw[1], device="meta")
    name_to_pos = {f"model.{p}": p for p in ir.nodes}
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            env[n.name] = x
            continue
        if n.op == "output":
            break
        args = fx.node.map_arg(n.args, lambda a: env[a.name])
        try:
            if n.op == "call_module":
                out = gm.get_submodule(n.target)(*args)
            else:
                out = n.target(*args)
        except Exception as e:
            pos = name_to_pos.get(str(n.target))
            node = ir.nodes[pos] if pos is not None else None
            span = node.row.span if node else ir.spec.span_of("backbone")
            diags.append(Diagnostic("YN405", f"at input {label}, {node.label if node else n.name} fails: {_one_line(e)}", span,
                                    help="check the input size against this block's needs (try a multiple of 32 or 64) and its input channels"))
            return shapes, diags
        env[n.name] = out
        if n.op == "call_module" and str(n.target) in name_to_pos:
            shapes[name_to_pos[str(n.target)]] = _shape_of(out)
    for pos, node in ir.nodes.items():
        if pos not in shapes or not node.ok:
            continue
        got = shapes[pos]
        if node.multi:
            for (name, port), shp in zip(node.taps.items(), got if isinstance(got, list) else []):
                if isinstance(shp, tuple) and len(shp) == 4 and port.channels is not None and shp[1] != port.channels:
                    diags.append(Diagnostic("YN306", f"{node.label}: tap {name} is declared with {port.channels} channels but has {shp[1]}", node.row.span,
                                            help="the block's declaration disagrees with its implementation; fix the declaration"))
        elif node.decl.role != "head" and isinstance(got, tuple) and len(got) == 4 and node.out.channels is not None and got[1] != node.out.channels:
            diags.append(Diagnostic("YN306", f"{node.label} is declared to give {node.out.channels} channels but gives {got[1]}", node.row.span,
                                    help="the block's declaration disagrees with its implementation; fix the declaration"))
    return shapes, diags


def _shape_of(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (list, tuple)):
        return [_shape_of(o) for o in out]
    return None


def meta_params(ir: IR) -> dict[int, int]:
    """Parameters of every row, counted on the meta device (nothing allocated)."""
    _, _, modules = meta_model(ir)
    return {pos: sum(p.numel() for p in m.parameters()) for pos, m in modules.items()}


__all__ = ["meta_model", "meta_params", "shape_pass", "PortRef"]
