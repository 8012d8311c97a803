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


def generate(ir: IR, modules: dict[int, nn.Module], class_name: str = "YamlnetModel") -> YamlnetModel:
    root = nn.Module()
    container = nn.Module()
    for pos in sorted(modules):
        container.add_module(str(pos), modules[pos])
    root.add_module("model", container)

    graph = fx.Graph()
    x = graph.placeholder("x")
    values: dict[PortRef, fx.Node] = {PortRef(INPUT): x}

    def value(ref: PortRef) -> fx.Node:
        if ref in values:
            return values[ref]
        base = values[PortRef(ref.node)]
        node = ir.nodes[ref.node]
        k = list(node.taps).index(ref.tap)
        v = graph.call_function(operator.getitem, (base, k))
        v.name = f"{_name(ir, ref.node)}_{ref.tap}"
        values[ref] = v
        return v

    for pos, node in ir.nodes.items():
        if node.decl.name == "Index":
            values[PortRef(pos)] = value(node.inputs[0])
            continue
        ins = [value(p) for p in node.inputs]
        arg = ins[0] if node.decl.inputs == "one" else ins
        out = graph.call_module(f"model.{pos}", (arg,))
        out.name = _name(ir, pos)
        values[PortRef(pos)] = out

    outs = [value(o) for o in ir.outputs]
    graph.output(outs[0] if len(outs) == 1 else tuple(outs))
    graph.lint()
    gm = YamlnetModel(root, graph, class_name=class_name)
    return gm


def _name(ir: IR, pos: int) -> str:
    node = ir.nodes[pos]
    return (node.row.name or f"{node.row.module.split('.')[-1].lower()}_{node.index}").replace("-", "_")


__all__ = ["generate", "torch"]
