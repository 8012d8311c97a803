"""DESIGN decision 6: the generated forward is a plain graph that torch.export captures whole."""

from __future__ import annotations

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
