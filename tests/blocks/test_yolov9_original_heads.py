"""The heads and layers of the YOLOv9 (original) dialect: widths, decoding, branch sets, bias priors, the
width rule of the segment heads' arguments, and the diagnostics of their inputs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import yamlnet
from blocks.yolov9_original.heads import DDetect, Detect, DualDDetect, DualDSegment, Panoptic, TripleDDetect
from blocks.yolov9_original.layers import Silence
from yamlnet import registry


def _feats(ch: list[int], sizes: list[int], g: torch.Generator) -> list[torch.Tensor]:
    return [torch.randn(1, c, s, s, generator=g) for c, s in zip(ch, sizes)]


def test_box_width_rounding_differs_between_detect_and_ddetect() -> None:
    """Box branch width max(ch0 // 4, 64, 16); DDetect rounds it up to a multiple of 4 and groups its convs by 4."""
    d, dd = Detect(80, [360, 360, 360]), DDetect(80, [360, 360, 360])
    assert d.cv2[0][0].conv.out_channels == 90 and dd.cv2[0][0].conv.out_channels == 92
    assert dd.cv2[0][1].conv.groups == 4 and dd.cv2[0][2].groups == 4 and d.cv2[0][1].conv.groups == 1
    assert d.cv3[0][0].conv.out_channels == 360  # class width max(ch0, min(2 nc, 128))
    assert Detect(3, [32, 64]).cv3[0][0].conv.out_channels == 32 and Detect(3, [32, 64]).cv2[0][0].conv.out_channels == 64


def test_decoding_of_uniform_distributions() -> None:
    """Equal DFL logits give 7.5 bins per side: boxes 15 strides wide, centred on the cells; probabilities sigmoid."""
    head = DDetect(2, [16, 32])
    head.bind_strides([8, 16])
    with torch.no_grad():
        for seq in list(head.cv2) + list(head.cv3):
            seq[-1].weight.zero_()
        for seq in head.cv3:
            seq[-1].bias.fill_(0.0)
    head.eval()
    y, maps = head(_feats([16, 32], [4, 2], torch.Generator().manual_seed(0)))
    assert list(y.shape) == [1, 6, 16 + 4] and [list(m.shape) for m in maps] == [[1, 66, 4, 4], [1, 66, 2, 2]]
    assert torch.allclose(y[0, 2, :16], torch.full((16,), 15 * 8.0)) and torch.allclose(y[0, 3, 16:], torch.full((4,), 15 * 16.0))
    assert torch.allclose(y[0, 0, :4], torch.tensor([4.0, 12.0, 20.0, 28.0])) and torch.allclose(y[0, 1, 16:18], torch.tensor([8.0, 8.0]))
    assert torch.allclose(y[0, 4:], torch.full((2, 20), 0.5))


def test_bias_priors() -> None:
    head = DualDDetect(80, [64, 128, 64, 128])
    head.bind_strides([8, 16, 8, 16])
    assert head.model_strides == [8.0, 16.0] and head.stride.tolist() == [8.0, 16.0]
    for box, cls in ((head.cv2, head.cv3), (head.cv4, head.cv5)):
        assert torch.all(box[1][-1].bias == 1.0)
        assert math.isclose(float(cls[1][-1].bias[0].detach()), math.log(5 / 80 / (640 / 16) ** 2), rel_tol=1e-6)
    with pytest.raises(ValueError, match="set 2 has strides"):
        head.bind_strides([8, 16, 16, 32])


def test_dual_and_triple_outputs() -> None:
    """DualDDetect eval decodes both sets; TripleDDetect returns the third set's decoding, equal to decoding it alone."""
    g = torch.Generator().manual_seed(1)
    x = _feats([16, 32] * 3, [4, 2] * 3, g)
    tri = TripleDDetect(3, [16, 32] * 3).eval()
    tri.bind_strides([8, 16] * 3)
    with torch.no_grad():
        y, maps = tri(list(x))
        assert torch.equal(y, tri.decode(tri.level_maps(x, 2), 2)) and not torch.equal(y, tri.decode(tri.level_maps(x, 0), 0))
        tri.train()
        assert [len(s) for s in tri(list(x))] == [2, 2, 2]
    dual = DualDDetect(3, [16, 32] * 2).eval()
    dual.bind_strides([8, 16] * 2)
    with torch.no_grad():
        ys, ds = dual(x[:4])
    assert len(ys) == 2 and len(ds) == 2 and [list(t.shape) for t in ys] == [[1, 7, 20], [1, 7, 20]]
    assert len(list(dual.dfl.parameters())) == 1 and hasattr(dual, "dfl2") and not hasattr(dual, "dfl3")


def test_dual_segment_keeps_the_main_set_and_panoptic_adds_semantics() -> None:
    g = torch.Generator().manual_seed(2)
    seg = DualDSegment(3, 8, 16, [16, 32, 16, 32, 12, 20]).eval()
    seg.bind_strides([8, 16, 8, 16, 4, 4])
    x = _feats([16, 32, 16, 32], [8, 4, 8, 4], g) + _feats([12, 20], [16, 16], g)
    with torch.no_grad():
        y, (maps, mc, proto) = seg(x)
    assert list(y.shape) == [1, 4 + 3 + 8, 80] and list(mc.shape) == [1, 8, 80] and list(proto.shape) == [1, 8, 16, 16]
    pan = Panoptic(3, 5, 8, 16, [16, 32]).eval()
    pan.bind_strides([8, 16])
    with torch.no_grad():
        y, (_, _, proto, sem) = pan(_feats([16, 32], [8, 4], g))
    assert list(sem.shape) == [1, 5 + 3, 16, 16] and list(proto.shape) == [1, 8, 16, 16]
    assert sum(p.numel() for p in pan.uconv.parameters()) == 16 * 4 * 9 + 2 * 4 + 4 * 8 + 8  # Conv+BN, then 1x1 with bias


def test_silence_is_identity_and_the_gelan_layers_are_the_ultralytics_ones() -> None:
    x = torch.randn(1, 3, 4, 4)
    assert Silence()(x) is x
    for other, names in (
        ("ultralytics", ("RepNCSPELAN4", "ELAN1", "ADown", "AConv", "SPPELAN", "CBLinear", "CBFuse")),
        ("yolov7", ("MP", "SP", "SPPCSPC")),
    ):
        for name in names:
            v9, theirs = registry.lookup(name, "yolov9"), registry.lookup(name, other)
            assert v9 is not None and theirs is not None and v9.dialect == "yolov9"
            facts = [[(a.name, a.type, a.default, a.width, a.fill) for a in d.args] for d in (v9, theirs)]
            assert facts[0] == facts[1], name
            mine, shared = registry.load_impl(v9), registry.load_impl(theirs)
            assert mine is shared or (issubclass(mine, shared) and name in ("RepNCSPELAN4", "SPPELAN", "SPPCSPC")), name


def test_the_subclasses_only_reshape_the_module_tree() -> None:
    """SPPELAN's pools are SP modules, RepConvs share a second activation, SPPCSPC's convs the default one:
    same parameters and outputs as the shared implementations."""
    from blocks.yolov7.layers import SPPCSPC as V7SPPCSPC
    from blocks.yolov9.layers import SPPELAN as ULSPPELAN
    from blocks.yolov9.layers import RepNCSPELAN4 as ULRepNCSPELAN4
    from blocks.yolov9_original.layers import SPPCSPC, SPPELAN, RepNCSPELAN4
    from yamlnet.compile.context import activation
    from yamlnet.compile.instantiate import activation_factory

    x = torch.randn(1, 16, 8, 8)
    with activation(activation_factory(None)):
        for mine, theirs, args in (
            (SPPELAN, ULSPPELAN, (16, 16, 8)),
            (RepNCSPELAN4, ULRepNCSPELAN4, (16, 16, 16, 8, 1)),
            (SPPCSPC, V7SPPCSPC, (16, 16)),
        ):
            torch.manual_seed(0)
            a = mine(*args).eval()
            torch.manual_seed(0)
            b = theirs(*args).eval()
            assert a.state_dict().keys() == b.state_dict().keys()
            assert torch.allclose(a(x), b(x))
        elan = RepNCSPELAN4(16, 16, 16, 8, 1)
    acts = {id(m.act) for m in elan.modules() if hasattr(m, "act") and not isinstance(m.act, torch.nn.Identity)}
    assert len(acts) == 2  # Conv's shared SiLU and the RepConvs' own shared one


HEAD_SPEC = """\
nc: 4
dialect: yolov9
depth_multiple: 1.0
width_multiple: 0.5
anchors: 3
backbone:
  - [-1, 1, Silence, []]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, ADown, [128]]
  - [-1, 1, ADown, [256]]
head:
  - [[3, 4], 1, {head}]
"""


@pytest.mark.parametrize(
    ("head", "proto_hidden", "masks"),
    [("Segment, [nc, 32, 256]", 128, 32), ("Panoptic, [nc, 7, 32, 256]", 256, 16)],
)
def test_segment_heads_scale_the_third_argument(head: str, proto_hidden: int, masks: int) -> None:
    """The repository width-scales the row's third argument: Segment's npr, but Panoptic's nm."""
    model = yamlnet.build(HEAD_SPEC.format(head=head), device="meta")
    m = model.model[-1]
    assert m.proto.cv1.conv.out_channels == proto_hidden and m.proto.cv3.conv.out_channels == masks


@pytest.mark.parametrize(
    ("head", "code", "col"),
    [
        ("[[3, 4, 2, 3], 1, DualDDetect, [nc]]", "YN412", 13),  # set 2 is strides 4, 8; set 1 8, 16
        ("[[4, 3, 3, 4], 1, DualDDetect, [nc]]", "YN403", 10),  # set 1 goes down in stride
        ("[[3, 4, 3], 1, DualDDetect, [nc]]", "YN118", 33),  # three inputs are not two sets
        ("[[3, 4], 1, Detect, [nc, anchors]]", "YN135", 30),
    ],
)
def test_head_input_diagnostics(head: str, code: str, col: int) -> None:
    text = HEAD_SPEC.replace("[[3, 4], 1, {head}]", head)
    report = yamlnet.analyze(text)
    errs = [d for d in report.errors if d.code == code]
    assert errs, report.render()
    assert (errs[0].span.line, errs[0].span.column) == (13, col), report.render()


DUAL_SPEC = """\
nc: 3
dialect: yolov9
anchors: 3
backbone:
  - [-1, 1, Silence, []]
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, ADown, [32]]
  - [-1, 1, RepNCSPELAN4, [32, 32, 16, 1]]
  - [-1, 1, ADown, [64]]
head:
  - [3, 1, CBLinear, [[16]]]
  - [0, 1, Conv, [16, 3, 2]]
  - [-1, 1, ADown, [16]]
  - [[5, -1], 1, CBFuse, [[0]]]
  - [-1, 1, ADown, [64]]
  - [[8, 9, 3, 4], 1, DualDDetect, [nc]]
"""


def test_dual_head_exports_to_onnx_with_both_sets(tmp_path: Path) -> None:
    """Export form: the decoded predictions of both sets, as the repository's export returns them, equal to eager
    at the exported size and, with dynamic shapes, at another."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is in the export extra")
    from yamlnet.export import export_model

    torch.manual_seed(0)
    model = yamlnet.build(DUAL_SPEC).eval()
    result = export_model(model, tmp_path / "dual.onnx", imgsz=64, dynamic=True)
    assert result.ok and result.outputs == 2, result.summary()
    assert [c.outputs for c in result.checks][0] == [(1, 7, 320), (1, 7, 320)]  # strides 4 and 8 at 64: 16 * 16 + 8 * 8
    assert all(c.max_abs < 1e-3 for c in result.checks), result.summary()
    assert model.model[-1].export is False
