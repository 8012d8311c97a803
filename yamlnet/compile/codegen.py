"""IR + modules -> torch.fx.GraphModule with a straight-line forward.

Submodules live under `model.{position}` so state_dict keys equal YOLOv5's (`model.0.conv.weight`, ...).
Each row becomes one call; a multi-output row's taps become `getitem`s on its result; fx frees each value
after its last use. There is no loop over layers and no saved-output list in the generated code.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn

from ..graph.ir import INPUT, IR, PortRef
from .model import YamlnetModel


def lower_graph(ir: IR) -> fx.Graph:
    """The one lowering of an IR: a torch.fx Graph with a placeholder `x` (and `text` when a block takes text
    embeddings), one `call_module("model.{row}")` per row, a `getitem` per tap used, and the model's outputs.
    The compiled model is this graph's generated code; the shape pass interprets the same graph.

    Each call_module node carries `meta["row"]`; a tap's getitem carries `meta["tap"] = (row, name)`; the value
    an Index row stands for carries its row in `meta["index_rows"]`."""
    graph = fx.Graph()
    x = graph.placeholder("x")
    values: dict[PortRef, fx.Node] = {PortRef(INPUT): x}
    # Text-guided blocks (YOLO-World, YOLOE) declare `text_io`: "in" takes the current text
    # embeddings as a second argument, "update" also returns the new ones (ImagePoolingAttn), "original" takes
    # those given to the model. They arrive as forward's optional second argument `text` (B, K, E); with None
    # each block uses its own placeholder (zeros), as the package does without a text model.
    roles = {pos: node.decl.text_io for pos, node in ir.nodes.items()}
    text = graph.placeholder("text", default_value=None) if any(roles.values()) else None
    current = text

    def value(ref: PortRef) -> fx.Node:
        if ref in values:
            return values[ref]
        base = values[PortRef(ref.node)]
        node = ir.nodes[ref.node]
        k = list(node.taps).index(ref.tap)
        v = graph.create_node("call_function", operator.getitem, (base, k), name=f"{_name(ir, ref.node)}_{ref.tap}")
        v.meta["tap"] = (ref.node, ref.tap)
        values[ref] = v
        return v

    for pos, node in ir.nodes.items():
        if node.decl.role == "select":  # picks a tap of another row: no module, the tap's value stands for it
            v = value(node.inputs[0])
            v.meta.setdefault("index_rows", []).append(pos)
            values[PortRef(pos)] = v
            continue
        ins = [value(p) for p in node.inputs]
        arg = ins[0] if node.decl.inputs == "one" else ins
        role = roles.get(pos)
        extra = () if role is None else (text if role == "original" else current,)
        # names go through fx's namespace, which makes them unique (a row named `conv_1` beside row 1's Conv)
        out = graph.create_node("call_module", f"model.{pos}", (arg, *extra), name=_name(ir, pos))
        out.meta["row"] = pos
        values[PortRef(pos)] = out
        if role == "update":
            current = out

    outs = [value(o) for o in ir.outputs]
    graph.output(outs[0] if len(outs) == 1 else tuple(outs))
    graph.lint()
    return graph


def module_root(modules: dict[int, nn.Module]) -> nn.Module:
    """The module tree the graph's targets name: `model.{row}`."""
    root = nn.Module()
    container = nn.Module()
    for pos in sorted(modules):
        container.add_module(str(pos), modules[pos])
    root.add_module("model", container)
    return root


def generate(ir: IR, modules: dict[int, nn.Module], class_name: str = "YamlnetModel") -> YamlnetModel:
    """The compiled model: the lowered graph's generated code over the row modules."""
    return YamlnetModel(module_root(modules), lower_graph(ir), class_name=class_name)


def _name(ir: IR, pos: int) -> str:
    """A row's value in the generated code: its `name:`, else `<module>_<index>`; an automatic name that a user
    gave to another row gets the suffix `_row` (fx's namespace still makes every name unique)."""
    node = ir.nodes[pos]
    if node.row.name:
        return node.row.name
    auto = f"{node.row.module.split('.')[-1].lower()}_{node.index}"
    return f"{auto}_row" if any(n.row.name == auto for n in ir.nodes.values()) else auto


__all__ = ["generate", "torch"]
