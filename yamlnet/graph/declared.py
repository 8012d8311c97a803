"""What validation takes from the declarations alone, without importing torch: the output shape of every row
whose block declares its shapes (`static_shapes`), and the parameter count of every row whose block declares it
(`params`). The shape pass (yamlnet/compile/shapes.py) builds and runs only the rows these leave open."""

from __future__ import annotations

from typing import Any

from ..diagnostics import Diagnostic
from ..spec.limits import Limits
from .ir import IR, PortRef
from .sizes import Size, propagate


def declared_rows(ir: IR) -> set[int]:
    """Rows whose output shapes follow from their declarations."""
    return {pos for pos, n in ir.nodes.items() if n.ok and n.decl.shapes_static(n.bound)}


def undeclared_rows(ir: IR) -> list[int]:
    """Rows that must be built and run on the meta device to learn their shapes (user blocks, timm backbones)."""
    declared = declared_rows(ir)
    return [pos for pos, n in ir.nodes.items() if n.ok and pos not in declared and n.decl.role != "select"]


def static_shape(ir: IR, sizes: dict[PortRef, Size], ref: PortRef) -> tuple[int, ...] | None:
    """(1, C, H, W) of a port from its declared channels and its propagated size (None where unknown)."""
    port, hw = ir.port(ref), sizes.get(ref)
    return None if port.channels is None or hw is None else (1, port.channels, hw[0], hw[1])


def declared_shapes(ir: IR, hw: Size) -> dict[int, Any]:
    """(1, C, H, W) of every row from the static inference (heads: None, their outputs are not feature maps)."""
    sizes = propagate(ir, hw)
    out: dict[int, Any] = {}
    for pos, node in ir.nodes.items():
        if node.decl.role == "head":
            out[pos] = None
        elif node.decl.role == "select":
            out[pos] = static_shape(ir, sizes, node.inputs[0]) if node.inputs else None
        elif node.multi:
            out[pos] = [static_shape(ir, sizes, PortRef(pos, t)) for t in node.taps]
        else:
            out[pos] = static_shape(ir, sizes, PortRef(pos))
    return out


def declared_params(ir: IR) -> tuple[dict[int, int], list[int]]:
    """Parameters of every row whose block declares its count (`params`; a row repeated as copies counts n
    times), and the rows whose count is only known by building them (on the meta device)."""
    counted: dict[int, int] = {}
    unknown: list[int] = []
    learned_act = getattr(ir.spec.activation, "name", None) == "nn.PReLU"  # the default activation has weights
    for pos, node in ir.nodes.items():
        if not node.ok:
            continue
        if node.decl.role == "select":
            counted[pos] = 0
            continue
        rule = node.decl.params
        if rule is None or learned_act:  # PReLU's weights depend on how each family shares it: counted on meta
            unknown.append(pos)
            continue
        c1 = node.c_in if node.decl.inputs != "one" else (node.c_in[0] if node.c_in else None)
        try:
            one = int(rule(c1, node.bound))
        except Exception:  # a faulty rule: the meta device tells
            unknown.append(pos)
            continue
        copies = max(node.n, 1) if node.decl.repeat == "sequential" else 1
        counted[pos] = one * copies
    return counted, unknown


def params_limit(ir: IR, limits: Limits, params: dict[int, int], complete: bool = True) -> list[Diagnostic]:
    """YN507 when the parameters exceed limits.params (`complete=False`: `params` leaves rows out, so only a sum
    already over the limit is reported)."""
    total = sum(params.values())
    if total <= limits.params or not params:
        return []
    pos = max(params, key=lambda p: params[p])
    node = ir.nodes[pos]
    return [
        Diagnostic(
            "YN507",
            f"the model has {'at least ' if not complete else ''}{total:,} parameters; the limit is {limits.params:,}",
            node.row.span,
            label=f"the largest row: {params[pos]:,} parameters",
            help="check the channel arguments and width_multiple; raise the limit with --max-params if this size is intended",
        )
    ]
