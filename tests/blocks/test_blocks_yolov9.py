"""YOLOv9 blocks (Ultralytics dialect): parameter counts and state_dict layouts measured from ultralytics 8.4.190,
forward behaviour, the CBLinear -> CBFuse wiring (taps picked by CBFuse's idx), and the reference YAMLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import ULTRALYTICS_DIR, require_ultralytics

import yamlnet
from blocks.yolov9.layers import ELAN1, SPPELAN, AConv, ADown, CBFuse, CBLinear, RepConv, RepCSP, RepNCSPELAN4
from yamlnet.diagnostics import SpecError


def params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# (module, parameters as the ultralytics package counts them for the same arguments)
MEASURED = [
    (lambda: RepNCSPELAN4(64, 128, 64, 32, 1), 53696),
    (lambda: RepNCSPELAN4(64, 128, 64, 32, 2), 63616),
    (lambda: ELAN1(32, 32, 32, 16), 7872),
    (lambda: ELAN1(64, 48, 32, 16), 9952),
    (lambda: ADown(64, 128), 20736),
    (lambda: AConv(64, 128), 73984),
    (lambda: AConv(64, 96), 55488),
    (lambda: SPPELAN(128, 128, 64), 41344),
    (lambda: SPPELAN(64, 128, 32, 3), 18752),
    (lambda: CBLinear(64, [16, 32]), 3120),
    (lambda: CBLinear(64, [16, 32, 8]), 3640),
    (lambda: RepCSP(64, 64, 2), 47744),
    (lambda: RepConv(64, 64, bn=True), 41344),
]


@pytest.mark.parametrize(("make", "count"), MEASURED)
def test_parameter_counts_equal_the_package(make, count) -> None:  # type: ignore[no-untyped-def]
    assert params(make()) == count


def test_state_dict_layout_of_a_gelan_stage() -> None:
    sd = RepNCSPELAN4(64, 128, 64, 32, 1).state_dict()
    assert list(sd)[:2] == ["cv1.conv.weight", "cv1.bn.weight"]
    assert tuple(sd["cv2.0.m.0.cv1.conv1.conv.weight"].shape) == (16, 16, 3, 3)
    assert tuple(sd["cv2.0.m.0.cv1.conv2.conv.weight"].shape) == (16, 16, 1, 1)
    assert tuple(sd["cv3.1.conv.weight"].shape) == (32, 32, 3, 3)
    assert tuple(sd["cv4.conv.weight"].shape) == (128, 128, 1, 1)
    assert len(sd) == 96  # as many entries as the package's
    assert list(RepConv(8, 8, bn=True).state_dict())[:2] == ["bn.weight", "bn.bias"]  # the identity branch comes first


def test_downsamplers_halve_sizes_rounding_odd_ones_down() -> None:
    x = torch.randn(1, 16, 21, 20)
    assert ADown(16, 32).eval()(x).shape == (1, 32, 10, 10)
    assert AConv(16, 24).eval()(x).shape == (1, 24, 10, 10)
    assert SPPELAN(16, 24, 8).eval()(x).shape == (1, 24, 21, 20)
    assert ELAN1(16, 40, 16, 8).eval()(x).shape == (1, 40, 21, 20)


@torch.no_grad()
def test_repconv_fuse_keeps_the_output() -> None:
    torch.manual_seed(0)
    m = RepConv(8, 8, bn=True).eval()
    for bn in (m.conv1.bn, m.conv2.bn, m.bn):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
    x = torch.randn(2, 8, 9, 7)
    before = m(x)
    m.fuse()
    assert list(m.state_dict()) == ["conv.weight", "conv.bias"]
    assert torch.allclose(m(x), before, atol=1e-5)


def test_cblinear_splits_and_cbfuse_sums_resized_picks() -> None:
    torch.manual_seed(0)
    outs = CBLinear(8, [4, 6]).eval()(torch.randn(1, 8, 5, 5))
    assert [tuple(o.shape) for o in outs] == [(1, 4, 5, 5), (1, 6, 5, 5)]
    small, last = torch.randn(1, 6, 5, 5), torch.randn(1, 6, 10, 10)
    want = F.interpolate(small, size=(10, 10), mode="nearest") + last
    assert torch.equal(CBFuse([1]).eval()([outs[:1] + (small,), last]), want)  # a CBLinear tuple: picks idx
    assert torch.equal(CBFuse([7]).eval()([small, last]), want)  # a tensor already picked by the compiler


FUSE = """\
nc: 80
backbone:
  - [-1, 1, Conv, [16, 3, 2]] # 0 stride 2
  - [-1, 1, Conv, [32, 3, 2]] # 1 stride 4
  - [-1, 1, CBLinear, [[16, 32]]] # 2 stride 4: out0 16 ch, out1 32 ch
  - [0, 1, Conv, [16, 3, 1]] # 3 stride 2
  - [[2, 3], 1, CBFuse, [[0]]] # 4
head:
  - [-1, 1, nn.Identity, []]
