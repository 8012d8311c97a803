"""YOLOv7 blocks: RepConv and IDetect fusion keep the outputs, the heads' outputs, anchors and biases, ReOrg and
DownC, and the diagnostics their declarations give (YN309, YN302/YN403/YN412 for IAuxDetect, YN118)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import yamlnet
from blocks.yolov7.heads import Detect, IAuxDetect, IDetect, ImplicitA, ImplicitM
from blocks.yolov7.layers import DownC, ReOrg, RepConv, Stem

ANCHORS = [[12, 16, 19, 36, 40, 28], [36, 75, 76, 55, 72, 146], [142, 110, 192, 243, 459, 401]]


def _randomize(m: nn.Module) -> nn.Module:
    """Non-trivial batch-norm statistics and implicit values, so a wrong fold shows."""
    g = torch.Generator().manual_seed(0)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1, generator=g)
            mod.running_var.uniform_(0.5, 2, generator=g)
            mod.weight.data.uniform_(0.5, 1.5, generator=g)
            mod.bias.data.uniform_(-0.5, 0.5, generator=g)
        if isinstance(mod, (ImplicitA, ImplicitM)):
            mod.implicit.data.uniform_(0.5, 1.5, generator=g)
    return m.eval()


@pytest.mark.parametrize(("c1", "c2", "s", "g"), [(8, 16, 1, 1), (16, 16, 1, 1), (16, 16, 2, 1), (16, 16, 1, 4)])
def test_repconv_fuse_reparameterises_to_one_conv_with_the_same_output(c1: int, c2: int, s: int, g: int) -> None:
    m = _randomize(RepConv(c1, c2, 3, s, None, g))
    assert (m.rbr_identity is not None) == (c1 == c2 and s == 1)
    x = torch.randn(2, c1, 12, 12)
    with torch.no_grad():
        before = m(x)
        m.fuse()
        after = m(x)
    assert isinstance(m.rbr_reparam, nn.Conv2d) and m.rbr_reparam.bias is not None
    assert not hasattr(m, "rbr_dense") and m.rbr_identity is None
    assert list(m.state_dict()) == ["rbr_reparam.weight", "rbr_reparam.bias"]
    assert torch.allclose(before, after, atol=1e-5)


def test_repconv_refuses_kernels_it_cannot_reparameterise() -> None:
    with pytest.raises(ValueError, match="3x3 kernel with padding 1"):
        RepConv(8, 8, 5)


def test_idetect_fuse_folds_the_implicit_layers() -> None:
    m = _randomize(IDetect(3, ANCHORS, (8, 16, 32)))
    m.bind_strides([8, 16, 32])
    x = [torch.randn(1, c, 80 // s, 80 // s) for c, s in ((8, 8), (16, 16), (32, 32))]
    with torch.no_grad():
        boxes, levels = m(x)
        m.fuse()
        boxes2, levels2 = m(x)
    assert boxes.shape == (1, 3 * (100 + 25 + 4), 8)
    assert torch.allclose(boxes, boxes2, atol=1e-4) and all(torch.allclose(a, b, atol=1e-5) for a, b in zip(levels, levels2))


def test_detect_keeps_anchor_grid_in_pixels_and_anchors_in_grid_units() -> None:
    m = Detect(80, ANCHORS, (8, 16, 32))
    assert list(m.state_dict())[:2] == ["anchors", "anchor_grid"] and m.anchor_grid.shape == (3, 1, 3, 1, 1, 2)
    for conv in m.m:
        conv.bias.data.zero_()
    m.bind_strides([8, 16, 32])
    assert m.anchors[0, 0].tolist() == [12 / 8, 16 / 8] and m.anchor_grid[2, 0, 2, 0, 0].tolist() == [459, 401]
    b = m.m[1].bias.view(3, -1)
    assert math.isclose(b[2, 4].item(), math.log(8 / (640 / 16) ** 2), rel_tol=1e-6)  # objectness: ~8 objects per image
    assert math.isclose(b[2, 5].item(), math.log(0.6 / (80 - 0.99)), rel_tol=1e-6)  # classes: YOLOv7's 0.99
    flipped = Detect(80, ANCHORS[::-1], (8, 16, 32))
    flipped.bind_strides([8, 16, 32])  # anchors listed large to small are flipped, in both buffers
    assert torch.equal(flipped.anchor_grid, m.anchor_grid) and torch.equal(flipped.anchors, m.anchors)


def test_iauxdetect_trains_on_lead_and_auxiliary_levels_and_decodes_the_lead() -> None:
    anchors = ANCHORS + [[436, 615, 739, 380, 925, 792]]
    ch = (8, 16, 24, 32, 4, 8, 12, 16)
    m = IAuxDetect(80, anchors, ch)
    m.bind_strides([8, 16, 32, 64] * 2)
    assert m.model_strides == [8, 16, 32, 64] and len(m.m) == len(m.m2) == len(m.ia) == 4
    order = []
    for k in m.state_dict():
        top = k.split(".")[0]
        if not order or order[-1] != top:
            order.append(top)
    assert order == ["anchors", "anchor_grid", "m", "m2", "ia", "im"]
    x = [torch.zeros(1, c, 128 // s, 128 // s) for c, s in zip(ch, (8, 16, 32, 64) * 2)]
    train = m.train()(x)
    assert [list(t.shape) for t in train] == [[1, 3, 128 // s, 128 // s, 85] for s in (8, 16, 32, 64) * 2]
    boxes, lead = m.eval()(x)
    assert boxes.shape == (1, 3 * (256 + 64 + 16 + 4), 85) and len(lead) == 4


def test_reorg_stacks_the_four_pixel_phases() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = ReOrg()(x)
    assert y.shape == (1, 4, 2, 2)
    assert y[0, :, 0, 0].tolist() == [0.0, 4.0, 1.0, 5.0]  # (0,0), (1,0), (0,1), (1,1)


def test_downc_and_stem_shapes() -> None:
    assert DownC(16, 32)(torch.zeros(1, 16, 10, 10)).shape == (1, 32, 5, 5)
    assert DownC(16, 32, 1, 4)(torch.zeros(1, 16, 16, 16)).shape == (1, 32, 4, 4)
    assert Stem(3, 64)(torch.zeros(1, 3, 32, 32)).shape == (1, 64, 8, 8)


def _diag(text: str, code: str) -> tuple[int, int, str]:
    report = yamlnet.analyze(text)
    [d] = [d for d in report.diagnostics if d.code == code]
    return d.span.line, d.span.column, d.message


HEAD = (
    "dialect: yolov7\nnc: 3\nanchors: 3\nbackbone:\n"
    "  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n"
)


def test_iauxdetect_inputs_are_checked_as_lead_then_auxiliary_runs() -> None:
    assert yamlnet.analyze(HEAD + "  - [[1, 2, 1, 2], 1, IAuxDetect, [nc, anchors]]\n").ok
    line, col, msg = _diag(HEAD + "  - [[1, 2, 2, 1], 1, IAuxDetect, [nc, anchors]]\n", "YN403")  # within the auxiliary set
    assert (line, col) == (9, 16) and msg == "IAuxDetect inputs must go from small to large stride"
    line, col, msg = _diag(HEAD + "  - [[1, 2, 0, 1], 1, IAuxDetect, [nc, anchors]]\n", "YN412")  # increasing, not the lead's
    assert (line, col) == (9, 13) and msg == "IAuxDetect's input set 2 has strides 2, 4; set 1 has 4, 8"
    line, col, msg = _diag(HEAD + "  - [[1, 2, 1], 1, IAuxDetect, [nc, anchors]]\n", "YN118")
    assert line == 9 and "2 runs of one per level" in msg
    explicit = HEAD.replace("anchors: 3", "anchors:\n  - [10,13, 16,30, 33,23]\n  - [30,61, 62,45, 59,119]")
    line, col, msg = _diag(explicit + "  - [[1, 2, 1, 2, 1, 2], 1, IAuxDetect, [nc, anchors]]\n", "YN302")
    assert line == 11 and msg == "IAuxDetect has 6 inputs but 2 anchor levels"


def test_level_sets_of_splits_the_inputs_into_sets_then_extras() -> None:
    from yamlnet.registry import level_sets_of

    assert level_sets_of(2)(8) == [(0, 4), (4, 8)]  # IAuxDetect: lead P3..P6, auxiliary P3..P6
    assert level_sets_of(2, extra=2)(8) == [(0, 3), (3, 6)]  # DualDSegment: two prototype inputs after the sets
    assert level_sets_of(1, extra=1)(4) == [(0, 3)]  # DSegment


def test_shortcut_and_downc_arguments() -> None:
    assert _diag(HEAD + "  - [[-1, -2, -3], 1, Shortcut, [1]]\n", "YN118")[2].startswith("Shortcut: it adds exactly two inputs")
    widened = yamlnet.analyze(HEAD + "  - [-1, 1, DownC, [33]]\n")  # c2 is width-scaled to a multiple of 8
    assert widened.ok and widened.ir is not None and widened.ir.nodes[3].out.channels == 40
    unscaled = HEAD.replace("nc: 3", "nc: 80") + "  - [-1, 1, DownC, [255]]\n"  # na * (nc + 5) is left as written
    assert _diag(unscaled, "YN118")[2] == "DownC: DownC makes c2 from two halves, so c2 (255) must be even"
    assert _diag(HEAD + "  - [-1, 1, MP, []]\n  - [[-1, 1], 1, Shortcut, [1]]\n", "YN402")[0] == 10
    good = yamlnet.analyze(HEAD + "  - [-1, 1, Conv, [64, 1, 1]]\n  - [[-1, 2], 1, Shortcut, [1]]\n")
    assert good.ok and good.ir is not None and good.ir.nodes[4].out.channels == 64


def test_sizes_that_mp_would_floor_are_reported() -> None:
    text = (
        "dialect: yolov7\nnc: 3\nbackbone:\n"
        "  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, MP, []]\n  - [-2, 1, Conv, [16, 3, 2]]\n  - [[-1, -2], 1, Concat, [1]]\n"
    )
    assert yamlnet.validate(text, imgsz=["64"]).ok
    bad = yamlnet.validate(text, imgsz=["66"])
    assert not bad.ok and any(d.code.startswith("YN4") and d.span.line == 5 for d in bad.errors), bad.render()
