"""`yamlnet summary`: YOLOv5's parameter, layer and GFLOPs numbers, measured on the meta device only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from yamlnet.cli import main

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path("/work/shared/reference/yolov5") if Path("/work/shared/reference/yolov5").is_dir() else ROOT.parent / "shared/reference/yolov5"


def yolov5s_spec() -> Path:
    bundled = ROOT / "specs" / "yolov5s.yaml"
    return bundled if bundled.is_file() else REFERENCE / "yolov5s.yaml"


@pytest.fixture
def no_weights(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the device of every parameter and buffer a module registers while the test runs."""
    devices: list[str] = []
    reg_p, reg_b = nn.Module.register_parameter, nn.Module.register_buffer

    def register_parameter(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None:
            devices.append(param.device.type)
        reg_p(self, name, param)

    def register_buffer(self: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True) -> None:
        if tensor is not None:
            devices.append(tensor.device.type)
        reg_b(self, name, tensor, persistent)

    monkeypatch.setattr(nn.Module, "register_parameter", register_parameter)
    monkeypatch.setattr(nn.Module, "register_buffer", register_buffer)
    return devices


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    rc = main(["summary", *argv, "--format", "json"])
    return rc, json.loads(capsys.readouterr().out)


def test_yolov5s_json_matches_yolov5_without_allocating(capsys: pytest.CaptureFixture[str], no_weights: list[str]) -> None:
    rc, out = _json(capsys, str(yolov5s_spec()))
    assert rc == 0
    assert out["parameters"] == 7_235_389
    assert out["module_count"] == 214  # what YOLOv5's model.info calls layers
    assert out["imgsz"] == [640, 640]
    assert abs(out["gflops"] - 16.6) / 16.6 < 0.02
    assert round(out["gflops"], 1) == 16.6  # what YOLOv5 prints for yolov5s at 640
    assert out["gflops_torch"] == pytest.approx(16.4336, abs=1e-3)  # torch's FlopCounterMode alone
    assert len(out["layers"]) == 25 and out["layers"][24]["module"] == "Detect"
    assert out["layers"][4] | {"gflops": None} == {
        "index": 4,
        "position": 4,
        "section": "backbone",
        "name": None,
        "from": [-1],
        "number": 6,
        "repeats": 2,
        "module": "C3",
        "args": [256],
        "kwargs": {"c1": 128, "c2": 128, "n": 2, "shortcut": True, "g": 1, "e": 0.5},
        "params": 115_712,
        "gflops": None,
        "channels": 128,
        "stride": 8,
        "output": [[128, 80, 80]],
        "taps": [],
        "ok": True,
    }
    assert sum(r["params"] for r in out["layers"]) == 7_235_389
    assert sum(r["gflops"] for r in out["layers"]) == pytest.approx(out["gflops"], abs=1e-3)
    assert len(no_weights) > 300 and set(no_weights) == {"meta"}, "a weight was allocated outside the meta device"


def test_text_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(yolov5s_spec()), "--imgsz", "320"]) == 0
    text = capsys.readouterr().out
    assert "yolov5s summary: 25 rows, 214 layers, 7,235,389 parameters, 4.2 GFLOPs at 320x320" in text  # 16.6 / 4
    assert "128x40x40" in text  # output shapes at 320
    assert main(["summary", str(yolov5s_spec()), "--format", "markdown", "--imgsz", "640x320"]) == 0
    md = capsys.readouterr().out
    assert "| # | from | n | params | GFLOPs | module | arguments | output | stride |" in md
    assert "| 24 | `[17, 20, 23]` | 1 | 229,245 |" in md
    assert "8.3 GFLOPs at 640x320" in md


def test_faulty_spec_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = yolov5s_spec().read_text().replace("[[-1, 6], 1, Concat, [1]]", "[[-1, 4], 1, Concat, [1]]")
    assert "[-1, 4], 1, Concat" in text
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    rc, out = _json(capsys, str(spec))
    assert rc == 1
    assert out["parameters"] is None and out["gflops"] is None
    assert any(d["code"] == "YN402" for d in out["diagnostics"])
    assert out["layers"][0]["params"] == 3520  # rows before the error are still measured
