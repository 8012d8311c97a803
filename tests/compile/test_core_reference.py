"""Issue 2 acceptance: every YOLOv5 reference YAML builds exactly as YOLOv5's own code builds it."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import REFERENCE_DIR, SPECS, reference_models, require_reference

import yamlnet


def _shapes(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return list(o.shape)
    return [_shapes(x) for x in o]


@pytest.mark.parametrize("name", reference_models())
def test_reference_yaml_builds_with_yolov5_numbers(name: str) -> None:
    ref = require_reference()["models"][name]
    path = REFERENCE_DIR / name
    model = yamlnet.build(path)
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert len(yamlnet.analyze(path).ir.nodes) == ref["rows"]
    assert model.stride.tolist() == [float(s) for s in ref["stride"]]
    # output shapes on the meta device: the same compiled graph, no arithmetic
    meta = yamlnet.build(path, device="meta")
    meta.eval()
    assert _shapes(meta(torch.empty(1, 3, 640, 640, device="meta"))) == ref["eval_output_shapes_640"]
    meta.train()
    assert _shapes(meta(torch.empty(1, 3, 256, 256, device="meta"))) == ref["train_output_shapes_256"]


@pytest.mark.parametrize("name", ["yolov5s.yaml", "segment/yolov5s-seg.yaml", "hub/yolov3-tiny.yaml"])
def test_real_forward_output_shapes(name: str) -> None:
    ref = require_reference()["models"][name]
    model = yamlnet.build(REFERENCE_DIR / name)
    with torch.no_grad():
        model.eval()
        assert _shapes(model(torch.zeros(1, 3, 640, 640))) == ref["eval_output_shapes_640"]
        model.train()
        assert _shapes(model(torch.zeros(1, 3, 256, 256))) == ref["train_output_shapes_256"]


def test_module_count_equals_yolov5(reference: dict[str, Any]) -> None:
    """YOLOv5's summary counts modules (214 'layers' for yolov5s); one shared activation as YOLOv5 has."""
    model = yamlnet.build(REFERENCE_DIR / "yolov5s.yaml")
    assert len(list(model.modules())) == reference["models"]["yolov5s.yaml"]["modules"]  # root + container + layers


def test_yolov5s_state_dict_keys_and_shapes(reference: dict[str, Any]) -> None:
    model = yamlnet.build(SPECS / "yolov5s.yaml")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    want = reference["models"]["yolov5s.yaml"]["state_dict"]
    assert list(got) == list(want)
    assert got == want


@pytest.mark.parametrize("variant", ["n", "s", "m", "l", "x", "n6", "s6", "m6", "l6", "x6"])
def test_bundled_yolov5_specs_equal_reference(variant: str) -> None:
    """The specs we wrote ourselves build the same models as YOLOv5's YAMLs (counted on meta: no weights)."""
    ref = require_reference()["models"]
    key = f"yolov5{variant}.yaml" if len(variant) == 1 else f"hub/yolov5{variant}.yaml"
    model = yamlnet.build(SPECS / f"yolov5{variant}.yaml", device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref[key]["params"]
    assert model.stride.tolist() == [float(s) for s in ref[key]["stride"]]


def test_same_weights_same_outputs_as_a_loop_executor() -> None:
    """The generated forward computes what YOLOv5's loop over layers computes, for the same modules."""
    torch.manual_seed(0)
    model = yamlnet.build(SPECS / "yolov5n.yaml").eval()
    ir = yamlnet.analyze(SPECS / "yolov5n.yaml").ir
    x = torch.rand(1, 3, 128, 160)
    outs: dict[int, Any] = {}
    y = x
    for pos, node in ir.nodes.items():
        ins = [x if p.node < 0 else outs[p.node] for p in node.inputs]
        m = model.get_submodule(f"model.{pos}")
        y = m(ins[0] if node.decl.inputs == "one" else ins)
        outs[pos] = y
    with torch.no_grad():
        got = model(x)
    assert torch.equal(got[0], y[0])
    assert "for " not in model.code and "save" not in model.code
