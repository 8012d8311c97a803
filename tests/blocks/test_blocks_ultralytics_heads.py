"""The Ultralytics-dialect heads (blocks/ultralytics_heads) against facts measured on ultralytics 8.4.190.

Parameter counts and state_dict keys are the package's, measured on its own heads with the same arguments
(ch = (64, 128, 256) unless stated); decoding is checked against values worked out by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import output_shapes, require_ultralytics
from torch import nn

import yamlnet
from blocks.ultralytics_heads.dense import Classify, Depth, SemanticSegment
from blocks.ultralytics_heads.detect import OBB, OBB26, Detect, Pose, Pose26, Segment, Segment26, v10Detect
from yamlnet import registry
from yamlnet.registry import Scaling

CH = (64, 128, 256)
STRIDES = (8.0, 16.0, 32.0)
SIZES = (8, 4, 2)  # feature sizes of a 64x64 input at strides 8, 16, 32
A = sum(s * s for s in SIZES)  # anchor points


def feats(batch: int = 2, ch: tuple[int, ...] = CH, sizes: tuple[int, ...] = SIZES, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, s, s, generator=g) for c, s in zip(ch, sizes)]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# -- declarations (no torch needed to read them) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "yaml_args"),
    [
        ("Detect", ["nc"]),
        ("Segment", ["nc", "nm", "npr"]),
        ("Segment26", ["nc", "nm", "npr"]),
        ("Pose", ["nc", "kpt_shape"]),
        ("Pose26", ["nc", "kpt_shape"]),
        ("OBB", ["nc", "ne"]),
        ("OBB26", ["nc", "ne"]),
        ("v10Detect", ["nc"]),
        ("Classify", ["c2", "k", "s", "p", "g"]),
        ("Depth", ["c_mid"]),
        ("SemanticSegment", ["nc"]),
    ],
)
def test_declared_yaml_arguments(name: str, yaml_args: list[str]) -> None:
    decl = registry.lookup(name, "ultralytics")
    assert decl is not None and decl.dialect == "ultralytics" and decl.role == "head"
    assert decl.impl.startswith("blocks.ultralytics_heads.")
    assert [a.name for a in decl.yaml_args()] == yaml_args


def test_detect_family_fills_header_keys_and_input_channels() -> None:
    decl = registry.lookup("Segment", "ultralytics")
    assert decl is not None
    fills = {a.name: a.fill for a in decl.args if a.fill}
    assert fills == {"reg_max": "header:reg_max", "end2end": "header:end2end", "ch": "c1s", "legacy": "header:legacy"}
    assert registry.lookup("Detect", "yolov5").impl == "blocks.yolov5.heads:Detect"  # YOLOv5 files keep the anchor head


@pytest.mark.parametrize(("width", "max_channels", "npr"), [(0.25, 1024, 64), (0.5, 1024, 128), (1.0, 512, 256), (1.5, 512, 384), (1.0, 128, 128)])
def test_segment_prototype_channels_scale_like_c2(width: float, max_channels: float, npr: int) -> None:
    decl = registry.lookup("Segment", "ultralytics")
    assert decl is not None
    rule = next(a.width for a in decl.args if a.name == "npr")
    assert callable(rule)
    assert rule(256, Scaling("ultralytics", "n", 0.5, width, max_channels, 80)) == npr


# -- structure: parameter counts and keys as the package's heads ------------------------------------------------


@pytest.mark.parametrize(
    ("make", "params", "keys"),
    [
        (lambda: Detect(80, 16, False, CH, legacy=True), 897_664, 85),
        (lambda: Detect(80, 16, False, CH, legacy=False), 464_912, 121),
        (lambda: Detect(80, 1, True, CH, legacy=False), 309_656, 240),
        (lambda: Detect(80, 16, True, CH, legacy=True), 1_795_312, 169),
        (lambda: Detect(1, 16, False, (64, 128, 192, 256), legacy=False), 602_260, 161),
        (lambda: Segment(80, 32, 64, 16, False, CH, legacy=True), 1_150_432, 147),
        (lambda: Segment(80, 32, 64, 16, False, CH, legacy=False), 717_680, 183),
        (lambda: Segment26(80, 32, 64, 1, True, CH), 863_656, 376),
        (lambda: Pose(1, (17, 3), 16, False, CH, legacy=True), 1_035_934, 127),
        (lambda: Pose(3, (5, 2), 16, False, CH, legacy=False), 503_383, 163),
        (lambda: Pose26(80, (17, 3), 1, True, CH), 1_484_930, 411),
        (lambda: OBB(80, 1, 16, False, CH, legacy=False), 536_579, 163),
        (lambda: OBB26(80, 1, 1, True, CH), 452_990, 324),
        (lambda: v10Detect(80, CH), 929_808, 241),
        (lambda: Classify(256, 1000), 1_611_240, 8),
        (lambda: Classify(256, 10, 3, 2, None, 2), 1_489_930, 8),
        (lambda: Depth(256, CH), 2_912_321, 60),
        (lambda: SemanticSegment(19, (64, 128)), 113_318, 16),
        (lambda: SemanticSegment(19, (64,)), 38_227, 8),
    ],
)
def test_parameter_and_key_counts_equal_the_package(make, params: int, keys: int) -> None:  # type: ignore[no-untyped-def]
    m = make()
    assert n_params(m) == params
    assert len(m.state_dict()) == keys


@pytest.mark.parametrize(
    ("name", "row", "kwargs"),
    [("v8/yolov8.yaml", 22, {"legacy": True}), ("11/yolo11.yaml", 23, {}), ("26/yolo26.yaml", 23, {"reg_max": 1, "end2end": True})],
)
def test_head_state_dict_equals_reference(name: str, row: int, kwargs: dict[str, object]) -> None:
    """Key for key, in order, and shape for shape, the head rows of reference.json's recorded n-scale state_dicts."""
    want = {
        k[len(f"model.{row}.") :]: v for k, v in require_ultralytics()["models"][name]["n"]["state_dict"].items() if k.startswith(f"model.{row}.")
    }
    m = Detect(80, ch=CH, **kwargs)  # type: ignore[arg-type]
    got = {k: list(v.shape) for k, v in m.state_dict().items()}
    assert list(got) == list(want)
    assert got == want


