"""IR node -> nn.Module: import the registered implementation and call it with the bound arguments."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .. import registry
from ..graph.bind import constructor_kwargs
from ..graph.ir import IR, Node
from ..spec.expr import ActivationCall
from .context import activation


def activation_factory(call: ActivationCall | None) -> Callable[[], nn.Module]:
    """The spec's `activation` (already checked against the allow-list; SiLU when absent) as a factory that
    returns one shared instance per build, as YOLOv5's class-level `Conv.default_act` is shared."""
    cls = nn.SiLU if call is None else getattr(nn, call.name.removeprefix("nn."))
    args, kwargs = (call.args, dict(call.kwargs)) if call is not None else ((), {})
    shared: list[nn.Module] = []

    def factory() -> nn.Module:
        if not shared:
            shared.append(cls(*args, **kwargs))
        return shared[0]

    return factory


def _materialize(v: Any) -> Any:
    """An activation written in a row (already checked against the allow-list) becomes its torch.nn module."""
    if isinstance(v, ActivationCall):
        return getattr(nn, v.name.removeprefix("nn."))(*v.args, **dict(v.kwargs))
    return v


def instantiate_node(node: Node) -> nn.Module:
    impl = registry.load_impl(node.decl)
    kwargs = {k: _materialize(v) for k, v in constructor_kwargs(node.decl, node.bound).items()}
    if node.n > 1 and node.decl.repeat == "sequential":
        return nn.Sequential(*(impl(**kwargs) for _ in range(node.n)))
    module = impl(**kwargs)
    if not isinstance(module, nn.Module):  # pragma: no cover - a faulty custom declaration
        raise TypeError(f"{node.decl.impl} returned {type(module).__name__}, not an nn.Module")
    return module


def instantiate(ir: IR, device: str | torch.device | None = None) -> dict[int, nn.Module]:
    """Every module of the graph (Index rows have none), built under the spec's default activation."""
    modules: dict[int, nn.Module] = {}
    ctx: Any = torch.device(device) if device is not None else contextlib.nullcontext()
    with activation(activation_factory(ir.spec.activation)), ctx:
        for pos, node in ir.nodes.items():
            if node.decl.role == "select":
                continue
            modules[pos] = instantiate_node(node)
    return modules
