"""DESIGN decision 6: the generated forward is a plain graph that torch.export captures whole."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import SPECS

import yamlnet


def test_torch_export_captures_the_whole_model() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(SPECS / "yolov5n.yaml").eval()
    x = torch.rand(1, 3, 128, 128)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        want = model(x)
        got = exported.module()(x)
    assert torch.allclose(got[0], want[0], atol=1e-5)
    assert [t.shape for t in got[1]] == [t.shape for t in want[1]]


def test_generated_code_is_straight_line_and_frees_intermediates() -> None:
    model = yamlnet.build(SPECS / "yolov5n.yaml")
    code = model.code
    assert "for " not in code and "while " not in code
    assert code.count("getattr(self.model") == 25
    assert "= None" in code  # values are dropped after their last use


def test_a_row_named_like_an_automatic_name_builds(tmp_path: Path) -> None:
    """Issue 8: validate and build agree. A row named `conv_1` beside the unnamed Conv at index 1 once passed
    validate and failed build ("Node redefined name conv_1!"); names now go through fx's namespace."""
    spec = tmp_path / "names.yaml"
    spec.write_text(
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [16, 3, 2]]\n"
        "  - {name: conv_1, from: -1, module: Conv, args: [16, 3, 1]}\n  - {name: conv_2, from: [conv_1], module: Conv, args: [16, 3, 1]}\n"
    )
    assert yamlnet.validate(spec, imgsz=64).ok
    model = yamlnet.build(spec)
    assert "conv_1 = " in model.code and "conv_1_row = " in model.code and "conv_2 = " in model.code
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 16, 16, 16)
