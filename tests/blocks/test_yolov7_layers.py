"""YOLOv7 layers: MP, SP, SPPCSPC and YOLOv7's Conv (their shapes, parameters, state_dict names, activation rule)."""

from __future__ import annotations

import torch
from torch import nn

import yamlnet
from blocks.yolov7.layers import MP, SP, SPPCSPC, Conv


def _conv_params(c1: int, c2: int, k: int) -> int:
    return c1 * c2 * k * k + 2 * c2  # conv weight (no bias) + BN weight and bias


def test_mp_halves_by_flooring_and_sp_keeps_the_size() -> None:
    x = torch.zeros(1, 8, 10, 12)
    assert MP()(x).shape == (1, 8, 5, 6)
    assert MP(3)(torch.zeros(1, 2, 9, 9)).shape == (1, 2, 3, 3)
    assert SP(5)(x).shape == (1, 8, 10, 12)
    assert SP(3, 2)(x).shape == (1, 8, 5, 6)
    assert [k for k, _ in SP(13).state_dict().items()] == []  # no parameters, no buffers
    assert SP(13).m.padding == 6 and MP().m.stride == 2


def test_sppcspc_parameters_and_keys() -> None:
    m = SPPCSPC(64, 32)
    c_ = 32  # int(2 * c2 * 0.5)
    want = (
        _conv_params(64, c_, 1) * 2  # cv1, cv2
        + _conv_params(c_, c_, 3)  # cv3
        + _conv_params(c_, c_, 1)  # cv4
        + _conv_params(4 * c_, c_, 1)  # cv5
        + _conv_params(c_, c_, 3)  # cv6
        + _conv_params(2 * c_, 32, 1)  # cv7
    )
    assert sum(p.numel() for p in m.parameters()) == want
    assert {k.split(".")[0] for k in m.state_dict()} == {f"cv{i}" for i in range(1, 8)}
    assert m(torch.zeros(1, 64, 13, 13)).shape == (1, 32, 13, 13)


def test_v7_conv_takes_act_sixth_and_owns_its_activation() -> None:
    leaky = Conv(3, 8, 3, 2, None, 1, nn.LeakyReLU(0.1))
    assert isinstance(leaky.act, nn.LeakyReLU) and leaky.conv.padding == (1, 1) and leaky.conv.stride == (2, 2)
    a, b = Conv(3, 8), Conv(8, 8)
    assert isinstance(a.act, nn.SiLU) and a.act is not b.act  # YOLOv7 builds one SiLU per conv
    assert isinstance(Conv(3, 8, act=False).act, nn.Identity)


SPEC = """\
dialect: yolov7
nc: 80
depth_multiple: 1.0
width_multiple: 0.5
anchors: 3
backbone:
  - [-1, 1, Conv, [64, 3, 2, None, 1, nn.LeakyReLU(0.1)]]
  - [-1, 1, MP, []]
  - [-1, 1, SP, [5]]
  - [-1, 3, SPPCSPC, [128]]
head:
  - [-1, 1, Conv, [64, 3, 2]]
"""


def test_rows_of_the_yolov7_dialect_build_with_v7_arguments() -> None:
    report = yamlnet.analyze(SPEC)
    assert report.ok, report.render()
    assert report.ir is not None and report.ir.spec.dialect == "yolov7"
    strides = [int(n.out.stride) for n in report.ir.nodes.values()]
    assert strides == [2, 4, 4, 4, 8]
    channels = [n.out.channels for n in report.ir.nodes.values()]
    assert channels == [32, 32, 32, 64, 32]  # width 0.5
    model = yamlnet.build(SPEC)
    assert isinstance(model.model[0].act, nn.LeakyReLU)
    assert isinstance(model.model[3], SPPCSPC)  # n went into the argument, not an nn.Sequential
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 32, 8, 8)


def test_yolov7_conv_rows_in_a_file_without_evidence_say_how_to_state_the_dialect() -> None:
    """A YOLOv7 Conv row alone (activation sixth) reads as YOLOv5, where the sixth argument is the dilation: the
    error says where YOLOv5 takes the activation and that a YOLOv7 file states its dialect."""
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, nn.LeakyReLU(0.1)]]\n"
    [d] = yamlnet.analyze(text).errors
    assert d.code == "YN107" and (d.span.line, d.span.column) == (3, 39) and "`dialect: yolov7`" in d.help
    assert yamlnet.analyze("dialect: yolov7\n" + text).ok
