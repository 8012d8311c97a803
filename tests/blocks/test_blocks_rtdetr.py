"""RT-DETR backbone and encoder blocks (Ultralytics dialect): parameter counts measured from ultralytics 8.4.190,
the parse rules (filled channels, depth as an argument, ResNetLayer's stated c1), AIFI's position embedding,
and the reference YAMLs that use them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import ULTRALYTICS_DIR, require_ultralytics

import yamlnet
from blocks.rtdetr.layers import AIFI, HGBlock, HGStem, RepC3, ResNetLayer, sincos_position_embedding_2d


def params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# (module, parameters as the ultralytics package counts them for the same arguments)
MEASURED = [
    (lambda: HGStem(3, 32, 48), 25248),
    (lambda: HGBlock(48, 48, 128, 3, 2), 59456),
    (lambda: HGBlock(48, 48, 128, 3, 3), 83360),
    (lambda: HGBlock(48, 192, 1024, 5, 2, True, True), 805760),
    (lambda: HGBlock(48, 32, 48, 5, 2, True, True), 8400),
    (lambda: RepC3(64, 128, 1), 181248),
    (lambda: RepC3(48, 64, 2), 88832),
    (lambda: RepC3(48, 64, 3, 0.5), 36480),
    (lambda: ResNetLayer(3, 64, 1, True, 1), 9536),
    (lambda: ResNetLayer(64, 64, 1, False, 2), 145408),
    (lambda: ResNetLayer(48, 32, 2, False, 3), 57216),
    (lambda: ResNetLayer(48, 24, 1, False, 2, 2), 15360),
    (lambda: AIFI(256, 1024, 8), 789760),
    (lambda: AIFI(64, 128, 8), 33472),
]


@pytest.mark.parametrize(("make", "count"), MEASURED)
def test_parameter_counts_equal_the_package(make, count) -> None:  # type: ignore[no-untyped-def]
    assert params(make()) == count


def test_state_dict_names() -> None:
    assert list(AIFI(16, 32, 4).state_dict()) == [
        "ma.in_proj_weight",
        "ma.in_proj_bias",
        "ma.out_proj.weight",
        "ma.out_proj.bias",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "norm1.weight",
        "norm1.bias",
        "norm2.weight",
        "norm2.bias",
    ]
    sd = HGBlock(8, 8, 16, 5, 2, lightconv=True).state_dict()
    assert tuple(sd["m.1.conv2.conv.weight"].shape) == (8, 1, 5, 5)  # depth-wise
    assert "layer.0.shortcut.0.conv.weight" in ResNetLayer(8, 4, 2).state_dict()
    assert "layer.1.shortcut.0.conv.weight" not in ResNetLayer(8, 4, 2, n=2).state_dict()  # identity after the first


def test_sincos_embedding_is_row_major() -> None:
    """Row y*w + x holds [sin(y f), cos(y f), sin(x f), cos(x f)] for the dim/4 frequencies f (measured layout)."""
    w, h, dim = 7, 4, 16
    pe = sincos_position_embedding_2d(w, h, dim)
    assert pe.shape == (1, h * w, dim)
    f = [1.0 / 10000 ** (i / 4) for i in range(4)]
    y, x = 2, 5
    row = pe[0, y * w + x].tolist()
    want = [math.sin(y * v) for v in f] + [math.cos(y * v) for v in f] + [math.sin(x * v) for v in f] + [math.cos(x * v) for v in f]
    assert row == pytest.approx(want, abs=1e-6)


@torch.no_grad()
def test_aifi_keeps_rectangular_maps_and_depends_on_position() -> None:
    torch.manual_seed(0)
    m = AIFI(32, 64, 4).eval()
    x = torch.randn(2, 32, 5, 9)
    y = m(x)
    assert y.shape == x.shape
    # without a position embedding, attention would commute with mirroring the map; with it, it does not
    assert not torch.allclose(m(x.flip(-1)).flip(-1), y, atol=1e-4)


def test_hgstem_downsamples_by_four() -> None:
    assert HGStem(3, 16, 24).eval()(torch.zeros(1, 3, 64, 48)).shape == (1, 24, 16, 12)


SPEC = """\
nc: 80
scales:
  n: [0.5, 0.25, 1024]
