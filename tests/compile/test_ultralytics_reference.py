"""Issue 9 acceptance: every Ultralytics YAML (file, scale) builds as the ultralytics package builds it.

Parameters, rows (`len(model.model)`), strides and the eval/train output structure and shapes are compared
with ../shared/reference/ultralytics/reference.json, measured with the package's own code. Models are
built on the meta device (no weight memory), so the shapes come from the compiled graph without arithmetic.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import ULTRALYTICS_DIR, output_shapes, require_ultralytics, ultralytics_pairs

import yamlnet
from yamlnet.spec.parse import load_spec_with_diagnostics


def _ref(name: str, scale: str) -> dict[str, Any]:
    ref = require_ultralytics()["models"][name][scale]
    if "error" in ref:
        pytest.skip(f"the reference itself could not measure {name}: {ref['error'][:120]}")
    return ref


def _scale(scale: str) -> str | None:
    return None if scale == "-" else scale


@pytest.mark.parametrize(("name", "scale"), ultralytics_pairs())
def test_ultralytics_yaml_builds_with_package_numbers(name: str, scale: str) -> None:
    """Parameters, rows, strides, and the eval/train output structure and shapes (one meta build per pair)."""
    ref = _ref(name, scale)
    path = ULTRALYTICS_DIR / name
    report = yamlnet.analyze(path, scale=_scale(scale))
    assert report.ok, report.render()
    assert report.ir is not None and report.ir.spec.dialect == "ultralytics"
    assert len(report.ir.nodes) == ref["layers"]
    model = yamlnet.build(report.ir.spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert model.stride.tolist() == [float(s) for s in ref["stride"]]
    size = 224 if "eval_output_shapes_224" in ref else 320
    model.eval()
    with torch.no_grad():
        assert output_shapes(model(torch.empty(1, 3, size, size, device="meta"))) == ref[f"eval_output_shapes_{size}"]
        if "train_output_shapes_256" in ref:
            model.train()
            assert output_shapes(model(torch.empty(1, 3, 256, 256, device="meta"))) == ref["train_output_shapes_256"]


@pytest.mark.parametrize("name", ["v8/yolov8.yaml", "11/yolo11.yaml", "26/yolo26.yaml"])
def test_state_dict_keys_and_shapes(name: str) -> None:
    want = _ref(name, "n")["state_dict"]
    model = yamlnet.build(ULTRALYTICS_DIR / name, scale="n", device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(want)
    assert got == want


def test_every_reference_file_is_read_in_its_dialect() -> None:
    """YOLOv5's and Ultralytics' YAMLs are told apart without a `dialect:` key (yolov3.yaml exists in both)."""
    ref = require_ultralytics()
    for name in ref["models"]:
        spec, diags, _ = load_spec_with_diagnostics(ULTRALYTICS_DIR / name)
        assert spec is not None and spec.dialect == "ultralytics", (name, [d.message for d in diags])
        assert not [d for d in diags if d.code == "YN120"], name
    yolov5 = ULTRALYTICS_DIR.parent / "yolov5"
    for path in sorted(yolov5.rglob("*.yaml")):
        spec, diags, _ = load_spec_with_diagnostics(path)
        assert spec is not None and spec.dialect == "yolov5", path
        assert not [d for d in diags if d.code == "YN120"], path
