"""A custom block is registered from Python (never from a spec) and then checked and built like any other."""

from __future__ import annotations

import torch
from torch import nn

import yamlnet
from yamlnet.registry import FILL_C1, Arg, out_arg, stride_arg


@yamlnet.block(
    args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int", width=True, doc="output channels"), Arg("s", "int", default=1, doc="stride")),
    out_channels=out_arg("c2"),
    stride=stride_arg("s"),
    doc="A 3x3 conv + ReLU used only by this test.",
)
class TinyConv(nn.Module):
    def __init__(self, c1: int, c2: int, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 3, s, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))


SPEC = """
nc: 2
width_multiple: 0.5
backbone:
  - [-1, 1, TinyConv, [32, 2]]
  - [-1, 1, TinyConv, [64, 2]]
  - [-1, 2, TinyConv, [64, 2]]
"""


def test_custom_block_builds_with_scaling_and_repeats() -> None:
    report = yamlnet.validate(SPEC, imgsz=64)
    assert report.ok, report.render()
    node = report.ir.nodes[2]
    assert (node.out.channels, node.out.stride, node.n) == (32, 16, 2)  # two stride-2 copies: /4 -> /16
    model = yamlnet.build(SPEC)
    out = model(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 32, 4, 4)
    assert sum(p.numel() for p in model.parameters()) == (3 * 9 * 16 + 16) + (16 * 9 * 32 + 32) + 2 * (32 * 9 * 32 + 32)


def test_repeating_a_block_that_changes_channels_is_a_static_error() -> None:
    """YOLOv5 builds n identical copies; each must take the channels it gives."""
    report = yamlnet.validate("backbone:\n  - [-1, 1, TinyConv, [16]]\n  - [-1, 3, TinyConv, [32]]\n", static=True)
    assert [(d.code, d.span.line, d.span.column) for d in report.errors] == [("YN301", 3, 10)]


@yamlnet.block(
    name="LyingConvB",
    args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int")),
    out_channels=lambda c1, a: a["c2"] * 2,
    doc="Declares twice the channels it gives.",
)
class LyingConvB(TinyConv):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__(c1, c2)


def test_a_misdeclared_custom_block_is_caught_by_the_shape_pass() -> None:
    report = yamlnet.validate("backbone:\n  - [-1, 1, LyingConvB, [8]]\n", imgsz=32)
    assert [d.code for d in report.errors] == ["YN306"]
    assert report.errors[0].span.line == 2
