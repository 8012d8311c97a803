"""Issue 10 item 8: activations written as row arguments resolve through the `activation:` allow-list (never
evaluated), build as their torch.nn modules, and one written where another argument goes (YOLOv7's Conv takes
it sixth, YOLOv5's seventh) is diagnosed at that argument with a fix that inserts the missing arguments."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import yamlnet
from yamlnet.fix import fix_text

SPEC = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, 1, nn.LeakyReLU(0.1)]]\n  - [-1, 1, Conv, [32, 3, 2, None, 1, 1, torch.nn.ReLU()]]\n"


def test_activation_arguments_build_as_torch_modules() -> None:
    model = yamlnet.build(SPEC)
    act0, act1 = model.get_submodule("model.0").act, model.get_submodule("model.1").act
    assert isinstance(act0, nn.LeakyReLU) and act0.negative_slope == 0.1
    assert isinstance(act1, nn.ReLU)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 32, 8, 8)


def test_an_activation_in_the_place_of_dilation_is_diagnosed_with_a_fix(tmp_path: Path) -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, nn.LeakyReLU(0.1)]]\n"
    report = yamlnet.analyze(text)
    [d] = report.errors
    assert d.code == "YN107" and (d.span.line, d.span.column) == (3, 39)
    assert "argument `d`" in d.message and "`act` is argument 7" in d.message
    [fix] = d.fixes
    assert fix.applicability == "safe"
    result = fix_text(text, "<string>")
    assert result.fixed == "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, 1, nn.LeakyReLU(0.1)]]\n"
    assert yamlnet.analyze(result.fixed).ok


def test_an_activation_for_a_block_without_one_says_so() -> None:
    report = yamlnet.analyze("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Concat, [nn.ReLU()]]\n")
    [d] = report.errors
    assert d.code == "YN107" and d.span.line == 4 and "takes no activation" in d.message


def test_an_activation_outside_the_allow_list_is_refused() -> None:
    report = yamlnet.analyze("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, 1, nn.Softmax2d()]]\n")
    assert not report.ok
    assert not any(d.code == "YN901" for d in report.diagnostics)