"""


def test_cbfuse_takes_the_tap_idx_names_and_the_last_inputs_stride() -> None:
    report = yamlnet.analyze(FUSE, dialect="ultralytics")
    assert report.ok, report.render()
    node = report.ir.nodes[4]
    assert [(p.node, p.tap) for p in node.inputs] == [(2, "out0"), (3, None)]
    assert (node.out.channels, node.out.stride) == (16, 2)
    assert [(k, p.channels, p.stride) for k, p in report.ir.nodes[2].taps.items()] == [("out0", 16, 4), ("out1", 32, 4)]
    model = yamlnet.build(FUSE, dialect="ultralytics")
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 16, 32, 32)


def test_cbfuse_explicit_tap_spelling_builds_the_same_wiring() -> None:
    report = yamlnet.analyze(FUSE.replace("[[2, 3], 1, CBFuse, [[0]]]", "[[2.out0, 3], 1, CBFuse, [[1]]]"), dialect="ultralytics")
    assert report.ok, report.render()
    assert [(p.node, p.tap) for p in report.ir.nodes[4].inputs] == [(2, "out0"), (3, None)]


@pytest.mark.parametrize(
    ("row", "code", "line_col", "words"),
    [
        ("[[2, 3], 1, CBFuse, [[2]]]", "YN205", (7, 7), "takes output 2 of layer 2 (CBLinear), which has 2 outputs"),
        ("[[2, 3], 1, CBFuse, [[1]]]", "YN118", (7, 25), "input 0 has 32 channels and the last input 16"),
        ("[[2, 3], 1, CBFuse, [[0, 1]]]", "YN118", (7, 25), "1 entries for 2 inputs, not 2"),
    ],
)
def test_cbfuse_mistakes_are_diagnosed_at_their_place(row: str, code: str, line_col: tuple[int, int], words: str) -> None:
    report = yamlnet.analyze(FUSE.replace("[[2, 3], 1, CBFuse, [[0]]]", row), dialect="ultralytics")
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code]
    assert (errors[0].span.line, errors[0].span.column) == line_col
    assert words in errors[0].message


def test_gelan_arguments_are_checked() -> None:
    spec = "nc: 80\nbackbone:\n  - [-1, 1, RepNCSPELAN4, [64, 33, 16, 1]]\nhead:\n  - [-1, 1, nn.Identity, []]\n"
    report = yamlnet.analyze(spec, dialect="ultralytics")
    assert [d.code for d in report.diagnostics if d.severity == "error"] == ["YN118"]
    assert "c3 (33) is split into two halves" in report.diagnostics[0].message


def test_width_scaling_touches_c2_only() -> None:
    """Measured with the package at width 0.25: RepNCSPELAN4 [256, 128, 64] -> c2 64, c3 128, c4 64; SPPELAN [2048, 256] -> 256, 256."""
    spec = (
        "nc: 80\nscales:\n  n: [0.5, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [64, 3, 2]]\n"
        "  - [-1, 1, RepNCSPELAN4, [256, 128, 64, 3]]\n  - [-1, 1, ADown, [256]]\n  - [-1, 1, SPPELAN, [2048, 256]]\n"
        "  - [-1, 1, ELAN1, [64, 64, 32]]\n  - [-1, 1, AConv, [512]]\nhead:\n  - [-1, 1, nn.Identity, []]\n"
    )
    report = yamlnet.analyze(spec, dialect="ultralytics", scale="n")
    assert report.ok, report.render()
    b = {pos: n.bound for pos, n in report.ir.nodes.items()}
    assert (b[1]["c1"], b[1]["c2"], b[1]["c3"], b[1]["c4"], b[1]["n"]) == (16, 64, 128, 64, 3)
    assert (b[2]["c1"], b[2]["c2"]) == (64, 64)
    assert (b[3]["c2"], b[3]["c3"]) == (256, 256)
    assert (b[4]["c2"], b[4]["c3"], b[4]["c4"]) == (16, 64, 32)
    assert b[5]["c2"] == 128
    model = yamlnet.build(spec, dialect="ultralytics", scale="n")
    assert [params(model.model[i]) for i in range(6)] == [464, 227584, 10368, 279552, 37152, 18688]  # measured with the package


V9_FILES = ["yolov9t.yaml", "yolov9s.yaml", "yolov9m.yaml", "yolov9c.yaml", "yolov9e.yaml", "yolov9c-seg.yaml", "yolov9e-seg.yaml"]


@pytest.mark.parametrize("name", V9_FILES)
def test_reference_yaml_parameters(name: str) -> None:
    ref = require_ultralytics()["models"][f"v9/{name}"]["-"]
    model = yamlnet.build(Path(ULTRALYTICS_DIR) / "v9" / name, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert len(model.model) == ref["layers"]
    assert model.stride.tolist() == ref["stride"]


def test_yolov9e_cbfuse_rows_take_their_taps() -> None:
    require_ultralytics()
    report = yamlnet.analyze(Path(ULTRALYTICS_DIR) / "v9" / "yolov9e.yaml")
    assert report.ok, report.render()
    wiring = {pos: [(p.node, p.tap) for p in report.ir.nodes[pos].inputs] for pos in (16, 18, 21, 24, 27)}
    assert wiring[16] == [(10, "out0"), (11, "out0"), (12, "out0"), (13, "out0"), (14, "out0"), (15, None)]
    assert wiring[21] == [(12, "out2"), (13, "out2"), (14, "out2"), (20, None)]
    assert wiring[27] == [(14, "out4"), (26, None)]
    assert [(report.ir.nodes[p].out.channels, int(report.ir.nodes[p].out.stride)) for p in (16, 18, 21, 24, 27)] == [
        (64, 2),
        (128, 4),
        (256, 8),
        (512, 16),
        (1024, 32),
    ]


def test_a_repeated_gelan_row_that_changes_channels_is_refused() -> None:
    """Ultralytics builds n copies with the same arguments (a model that cannot run); yamlnet says why."""
    spec = "nc: 80\nbackbone:\n  - [-1, 2, RepNCSPELAN4, [64, 32, 16, 1]]\nhead:\n  - [-1, 1, nn.Identity, []]\n"
    with pytest.raises(SpecError) as e:
        yamlnet.build(spec, dialect="ultralytics")
    assert [d.code for d in e.value.diagnostics if d.severity == "error"] == ["YN301"]
