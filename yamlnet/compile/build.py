"""IR -> YamlnetModel: instantiate blocks, load per-row weights, generate code, set strides, initialise."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..diagnostics import Diagnostic, SpecError
from ..graph.ir import IR
from ..spec.limits import DEFAULT_LIMITS, Limits
from .codegen import generate
from .instantiate import instantiate
from .model import YamlnetModel
from .weights import LoadReport, WeightsError, load_into

_ACTS = (nn.Hardswish, nn.LeakyReLU, nn.ReLU, nn.ReLU6, nn.SiLU)


def initialize_weights(model: nn.Module) -> None:
    """YOLOv5's initialisation: BatchNorm eps 1e-3 and momentum 0.03; activations in place."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-3
            m.momentum = 0.03
        elif isinstance(m, _ACTS):
            m.inplace = True


def class_name(ir: IR) -> str:
    stem = Path(ir.spec.path).stem if ir.spec.path != "<string>" else "model"
    name = re.sub(r"[^0-9A-Za-z]+", "_", stem).strip("_") or "model"
    return ("M_" + name) if name[0].isdigit() else name


def compile_ir(ir: IR, weights: str | os.PathLike[str] | None = None, device: Any = None, limits: Limits = DEFAULT_LIMITS) -> YamlnetModel:
    modules = instantiate(ir, device)
    reports: list[LoadReport] = []
    diags: list[Diagnostic] = []
    for pos, node in ir.nodes.items():
        if node.weights:
            try:
                reports.append(load_into(modules[pos], ir.spec.resolve_path(node.weights), target=node.label))
            except WeightsError as e:
                diags.append(
                    Diagnostic("YN511", str(e), node.row.span, help="give the path of a state_dict saved with torch.save, or False for none")
                )
    if diags:
        raise SpecError(diags, ir.spec.source)

    model = generate(ir, modules, class_name=class_name(ir))
    heads = ir.heads()
    strides: list[float] = []
    for node in heads:
        m = model.get_submodule(f"model.{node.position}")
        s = [float(x) for x in node.in_strides if x is not None]
        if hasattr(m, "bind_strides"):
            m.bind_strides(s)
        m.yamlnet_head = True
        strides = [float(v) for v in getattr(m, "model_strides", s)]  # a head may report other strides (RT-DETR: 32)
    if not heads:
        strides = [float(ir.port(o).stride or 0) for o in ir.outputs]
    model.stride = torch.tensor(strides, dtype=torch.float32)
    initialize_weights(model)
    model.nc = ir.spec.nc
    model.names = {i: f"class{i}" for i in range(ir.spec.nc or 0)}
    model.yaml_file = ir.spec.path
    model.load_reports = reports
    model.row_params = {pos: sum(p.numel() for p in modules[pos].parameters()) for pos in modules}
    if weights is not None:
        try:
            rep = load_into(model, weights, target="model")
        except WeightsError as e:
            raise SpecError(
                [Diagnostic("YN511", str(e), ir.spec.span_of("backbone"), help="give a state_dict saved from a model of this spec")], ir.spec.source
            ) from None
        model.load_reports.append(rep)
    return model
