"""The YOLOv5 block library against numbers measured with YOLOv5's own code (reference.json).

Layers are built and chained by hand here (not through the compiler), row by row as the YAMLs say.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from blocks.yolov5.common import (
    C3,
    C3SPP,
    C3TR,
    SPP,
    SPPF,
    Bottleneck,
    BottleneckCSP,
    C3Ghost,
    C3x,
    Concat,
    Contract,
    Conv,
    CrossConv,
    DWConv,
    DWConvTranspose2d,
    Expand,
    Focus,
    GhostBottleneck,
    GhostConv,
    MixConv2d,
    Proto,
    apply_yolov5_defaults,
)
from blocks.yolov5.heads import Classify, Detect, Segment
from yamlnet import registry
from yamlnet.compile.context import activation

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "yolov5" / "reference.json"
ANCHORS_P3_P5 = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
ANCHORS_TINY = [[10, 14, 23, 27, 37, 58], [81, 82, 135, 169, 344, 319]]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.exists():
        pytest.skip("reference.json not available")
    return json.loads(REFERENCE.read_text())["models"]


# ---------------------------------------------------------------------------------------------------------
# Hand-chained models: rows of (from, module), forward runs them in order like YOLOv5's DetectionModel.


class Chain(nn.Module):
    def __init__(self, rows: Sequence[tuple[int | list[int], nn.Module]]) -> None:
        super().__init__()
        self.froms = [f for f, _ in rows]
        self.model = nn.ModuleList(m for _, m in rows)

    def forward(self, x: torch.Tensor) -> Any:
        outs: list[Any] = []
        for f, m in zip(self.froms, self.model):
            if isinstance(f, int):
                x = outs[f] if f != -1 else x
            else:
                x = [x if j == -1 else outs[j] for j in f]
            x = m(x)
            outs.append(x)
        return x


def up() -> nn.Upsample:
    return nn.Upsample(None, 2, "nearest")


def yolov5s_rows(
    conv: Callable[..., nn.Module] = Conv,
    c3: Callable[..., nn.Module] = C3,
    c3_p5: Callable[..., nn.Module] | None = None,
    head: Callable[[list[int]], nn.Module] | None = None,
) -> list[tuple[int | list[int], nn.Module]]:
    """yolov5s.yaml with width 0.50 and depth 0.33 applied (channels and repeats already scaled)."""
    c3_p5 = c3_p5 or c3
    head = head or (lambda ch: Detect(80, ANCHORS_P3_P5, ch))
    return [
        (-1, Conv(3, 32, 6, 2, 2)),  # 0 P1/2 (a plain Conv in every variant)
        (-1, conv(32, 64, 3, 2)),  # 1 P2/4
        (-1, c3(64, 64, 1)),
        (-1, conv(64, 128, 3, 2)),  # 3 P3/8
        (-1, c3(128, 128, 2)),
        (-1, conv(128, 256, 3, 2)),  # 5 P4/16
        (-1, c3(256, 256, 3)),
        (-1, conv(256, 512, 3, 2)),  # 7 P5/32
        (-1, c3_p5(512, 512, 1)),
        (-1, SPPF(512, 512, 5)),  # 9
        (-1, conv(512, 256, 1, 1)),  # 10
        (-1, up()),
        ([-1, 6], Concat(1)),
        (-1, c3(512, 256, 1, False)),  # 13
        (-1, conv(256, 128, 1, 1)),  # 14
        (-1, up()),
        ([-1, 4], Concat(1)),
        (-1, c3(256, 128, 1, False)),  # 17 P3
        (-1, conv(128, 128, 3, 2)),
        ([-1, 14], Concat(1)),
        (-1, c3(256, 256, 1, False)),  # 20 P4
        (-1, conv(256, 256, 3, 2)),
        ([-1, 10], Concat(1)),
        (-1, c3(512, 512, 1, False)),  # 23 P5
        ([17, 20, 23], head([128, 256, 512])),
    ]


def yolov3_tiny_rows() -> list[tuple[int | list[int], nn.Module]]:
    """hub/yolov3-tiny.yaml (width and depth 1.0): MaxPool2d, ZeroPad2d and a two-level Detect."""
    return [
        (-1, Conv(3, 16, 3, 1)),
        (-1, nn.MaxPool2d(2, 2, 0)),
        (-1, Conv(16, 32, 3, 1)),
        (-1, nn.MaxPool2d(2, 2, 0)),
        (-1, Conv(32, 64, 3, 1)),
        (-1, nn.MaxPool2d(2, 2, 0)),
        (-1, Conv(64, 128, 3, 1)),
        (-1, nn.MaxPool2d(2, 2, 0)),
        (-1, Conv(128, 256, 3, 1)),  # 8
        (-1, nn.MaxPool2d(2, 2, 0)),
        (-1, Conv(256, 512, 3, 1)),
        (-1, nn.ZeroPad2d((0, 1, 0, 1))),
        (-1, nn.MaxPool2d(2, 1, 0)),  # 12
        (-1, Conv(512, 1024, 3, 1)),
        (-1, Conv(1024, 256, 1, 1)),  # 14
        (-1, Conv(256, 512, 3, 1)),  # 15 P5
        (-2, Conv(256, 128, 1, 1)),
        (-1, up()),
        ([-1, 8], Concat(1)),
        (-1, Conv(384, 256, 3, 1)),  # 19 P4
        ([19, 15], Detect(80, ANCHORS_TINY, [256, 512])),
    ]


def finish(model: Chain, strides: list[float]) -> Chain:
    """What the compiler does after construction: YOLOv5's BN/activation settings and the head's strides."""
    apply_yolov5_defaults(model)
    head = model.model[-1]
    assert isinstance(head, Detect)
    head.bind_strides(strides)
    return model


# ---------------------------------------------------------------------------------------------------------
# Parameter counts


def test_layer_param_counts() -> None:
    assert n_params(Conv(3, 32, 6, 2, 2)) == 3520
    assert n_params(C3(64, 64, 1)) == 18816
    assert n_params(SPPF(512, 512, 5)) == 656896
    assert n_params(Detect(80, ANCHORS_P3_P5, [128, 256, 512])) == 229245
    # SPP(c1=512): 1x1 to 256, four 256-channel maps concatenated, 1x1 to 512
    assert n_params(SPP(512, 512)) == 512 * 256 + 2 * 256 + 1024 * 512 + 2 * 512
    # TransformerBlock(256) replaces two Bottleneck convs with 256 more parameters (yolov5s-transformer)
    assert n_params(C3TR(512, 512, 1)) - n_params(C3(512, 512, 1)) == 256


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("yolov5s.yaml", lambda: yolov5s_rows()),
        ("hub/yolov5s-ghost.yaml", lambda: yolov5s_rows(conv=GhostConv, c3=C3Ghost)),
        ("hub/yolov5s-transformer.yaml", lambda: yolov5s_rows(c3_p5=C3TR)),
        ("segment/yolov5s-seg.yaml", lambda: yolov5s_rows(head=lambda ch: Segment(80, ANCHORS_P3_P5, 32, 128, ch))),
        ("hub/yolov3-tiny.yaml", yolov3_tiny_rows),
    ],
)
def test_model_param_counts(reference: dict[str, Any], name: str, rows: Callable[[], list[Any]]) -> None:
    model = Chain(rows())
    assert n_params(model) == reference[name]["params"]


def test_yolov5s_state_dict_keys_and_shapes(reference: dict[str, Any]) -> None:
    model = finish(Chain(yolov5s_rows()), [8, 16, 32])
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == reference["yolov5s.yaml"]["state_dict"]
    assert list(ours) == list(reference["yolov5s.yaml"]["state_dict"])  # same order too


# ---------------------------------------------------------------------------------------------------------
# Outputs


@torch.no_grad()
def test_yolov5s_outputs_640_eval_and_256_train(reference: dict[str, Any]) -> None:
    torch.manual_seed(0)
    model = finish(Chain(yolov5s_rows()), [8, 16, 32]).eval()
    boxes, levels = model(torch.zeros(1, 3, 640, 640))
    expected = reference["yolov5s.yaml"]["eval_output_shapes_640"]
    assert [list(boxes.shape), [list(t.shape) for t in levels]] == expected == [[1, 25200, 85], expected[1]]
    assert torch.isfinite(boxes).all()
    model.train()
    train = model(torch.zeros(1, 3, 256, 256))
    assert [list(t.shape) for t in train] == reference["yolov5s.yaml"]["train_output_shapes_256"]


@torch.no_grad()
def test_segment_outputs(reference: dict[str, Any]) -> None:
    model = Chain(yolov5s_rows(head=lambda ch: Segment(80, ANCHORS_P3_P5, 32, 128, ch)))
    finish(model, [8, 16, 32])
    x = torch.zeros(1, 3, 256, 256)
    levels, protos = model.train()(x)
    assert [[list(t.shape) for t in levels], list(protos.shape)] == reference["segment/yolov5s-seg.yaml"]["train_output_shapes_256"]
    boxes, protos, levels = model.eval()(x[..., :128, :128])
    # reference eval shapes are at 640 ([1, 25200, 117], [1, 32, 160, 160], levels); the same pattern at 128
    assert list(boxes.shape) == [1, 3 * (16 * 16 + 8 * 8 + 4 * 4), 117]
    assert list(protos.shape) == [1, 32, 32, 32]
    assert [list(t.shape) for t in levels] == [[1, 3, 16, 16, 117], [1, 3, 8, 8, 117], [1, 3, 4, 4, 117]]


@torch.no_grad()
def test_yolov3_tiny_maxpool_zeropad_outputs(reference: dict[str, Any]) -> None:
    model = finish(Chain(yolov3_tiny_rows()), [16, 32])
    out = model.train()(torch.zeros(1, 3, 256, 256))
    assert [list(t.shape) for t in out] == reference["hub/yolov3-tiny.yaml"]["train_output_shapes_256"]


@torch.no_grad()
def test_detect_decoding_by_hand() -> None:
    det = Detect(2, [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]], [4, 8])
    det.bind_strides([8, 16])
    for conv in det.m:  # all logits 0: sigmoid 0.5 everywhere
        conv.weight.zero_()
        conv.bias.zero_()
    boxes, levels = det.eval()([torch.randn(1, 4, 2, 3), torch.randn(1, 8, 1, 2)])
    assert list(boxes.shape) == [1, 3 * 2 * 3 + 3 * 1 * 2, 7]
    assert [list(t.shape) for t in levels] == [[1, 3, 2, 3, 7], [1, 3, 1, 2, 7]]
    first = boxes[0, :18].view(3, 2, 3, 7)  # level 0: (anchor, y, x, value)
    gy, gx = torch.meshgrid(torch.arange(2.0), torch.arange(3.0), indexing="ij")
    torch.testing.assert_close(first[0, ..., 0], (gx + 0.5) * 8)  # x = (2*0.5 + gx - 0.5) * stride
    torch.testing.assert_close(first[0, ..., 1], (gy + 0.5) * 8)
    assert first[:, 0, 0, 2].tolist() == [10, 16, 33]  # w = (2*0.5)^2 * anchor in pixels
    assert first[:, 0, 0, 3].tolist() == [13, 30, 23]
    assert torch.all(first[..., 4:] == 0.5)
    assert boxes[0, 18:, 2].view(3, 2)[:, 0].tolist() == [30, 62, 59]


@torch.no_grad()
def test_bind_strides_anchor_order_and_biases() -> None:
    det = Detect(80, ANCHORS_P3_P5, [16, 16, 16])
    before = [c.bias.clone() for c in det.m]
    det.bind_strides([8, 16, 32])
    assert det.stride.tolist() == [8, 16, 32]
    assert "stride" not in det.state_dict() and "anchors" in det.state_dict()
    torch.testing.assert_close(det.anchors[0, 0], torch.tensor([10 / 8, 13 / 8]))
    for b0, conv, s in zip(before, det.m, (8, 16, 32)):
        delta = (conv.bias - b0).view(3, 85)
        torch.testing.assert_close(delta[:, 4], torch.full((3,), math.log(8 / (640 / s) ** 2)))
        torch.testing.assert_close(delta[:, 5:], torch.full((3, 80), math.log(0.6 / (80 - 0.99999))))
        assert torch.all(delta[:, :4] == 0)
    # anchors listed from large to small against increasing strides are put in stride order
    flipped = Detect(80, ANCHORS_P3_P5[::-1], [16, 16, 16])
    flipped.bind_strides([8, 16, 32])
    torch.testing.assert_close(flipped.anchors, det.anchors)


def test_detect_int_anchors_via_declaration() -> None:
    decl = registry.lookup("Detect")
    assert decl is not None and decl.prepare is not None
    args = decl.prepare({"nc": 80, "anchors": 3, "ch": [64, 128, 256, 512], "inplace": True}, 4)
    assert args["anchors"] == [[0, 1, 2, 3, 4, 5]] * 4
    det = Detect(**args)
    det.bind_strides([8, 16, 32, 64])  # equal areas: no flip
    assert det.anchors.shape == (4, 3, 2)
    torch.testing.assert_close(det.anchors[3, 2], torch.tensor([4 / 64, 5 / 64]))


def test_classify_and_proto_shapes() -> None:
    cls = Classify(64, 10, dropout_p=0.1).eval()
    assert list(cls(torch.randn(2, 64, 8, 8)).shape) == [2, 10]
    assert list(cls([torch.randn(2, 32, 8, 8), torch.randn(2, 32, 8, 8)]).shape) == [2, 10]
    assert list(Proto(64, 32, 8)(torch.randn(1, 64, 5, 7)).shape) == [1, 8, 10, 14]


# ---------------------------------------------------------------------------------------------------------
# Fuse and the default activation


def _randomise_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def fuse_all(module: nn.Module) -> nn.Module:
    """The compiler's deploy walk: children first, each module with `fuse` replaced by its result."""
    for name, child in list(module.named_children()):
        setattr(module, name, fuse_all(child))
    fuse = getattr(module, "fuse", None)
    return fuse() if callable(fuse) else module


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@torch.no_grad()
def test_fuse_conv_dwconv() -> None:
    torch.manual_seed(0)
    for m in (Conv(8, 16, 3, 2), DWConv(16, 16, 5, 1), Conv(8, 8, (1, 3), 1, g=2, d=2)):
        _randomise_bn(m)
        m.eval()
        x = torch.randn(2, m.conv.in_channels, 13, 11)
        ref = m(x)
        fused = m.fuse()
        assert fused is m and isinstance(m.bn, nn.Identity) and m.conv.bias is not None
        assert _max_rel(m(x), ref) < 1e-5
        assert set(m.state_dict()) == {"conv.weight", "conv.bias"}


