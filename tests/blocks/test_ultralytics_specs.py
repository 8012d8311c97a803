"""Issue 9: the bundled Ultralytics-dialect specs (YOLOv8, YOLO11, YOLO26 and the seed backbones on YOLO11
necks) build, validate at 640 and 640x384, summarise with GFLOPs, and the three ways of naming a backbone's
taps give the same model in this dialect too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import SPECS, require_ultralytics

import yamlnet
from yamlnet.cli import main

ULTRALYTICS_SPECS = ["yolov8.yaml", "yolo11.yaml", "yolo26.yaml"]
SEED_SPECS = ["yolo11-efficientvit.yaml", "yolo11-emo.yaml", "yolo11-riformer.yaml", "yolo11-mobileone.yaml", "yolo11-mobilevit.yaml"]
REFERENCE_OF = {"yolov8.yaml": "v8/yolov8.yaml", "yolo11.yaml": "11/yolo11.yaml", "yolo26.yaml": "26/yolo26.yaml"}


@pytest.mark.parametrize("name", ULTRALYTICS_SPECS)
@pytest.mark.parametrize("scale", ["n", "s", "m", "l", "x"])
def test_bundled_spec_equals_the_package_at_every_scale(name: str, scale: str) -> None:
    ref = require_ultralytics()["models"][REFERENCE_OF[name]][scale]
    model = yamlnet.build(SPECS / name, scale=scale, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert model.stride.tolist() == ref["stride"]


@pytest.mark.parametrize("name", ULTRALYTICS_SPECS + SEED_SPECS)
def test_bundled_spec_validates_at_two_sizes_and_summarises(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = yamlnet.validate(SPECS / name, imgsz=["640", "640x384"], scale="n")
    assert report.ok and not report.warnings, report.render()
    assert report.ir is not None and report.ir.spec.dialect == "ultralytics" and report.ir.spec.scale == "n"
    assert set(report.shapes) == {"640x640", "640x384"}
    assert main(["summary", str(SPECS / name), "--scale", "n", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["gflops"] > 0.5 and out["parameters"] > 1_000_000


def test_yolo11n_real_forward_and_scale_from_the_file_name(tmp_path: Path) -> None:
    """`yolo11n.yaml` is read as yolo11.yaml at scale n (the file need not exist), as Ultralytics reads it."""
    (tmp_path / "yolo11.yaml").write_text((SPECS / "yolo11.yaml").read_text())
    report = yamlnet.analyze(tmp_path / "yolo11n.yaml")
    assert report.ok and not report.warnings, report.render()
    assert report.ir is not None and report.ir.spec.scale == "n"
    model = yamlnet.build(tmp_path / "yolo11n.yaml").eval()
    assert sum(p.numel() for p in model.parameters()) == 2_624_080
    with torch.no_grad():
        y, extra = model(torch.zeros(1, 3, 128, 96))
    assert list(y.shape) == [1, 84, 16 * 12 + 8 * 6 + 4 * 3]


def test_no_scale_takes_the_first_with_a_warning() -> None:
    report = yamlnet.analyze(SPECS / "yolo11.yaml")
    assert report.ok and report.ir is not None and report.ir.spec.scale == "n"
    (w,) = [d for d in report.diagnostics if d.code == "YN122"]
    assert w.severity == "warning" and (w.span.line, w.span.column) == (6, 1)
    assert "--scale" in w.help


def test_unknown_scale_is_an_error_at_the_scales_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--static", str(SPECS / "yolo11.yaml"), "--scale", "q"]) == 1
    err = capsys.readouterr().err
    assert "error[YN121]: the spec has no scale `q`" in err and "its scales are n, s, m, l" in err


def test_a_scale_for_a_spec_without_scales_is_an_error() -> None:
    report = yamlnet.analyze(SPECS / "yolov5s.yaml", scale="s")
    assert [d.code for d in report.errors] == ["YN121"]


THREE_SPELLINGS = {
    # the seeds' numbering: row 0 owns indices 0..4 (EfficientViT_M0 fills 2, 3, 4); later rows count from 5
    "seeds": """
backbone:
  - [-1, 1, EfficientViT_M0, []]
  - [4, 1, SPPF, [1024, 5]]
head:
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, 3], 1, Concat, [1]]
  - [-1, 2, C3k2, [512, False]]
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, 2], 1, Concat, [1]]
  - [-1, 2, C3k2, [256, False]]
  - [[11, 8, 5], 1, Detect, [nc]]
""",
    # Ultralytics' Index rows: plain numbering
    "index": """
backbone:
  - [-1, 1, EfficientViT_M0, []]
  - [0, 1, Index, [64, 0]]
  - [0, 1, Index, [128, 1]]
  - [0, 1, Index, [192, 2]]
  - [-1, 1, SPPF, [1024, 5]]
head:
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, 2], 1, Concat, [1]]
  - [-1, 2, C3k2, [512, False]]
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, 1], 1, Concat, [1]]
  - [-1, 2, C3k2, [256, False]]
  - [[10, 7, 4], 1, Detect, [nc]]
""",
    # explicit taps and row names
    "taps": """
backbone:
  - {name: backbone, from: -1, module: EfficientViT_M0, args: []}
  - {name: p5, from: backbone.P5, module: SPPF, args: [1024, 5]}
head:
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, backbone.P4], 1, Concat, [1]]
  - {name: p4, from: -1, number: 2, module: C3k2, args: [512, False]}
  - [-1, 1, nn.Upsample, [None, 2, nearest]]
  - [[-1, backbone.P3], 1, Concat, [1]]
  - {name: p3, from: -1, number: 2, module: C3k2, args: [256, False]}
  - [[p3, p4, p5], 1, Detect, [nc]]
""",
}


def test_three_tap_spellings_give_one_model_in_the_ultralytics_dialect() -> None:
    header = "nc: 80\nscales:\n  n: [0.50, 0.25, 1024]\n"
    counts = {}
    for kind, body in THREE_SPELLINGS.items():
        report = yamlnet.analyze(header + body, scale="n")
        assert report.ok, (kind, report.render())
        assert report.ir is not None and report.ir.spec.dialect == "ultralytics"
        assert report.ir.numbering == ("rows" if kind == "index" else "seeds")  # named refs read the same in both
        model = yamlnet.build(header + body, scale="n", device="meta")
        counts[kind] = sum(x.numel() for x in model.parameters())
        assert model.stride.tolist() == [8.0, 16.0, 32.0]
    assert counts["seeds"] == counts["index"] == counts["taps"]