def test_one2one_branch_starts_as_a_copy() -> None:
    m = Detect(80, 1, True, CH)
    for (k, a), (k2, b) in zip(m.cv2.state_dict().items(), m.one2one_cv2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert m.one2one_cv3[0][2].weight.data_ptr() != m.cv3[0][2].weight.data_ptr()


# -- initialisation ----------------------------------------------------------------------------------------------


def test_bind_strides_sets_stride_and_bias_priors() -> None:
    m = Detect(80, 16, True, CH)
    m.bind_strides(list(STRIDES))
    assert m.stride.tolist() == list(STRIDES)
    assert "stride" not in m.state_dict()
    for branch in (m.cv2, m.one2one_cv2):
        for seq in branch:
            assert torch.all(seq[-1].bias == 2.0)
    for branch in (m.cv3, m.one2one_cv3):
        for seq, s in zip(branch, STRIDES):
            assert torch.allclose(seq[-1].bias, torch.full((80,), math.log(5 / 80 / (640 / s) ** 2)))
    assert m.dfl.conv.weight.view(-1).tolist() == list(range(16)) and not m.dfl.conv.weight.requires_grad
    with pytest.raises(ValueError, match="3 inputs but got 2 strides"):
        m.bind_strides([8.0, 16.0])


def test_depth_bias_and_calibration_buffers() -> None:
    m = Depth(64, CH)
    assert torch.all(m.head[-1].bias == 0.182)
    assert m.cal_a.tolist() == [1.0] and m.cal_b.tolist() == [0.0] and "cal_a" in m.state_dict()


def test_heads_build_and_bind_on_meta() -> None:
    with torch.device("meta"):
        m = Pose26(80, (17, 3), 1, True, CH)
    m.bind_strides(list(STRIDES))
    m.eval()
    y, _ = m([f.to("meta") for f in feats()])
    assert y.is_meta and list(y.shape) == [2, 4 + 80 + 51, A]


# -- output structure ------------------------------------------------------------------------------------------


def _run(m: nn.Module, train: bool, ch: tuple[int, ...] = CH) -> object:
    if hasattr(m, "bind_strides"):
        m.bind_strides(list(STRIDES[: len(ch)]))
    m.train(train)
    with torch.no_grad():
        return output_shapes(m(feats(ch=ch, sizes=SIZES[: len(ch)])))


def test_detect_outputs() -> None:
    f = [[2, 64, 8, 8], [2, 128, 4, 4], [2, 256, 2, 2]]
    one = {"boxes": [2, 64, A], "scores": [2, 80, A], "feats": f}
    assert _run(Detect(80, 16, False, CH), True) == one
    assert _run(Detect(80, 16, False, CH), False) == [[2, 84, A], one]
    e2e = {"boxes": [2, 4, A], "scores": [2, 80, A], "feats": f}
    assert _run(Detect(80, 1, True, CH), True) == {"one2many": e2e, "one2one": e2e}
    assert _run(Detect(80, 1, True, CH), False) == [[2, 84, A], {"one2many": e2e, "one2one": e2e}]
    m = Detect(80, 1, True, CH)
    m.end2end = True
    assert _run(m, False)[0] == [2, A, 6]  # type: ignore[index]  # min(max_det=300, A=84) detections
    m.export = True
    assert _run(m, False) == [2, A, 6]


def test_task_head_outputs() -> None:
    seg = _run(Segment(80, 32, 64, 16, False, CH), False)
    assert seg[0] == [[2, 116, A], [2, 32, 16, 16]]  # type: ignore[index]
    assert seg[1]["mask_coefficient"] == [2, 32, A] and seg[1]["proto"] == [2, 32, 16, 16]  # type: ignore[index]
    seg26 = _run(Segment26(80, 32, 64, 1, True, CH), True)
    assert seg26["one2many"]["proto"] == [[2, 32, 16, 16], [2, 80, 8, 8]]  # type: ignore[index]  # (prototypes, semantic)
    assert _run(Segment26(80, 32, 64, 1, True, CH), False)[0][1] == [2, 32, 16, 16]  # type: ignore[index]
    pose = _run(Pose(1, (17, 3), 16, False, CH), False)
    assert pose[0] == [2, 4 + 1 + 51, A] and pose[1]["kpts"] == [2, 51, A]  # type: ignore[index]
    pose26 = _run(Pose26(80, (17, 3), 1, True, CH), True)
    assert pose26["one2one"]["kpts_sigma"] == [2, 34, A]  # type: ignore[index]
    assert "kpts_sigma" not in _run(Pose26(80, (17, 3), 1, True, CH), False)[1]["one2one"]  # type: ignore[index]
    obb = _run(OBB(80, 1, 16, False, CH), True)
    assert obb["angle"] == [2, 1, A]  # type: ignore[index]
    assert _run(OBB26(80, 1, 1, True, CH), False)[0] == [2, 85, A]  # type: ignore[index]
    assert _run(v10Detect(80, CH), False)[0] == [2, 84, A]  # type: ignore[index]


def test_dense_head_outputs() -> None:
    x = torch.randn(2, 256, 7, 7)
    c = Classify(256, 10)
    assert list(c.train()(x).shape) == [2, 10]
    probs, logits = c.eval()(x)
    assert torch.allclose(probs, logits.softmax(1)) and torch.allclose(probs.sum(1), torch.ones(2))
    assert _run(Depth(64, CH), True) == {"depth": [2, 1, 16, 16]}
    assert _run(Depth(64, CH), False) == [2, 1, 16, 16]
    assert _run(SemanticSegment(19, (64, 128)), True, (64, 128)) == [[2, 19, 8, 8], [2, 19, 4, 4]]
    assert _run(SemanticSegment(19, (64, 128)), False, (64, 128)) == [2, 19, 8, 8]


# -- decoding, checked by hand ---------------------------------------------------------------------------------------


def _constant_output(seq: nn.Sequential, values: list[float]) -> None:
    with torch.no_grad():
        seq[-1].weight.zero_()
        seq[-1].bias.copy_(torch.tensor(values))


def test_box_decoding_by_hand() -> None:
    m = Detect(2, 1, True, CH)  # reg_max 1: distances regressed directly
    m.bind_strides(list(STRIDES))
    for branch in (m.cv2, m.one2one_cv2):
        for seq in branch:
            _constant_output(seq, [1.0, 1.0, 2.0, 3.0])  # left, top, right, bottom in grid units
    for branch in (m.cv3, m.one2one_cv3):
        for seq in branch:
            _constant_output(seq, [0.0, 2.0])
    m.eval()
    y, _ = m(feats())
    # first anchor: cell (0, 0) of stride 8, centre (0.5, 0.5) -> box x1y1 (-0.5, -0.5), x2y2 (2.5, 3.5) in cells
    assert y[0, :, 0].tolist() == pytest.approx([8.0, 12.0, 24.0, 32.0, 0.5, 1 / (1 + math.exp(-2))])  # xywh, probs
    # last anchor: cell (1, 1) of stride 32, centre (1.5, 1.5)
    assert y[0, :4, -1].tolist() == pytest.approx([(1.5 + 0.5) * 32, (1.5 + 1.0) * 32, 3 * 32, 4 * 32])
    m.end2end = True  # one-to-one branch, xyxy, top-k
    det, _ = m(feats())
    assert det.shape == (2, A, 6)
    # k = min(max_det, A) = A pairs: every anchor's class 1 (0.88) beats every class 0 (0.5)
    assert torch.all(det[..., 5] == 1.0) and torch.allclose(det[..., 4], torch.full((2, A), 1 / (1 + math.exp(-2))))
    assert any(row.tolist() == [-4.0, -4.0, 20.0, 28.0] for row in det[0, :, :4])  # anchor 0's box as xyxy


def test_dfl_expectation() -> None:
    m = Detect(1, 16, False, CH)
    m.bind_strides(list(STRIDES))
    for seq in m.cv2:
        _constant_output(seq, [0.0] * 64)  # uniform over 16 bins: expected distance 7.5 cells each side
    y, _ = m.eval()(feats())
    assert y[0, :4, 0].tolist() == pytest.approx([4.0, 4.0, 15 * 8, 15 * 8])


def test_select_topk_by_hand() -> None:
    m = Detect(3, 1, False, CH)
    m.max_det = 2
    y = torch.tensor([[[0, 0, 1, 1, 0.1, 0.9, 0.2], [2, 2, 3, 3, 0.8, 0.1, 0.7], [4, 4, 5, 5, 0.3, 0.3, 0.3]]], dtype=torch.float32)
    out = m.select_topk(y)
    assert out.tolist() == [[[0, 0, 1, 1, pytest.approx(0.9), 1.0], [2, 2, 3, 3, pytest.approx(0.8), 0.0]]]
    m.max_det = 3
    assert m.select_topk(y)[0, 2].tolist() == [2, 2, 3, 3, pytest.approx(0.7), 2.0]  # second class of anchor 1
    m.agnostic_nms = True  # one class per anchor point
    assert m.select_topk(y)[0, :, 5].tolist() == [1.0, 0.0, 0.0] and m.select_topk(y)[0, 2, 4].item() == pytest.approx(0.3)


def test_rotated_box_decoding_by_hand() -> None:
    m = OBB26(1, 1, 1, False, CH)
    m.bind_strides(list(STRIDES))
    for seq in m.cv2:
        _constant_output(seq, [1.0, 2.0, 3.0, 4.0])
    for seq in m.cv4:
        _constant_output(seq, [math.pi / 2])  # raw angle (OBB26)
    y, preds = m.eval()(feats())
    # centre offset ((r - l) / 2, (b - t) / 2) = (1, 1) rotated by 90 degrees -> (-1, 1); w, h = l + r, t + b
    assert y[0, :4, 0].tolist() == pytest.approx([(0.5 - 1) * 8, (0.5 + 1) * 8, 4 * 8, 6 * 8], abs=1e-5)
    assert y[0, -1, 0].item() == pytest.approx(math.pi / 2)
    obb = OBB(1, 1, 1, False, CH)
    for seq in obb.cv4:
        _constant_output(seq, [0.0])
    obb.bind_strides(list(STRIDES))
    assert obb.train()(feats())["angle"][0, 0, 0].item() == pytest.approx(math.pi / 4)  # (sigmoid(0) - 0.25) * pi


@pytest.mark.parametrize(("cls", "x0"), [(Pose, 0.0), (Pose26, 4.0)])
def test_keypoint_decoding_by_hand(cls: type[Pose], x0: float) -> None:
    m = cls(1, (2, 3), 1, False, CH)
    m.bind_strides(list(STRIDES))
    last = m.cv4_kpts if isinstance(m, Pose26) else [seq[-1] for seq in m.cv4]
    for conv in last:
        with torch.no_grad():
            conv.weight.zero_()
            conv.bias.zero_()
    y, _ = m.eval()(feats())
    # Pose: (2 * raw + anchor - 0.5) * stride; Pose26: (raw + anchor) * stride; visibility sigmoid(0)
    assert y[0, 5:, 0].tolist() == pytest.approx([x0, x0, 0.5, x0, x0, 0.5])


# -- deployment and tracing ---------------------------------------------------------------------------------------


def test_fuse_keeps_eval_outputs_and_drops_the_unused_branch() -> None:
    m = Detect(80, 1, True, CH)
    m.bind_strides(list(STRIDES))
    m.eval()
    x = feats()
    before = m(x)[0]
    n_before = n_params(m)
    m.fuse()
    assert m.one2one_cv2 is None and m.one2one_cv3 is None
    assert not any(isinstance(b, nn.BatchNorm2d) for b in m.modules())
    assert n_params(m) < n_before / 2
    assert torch.allclose(m(x)[0], before, atol=1e-4)


@pytest.mark.filterwarnings("ignore:.*torch.jit.trace.*:FutureWarning")
def test_anchor_grid_cached_by_shape_but_not_while_tracing() -> None:
    m = Detect(80, 16, False, CH)
    m.bind_strides(list(STRIDES))
    m.eval()
    m(feats())
    grid = m.anchors
    m(feats(seed=1))
    assert m.anchors is grid
    m(feats(sizes=(4, 2, 1)))
    assert m.anchors.shape == (2, 21)
    m.export = True
    traced = torch.jit.trace(m, (feats(sizes=(8, 4, 2)),), check_trace=False)
    assert m.anchors.shape == (2, 21)  # the trace did not replace the cache
    assert torch.allclose(traced(feats(seed=3)), m(feats(seed=3)))


TINY = """
dialect: ultralytics
nc: 3
{extra}
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, {mid}]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [64, 3, 2]]
head:
  - [[3, 4, 5], 1, Detect, [nc]]
"""


@pytest.mark.parametrize(
    ("mid", "extra", "key"),
    [
        ("Conv, [16, 3, 1]", "", "cv3.0.0.conv.weight"),  # YOLOv8-era class branch
        ("C3k2, [16, False]", "", "cv3.0.0.0.conv.weight"),  # a C3k2 row before the head: depth-wise branch
        ("C3k2, [16, False]", "legacy: true", "cv3.0.0.conv.weight"),  # the header states it
    ],
)
def test_legacy_branch_follows_the_rows_before_the_head(mid: str, extra: str, key: str) -> None:
    model = yamlnet.build(TINY.format(mid=mid, extra=extra), device="meta")
    head = model.get_submodule("model.6")
    assert key in head.state_dict()


def test_end2end_model_exports_with_dynamic_shapes() -> None:
    model = yamlnet.build(TINY.format(mid="C3k2, [16, False]", extra="end2end: true\nreg_max: 1"))
    head = model.get_submodule("model.6")
    assert head.has_one2one and head.reg_max == 1 and model.stride.tolist() == [8.0, 16.0, 32.0]
    head.end2end = True
    head.export = True
    model.eval()
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        want = model(x)
        assert want.shape == (1, 8 * 12 + 4 * 6 + 2 * 3, 6)
        dim = torch.export.Dim.AUTO
        program = torch.export.export(model, (x,), dynamic_shapes=({2: dim, 3: dim},)).module()
        assert torch.equal(program(x), want)
        x2 = torch.rand(1, 3, 96, 64)
        assert torch.equal(program(x2), model(x2))


def test_classification_model_stride_and_batchnorm() -> None:
    text = "dialect: ultralytics\nnc: 5\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [-1, 1, Classify, [nc]]\n"
    model = yamlnet.build(text)
    assert model.stride.tolist() == [1.0]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(b.eps == 1e-5 and b.momentum == 0.1 for b in bns)  # the package's classifiers keep PyTorch's
    model.eval()
    probs, logits = model(torch.rand(1, 3, 32, 32))
    assert probs.shape == logits.shape == (1, 5)