@torch.no_grad()
def test_fuse_whole_yolov5s_agrees() -> None:
    torch.manual_seed(0)
    model = finish(Chain(yolov5s_rows()), [8, 16, 32])
    _randomise_bn(model)
    model.eval()
    x = torch.rand(1, 3, 64, 96)
    ref_boxes, ref_levels = model(x)
    model = fuse_all(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    boxes, levels = model(x)
    err = max([_max_rel(boxes, ref_boxes)] + [_max_rel(a, b) for a, b in zip(levels, ref_levels)])
    assert err < 1e-4, err


def test_default_activation_context() -> None:
    assert isinstance(Conv(3, 8).act, nn.SiLU)
    with activation(lambda: nn.LeakyReLU(0.1)):
        c = Conv(3, 8)
        c3 = C3(8, 8, 1)
        csp = BottleneckCSP(8, 8, 1)
    assert isinstance(c.act, nn.LeakyReLU) and c.act.negative_slope == 0.1
    assert all(isinstance(m.act, nn.LeakyReLU) for m in c3.modules() if isinstance(m, Conv))
    assert isinstance(csp.act, nn.SiLU)  # BottleneckCSP's own activation is fixed SiLU, as in YOLOv5
    assert isinstance(Conv(3, 8).act, nn.SiLU)  # the setting ends with the context
    assert isinstance(Conv(3, 8, act=False).act, nn.Identity)
    relu = nn.ReLU()
    assert Conv(3, 8, act=relu).act is relu
    assert isinstance(GhostConv(8, 8, act=False).cv2.act, nn.Identity)


# ---------------------------------------------------------------------------------------------------------
# Declarations against implementations: signatures, and channels/strides against a real forward


def _ours() -> list[registry.BlockDecl]:
    decls = [registry.lookup(n) for n in registry.names()]
    return [d for d in decls if d is not None and (d.impl.startswith("blocks.yolov5.") or d.name.startswith("nn."))]


def test_declared_names() -> None:
    names = {d.name for d in _ours()}
    assert names == {
        "Conv", "DWConv", "DWConvTranspose2d", "GhostConv", "Focus", "Bottleneck", "BottleneckCSP", "CrossConv",
        "C3", "C3x", "C3TR", "C3SPP", "C3Ghost", "GhostBottleneck", "SPP", "SPPF", "MixConv2d", "Contract",
        "Expand", "Concat", "Detect", "Segment", "Classify", "nn.Upsample", "nn.BatchNorm2d", "nn.Conv2d",
        "nn.ConvTranspose2d", "nn.MaxPool2d", "nn.ZeroPad2d", "nn.Identity", "nn.Dropout",
    }  # fmt: skip


def test_declarations_match_signatures() -> None:
    for decl in _ours():
        params = [p for p in inspect.signature(registry.load_impl(decl)).parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        declared = [a for a in decl.args if a.to_constructor]
        assert [p.name for p in params[: len(declared)]] == [a.name for a in declared], decl.name
        for p, a in zip(params, declared):
            if a.fill is None and a.check is None:
                want = registry.REQUIRED if p.default is inspect.Parameter.empty else p.default
                assert a.default == want, (decl.name, a.name)
            assert a.type and all(t in registry.ARG_TYPES for t in a.type.split("|")), (decl.name, a.name)
            assert a.doc, (decl.name, a.name)
        assert all(p.default is not inspect.Parameter.empty for p in params[len(declared) :]), decl.name
        assert decl.doc, decl.name


# name -> (YAML args after binding, input channels, input size)
SAMPLES: dict[str, tuple[dict[str, Any], int, int]] = {
    "Conv": ({"c2": 16, "k": 3, "s": 2}, 8, 16),
    "DWConv": ({"c2": 16, "k": 3, "s": 2}, 8, 16),
    "GhostConv": ({"c2": 16, "k": 3, "s": 2}, 8, 16),
    "Focus": ({"c2": 16, "k": 3}, 3, 16),
    "CrossConv": ({"c2": 16, "s": 2}, 8, 16),
    "MixConv2d": ({"c2": 8, "k": [1, 3, 5]}, 8, 16),
    "Bottleneck": ({"c2": 16}, 8, 16),
    "GhostBottleneck": ({"c2": 16, "s": 2}, 8, 16),
    "SPP": ({"c2": 16}, 8, 16),
    "SPPF": ({"c2": 16, "k": 5}, 8, 16),
    "BottleneckCSP": ({"c2": 16, "n": 2}, 8, 16),
    "C3": ({"c2": 16, "n": 2}, 8, 16),
    "C3x": ({"c2": 16, "n": 2}, 8, 16),
    "C3TR": ({"c2": 16, "n": 1}, 8, 8),
    "C3Ghost": ({"c2": 16, "n": 2}, 8, 16),
    "C3SPP": ({"c2": 16}, 8, 16),
    "DWConvTranspose2d": ({"c2": 16, "k": 2, "s": 2}, 8, 16),
    "Contract": ({"gain": 2}, 8, 16),
    "Expand": ({"gain": 2}, 8, 16),
    "nn.Upsample": ({"size": None, "scale_factor": 2, "mode": "nearest"}, 8, 16),
    "nn.BatchNorm2d": ({}, 8, 16),
    "nn.Conv2d": ({"out_channels": 12, "kernel_size": 3, "stride": 2, "padding": 1}, 8, 16),
    "nn.ConvTranspose2d": ({"out_channels": 16, "kernel_size": 2, "stride": 2}, 8, 16),
    "nn.MaxPool2d": ({"kernel_size": 2, "stride": None}, 8, 16),
    "nn.ZeroPad2d": ({"padding": [0, 1, 0, 1]}, 8, 16),
    "nn.Identity": ({}, 8, 16),
    "nn.Dropout": ({}, 8, 16),
}


@torch.no_grad()
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_declared_channels_and_stride_match_forward(name: str) -> None:
    decl = registry.lookup(name)
    assert decl is not None and decl.out_channels is not None
    given, c1, size = SAMPLES[name]
    args: dict[str, Any] = {}
    for a in decl.args:
        if a.fill == registry.FILL_C1 or a.check == registry.CHECK_C1:
            args[a.name] = c1
        elif a.name in given:
            args[a.name] = given[a.name]
        else:
            assert a.default is not registry.REQUIRED, (name, a.name)
            args[a.name] = a.default
    for rule in decl.sizes:
        assert size % rule.multiple(args) == 0
    m = registry.load_impl(decl)(**{a.name: args[a.name] for a in decl.args if a.to_constructor}).eval()
    y = m(torch.randn(1, c1, size, size))
    assert y.shape[1] == decl.out_channels(c1, args), name
    stride = decl.stride_of(args)
    if name == "nn.ZeroPad2d":  # stride 1, the padding adds to the size
        assert stride == 1 and y.shape[2:] == (size + 1, size + 1)
    else:
        assert Fraction(size, y.shape[2]) == stride, name


def test_static_declaration_facts() -> None:
    look = registry.lookup
    assert look("Concat").out_channels([64, 128, 32], {"dimension": 1}) == 224  # type: ignore[union-attr,misc]
    assert look("Concat").inputs == "join"  # type: ignore[union-attr]
    assert {look(n).repeat for n in ("C3", "C3TR", "C3Ghost", "C3x", "BottleneckCSP")} == {"arg"}  # type: ignore[union-attr]
    assert {look(n).repeat for n in ("Conv", "Bottleneck", "SPPF", "C3SPP", "GhostBottleneck")} == {"sequential"}  # type: ignore[union-attr]
    assert [a.name for a in look("C3").yaml_args()] == ["c2", "shortcut", "g", "e"]  # type: ignore[union-attr]
    assert look("Segment").yaml_args()[3].name == "npr" and look("Segment").yaml_args()[3].width  # type: ignore[union-attr]
    assert [a.name for a in look("nn.BatchNorm2d").yaml_args()] == ["num_features"]  # stated channels are checked, not ignored  # type: ignore[union-attr]
    assert look("nn.ConvTranspose2d").args[1].width and not look("nn.Conv2d").args[1].width  # type: ignore[union-attr]
    assert look("nn.MaxPool2d").stride_of({"kernel_size": 3, "stride": None}) == 3  # type: ignore[union-attr]
    assert look("nn.Upsample").stride_of({"scale_factor": 2.0}) == Fraction(1, 2)  # type: ignore[union-attr]
    assert look("Focus").stride_of({"s": 2}) == 4  # type: ignore[union-attr]
    assert look("Detect").role == "head" and look("Detect").out_channels is None  # type: ignore[union-attr]


def test_build_on_meta_device() -> None:
    with torch.device("meta"):
        m = Chain(yolov5s_rows())
        mix = MixConv2d(64, 64, (1, 3, 5), equal_ch=False)
        finish(m, [8, 16, 32])
    assert n_params(m) == 7235389
    assert [c.out_channels for c in mix.m] == [56, 6, 2]
    assert n_params(C3x(16, 16, 2)) == n_params(C3x(16, 16, 1)) + n_params(CrossConv(8, 8, 3, 1, 1, 1.0, True))
    assert n_params(Focus(3, 32, 3)) == 12 * 32 * 9 + 64
    assert Contract(2)(torch.arange(16.0).view(1, 1, 4, 4)).shape == (1, 4, 2, 2)
    x = torch.randn(1, 8, 6, 4)
    torch.testing.assert_close(Expand(2)(Contract(2)(x)), x)
    assert isinstance(GhostBottleneck(8, 8, 3, 2).shortcut, nn.Sequential)
    assert n_params(C3SPP(16, 16)) > 0 and n_params(DWConvTranspose2d(8, 8, 2, 2)) == 8 * 4 + 8
    assert isinstance(Bottleneck(8, 8).cv2, Conv)
