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
from ..spec.model import Spec
from ..spec.source import compose_tree
from .codegen import generate
from .instantiate import instantiate
from .model import YamlnetModel
from .shapes import check_params
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


def compile_ir(
    ir: IR, weights: str | os.PathLike[str] | None = None, device: Any = None, limits: Limits = DEFAULT_LIMITS, row_weights: bool = True
) -> YamlnetModel:
    """The model of a checked IR. `row_weights=False` skips the weights files rows name (a caller that loads a
    whole state_dict next, such as restoring a pickled model, needs neither the files nor the time)."""
    modules = instantiate(ir, device)
    reports: list[LoadReport] = []
    diags: list[Diagnostic] = []
    for pos, node in ir.nodes.items():
        if node.weights and row_weights:
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
        reported = getattr(m, "model_strides", s)  # a head may report other strides (RT-DETR: 32)
        if isinstance(reported, str) and reported == "deepest":  # the deepest stride any layer reaches (Ultralytics' SemanticSegment models)
            reported = [max((p.stride for n in ir.nodes.values() for p in (n.out, *n.taps.values()) if p.stride), default=1)]
        strides = [float(v) for v in reported]
    if not heads:
        strides = [float(ir.port(o).stride or 0) for o in ir.outputs]
    model.stride = torch.tensor(strides, dtype=torch.float32)
    initialize_weights(model)
    bn = next((getattr(model.get_submodule(f"model.{n.position}"), "model_batchnorm", None) for n in heads), None)
    if bn is not None:  # a head may ask for other BatchNorm settings (Ultralytics' classifiers keep PyTorch's)
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.eps, mod.momentum = bn
    model.nc = ir.spec.nc
    model.names = {i: f"class{i}" for i in range(ir.spec.nc or 0)}
    model.yaml_file = ir.spec.path
    model.yaml = spec_dict(ir.spec, limits)
    model.hyp = {}
    model.fused = None
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


def spec_dict(spec: Spec, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The spec as plain data (YOLOv5's `model.yaml`): its text read again, with the header values the spec
    was built with (overrides such as nc=3 included), so that building this dict gives the same model."""
    out: dict[str, Any] = {}
    if spec.source is not None:
        tree, _ = compose_tree(spec.source, limits)
        plain = tree.plain() if tree is not None else None
        if isinstance(plain, dict):
            out = plain
    if spec.nc is not None:
        out["nc"] = spec.nc
    if spec.anchors is not None:
        out["anchors"] = spec.anchors
    if spec.ch != 3 or "ch" in out:
        out["ch"] = spec.ch
    for key in ("scale", "dialect"):
        value = getattr(spec, key, None)
        if value is not None and (key in out or key == "scale"):
            out[key] = value
    return out


def compile_text(text: str, row_weights: bool = True, limits: Limits = DEFAULT_LIMITS, **overrides: Any) -> YamlnetModel:
    """api.build for spec text, with the choice to skip the rows' weights files (see compile_ir)."""
    from ..api import analyze

    report = analyze(text, limits, **overrides)
    if not report.ok or report.ir is None:
        raise SpecError(report.diagnostics, report.source)
    refused = check_params(report.ir, limits)
    if refused:
        raise SpecError(report.diagnostics + refused, report.source)
    return compile_ir(report.ir, limits=limits, row_weights=row_weights)