backbone:
  - [-1, 1, HGStem, [32, 48]] # 0
  - [-1, 2, HGBlock, [48, 128, 3]] # 1: depth 2 x 0.5 -> n 1
  - [-1, 6, HGBlock, [32, 128, 5, True, True]] # 2: n 3, residual
  - [-1, 3, RepC3, [256, 0.5]] # 3: c2 256 x 0.25 -> 64, n 2
  - [-1, 1, ResNetLayer, [64, 32, 2, False, 2]] # 4: 4 x 32 channels, stride 2
  - [-1, 1, AIFI, [256, 8]] # 5
  - [-1, 1, ResNetLayer, [128, 16, 1, True]] # 6: the ResNet stem, 16 channels, stride 4
head:
  - [-1, 1, nn.Identity, []]
"""


def test_parse_rules_give_the_packages_rows() -> None:
    """Per-row parameters and output shapes measured with the package for this spec (128x96 input)."""
    report = yamlnet.analyze(SPEC, dialect="ultralytics", scale="n")
    assert report.ok, report.render()
    nodes = report.ir.nodes
    assert (nodes[1].bound["n"], nodes[2].bound["n"], nodes[3].bound["n"], nodes[3].bound["c2"]) == (1, 3, 2, 64)
    assert [(nodes[i].out.channels, int(nodes[i].out.stride)) for i in range(7)] == [
        (48, 4),
        (128, 4),
        (128, 4),
        (64, 4),
        (128, 8),
        (128, 8),
        (16, 32),
    ]
    model = yamlnet.build(SPEC, dialect="ultralytics", scale="n")
    assert [params(model.model[i]) for i in range(7)] == [25248, 35552, 31840, 31232, 41984, 132480, 100384]
    x = torch.zeros(1, 3, 128, 96)
    shapes = []
    for i in range(7):
        x = model.model[i](x)
        shapes.append(tuple(x.shape))
    assert shapes == [(1, 48, 32, 24), (1, 128, 32, 24), (1, 128, 32, 24), (1, 64, 32, 24), (1, 128, 16, 12), (1, 128, 16, 12), (1, 16, 4, 3)]


@pytest.mark.parametrize(
    ("old", "new", "code", "words"),
    [
        ("[64, 32, 2, False, 2]", "[96, 32, 2, False, 2]", "YN301", "96"),
        ("[256, 8]]", "[256, 6]]", "YN303", "6 attention heads do not divide"),
        ("[48, 128, 3]]", "[48, 128]]", "YN106", "HGBlock"),
    ],
)
def test_mistakes_are_diagnosed(old: str, new: str, code: str, words: str) -> None:
    report = yamlnet.analyze(SPEC.replace(old, new, 1), dialect="ultralytics", scale="n")
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code], report.render()
    assert words in errors[0].message


def test_aifi_needs_channels_divisible_by_four() -> None:
    spec = "nc: 80\nbackbone:\n  - [-1, 1, ResNetLayer, [3, 18, 1, True]]\n  - [-1, 1, AIFI, [64, 2]]\nhead:\n  - [-1, 1, nn.Identity, []]\n"
    report = yamlnet.analyze(spec, dialect="ultralytics")
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["YN118"]
    assert "divisible by 4; 18 arrive" in errors[0].message
    assert (errors[0].span.line, errors[0].span.column) == (4, 19)  # the arguments of the AIFI row


RT_FILES = [
    ("rt-detr/rtdetr-l.yaml", "l"),
    ("rt-detr/rtdetr-resnet50.yaml", "l"),
    ("v8/yolov8-rtdetr.yaml", "s"),
    ("v8/yolov8-cls-resnet50.yaml", "n"),
]


@pytest.mark.parametrize(("name", "scale"), RT_FILES)
def test_reference_yaml_parameters(name: str, scale: str) -> None:
    ref = require_ultralytics()["models"][name][scale]
    report = yamlnet.analyze(Path(ULTRALYTICS_DIR) / name, scale=scale)
    assert report.ok, report.render()
    model = yamlnet.build(report.ir.spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert len(model.model) == ref["layers"]


def test_rtdetr_resnet50_backbone_rows() -> None:
    require_ultralytics()
    report = yamlnet.analyze(Path(ULTRALYTICS_DIR) / "rt-detr" / "rtdetr-resnet50.yaml")
    assert report.ok, report.render()
    rows = [(n.out.channels, int(n.out.stride)) for n in list(report.ir.nodes.values())[:5]]
    assert rows == [(64, 4), (256, 4), (512, 8), (1024, 16), (2048, 32)]
