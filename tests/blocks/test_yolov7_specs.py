"""Issue 15 item 5: the seed backbones (EMO, EfficientViT, RIFormer, MobileOne, MobileViT) on a YOLOv7-tiny-style
neck with IDetect, bundled as specs/yolov7-<backbone>.yaml: read in the YOLOv7 dialect, valid at 640 and
640x384, summarised; and a whole YOLOv7 model's fuse() keeps its outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import SPECS, YOLOV7_DIR, require_yolov7

import yamlnet
from yamlnet.cli import main

SEEDS = ["emo", "efficientvit", "riformer", "mobileone", "mobilevit"]
PARAMS = {"emo": 5_856_482, "efficientvit": 6_839_450, "riformer": 16_286_138, "mobileone": 9_398_170, "mobilevit": 6_504_650}


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_backbone_on_a_yolov7_neck_validates_at_two_sizes(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = SPECS / f"yolov7-{seed}.yaml"
    report = yamlnet.validate(path, imgsz=["640", "640x384"])
    assert report.ok and not report.warnings, report.render()
    assert report.ir is not None and report.ir.spec.dialect == "yolov7"
    head = report.ir.heads()[-1]
    assert head.decl.name == "IDetect" and [int(s) for s in head.in_strides] == [8, 16, 32]
    assert main(["summary", str(path), "--imgsz", "640x384", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["parameters"] == PARAMS[seed] and out["gflops"] > 1


def test_a_seed_yolov7_model_runs_at_640x384() -> None:
    model = yamlnet.build(SPECS / "yolov7-efficientvit.yaml").eval()
    with torch.no_grad():
        boxes, levels = model(torch.zeros(1, 3, 384, 640))
    assert list(boxes.shape) == [1, 3 * (48 * 80 + 24 * 40 + 12 * 20), 85]
    assert [list(t.shape) for t in levels] == [[1, 3, 384 // s, 640 // s, 85] for s in (8, 16, 32)]


def test_fusing_a_yolov7_model_keeps_its_outputs() -> None:
    """Conv+BN folds, IDetect's implicit layers fold into its convs (yolov7-tiny, LeakyReLU convs)."""
    require_yolov7()
    torch.manual_seed(0)
    model = yamlnet.build(YOLOV7_DIR / "training/yolov7-tiny.yaml").eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.running_mean.uniform_(-0.2, 0.2)
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        before = model(x)[0]
        model.fuse(backbones=False)  # YOLOv7's own fuse(): its layers are the detector's
        after = model(x)[0]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert model.model[-1].implicit_folded
    assert torch.allclose(before, after, rtol=1e-3, atol=1e-3)


def test_bundled_yolov7_tiny_is_the_repository_model() -> None:
    ref = require_yolov7()["models"]["training/yolov7-tiny.yaml"]["-"]
    ours = yamlnet.build(SPECS / "yolov7-tiny.yaml", device="meta")
    theirs = yamlnet.build(YOLOV7_DIR / "training/yolov7-tiny.yaml", device="meta")
    assert sum(p.numel() for p in ours.parameters()) == ref["params"] and ours.stride.tolist() == ref["stride"]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert sum(1 for _ in ours.modules()) == ref["modules"]


def test_a_fused_yolov7_model_exports_to_onnx_equal_to_eager(tmp_path: Path) -> None:
    """IDetect's implicit layers folded by fuse(), exported with dynamic shapes (YOLOv5's one-output export form),
    run by onnxruntime and compared with the eager model at two sizes."""
    from yamlnet.export import export_model

    torch.manual_seed(0)
    model = yamlnet.build(SPECS / "yolov7-tiny.yaml").eval().fuse()
    result = export_model(model, tmp_path / "yolov7-tiny.onnx", imgsz=64, dynamic=True)
    assert result.ok and result.outputs == 1, result.summary()
    assert [c.outputs for c in result.checks] == [[(1, 252, 85)], [(2, 756, 85)]]
    assert all(c.max_rel < 1e-4 for c in result.checks), result.summary()
