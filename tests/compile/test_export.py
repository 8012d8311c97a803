"""Export: ONNX (checked with onnxruntime), TorchScript trace and torch.export, each compared with the eager
model; YOLOv5's export form (one output) under torch.onnx.export and torch.jit.trace; dynamic shapes; the
`yamlnet export` command with a YOLOv5 checkpoint of a yamlnet model."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import SPECS

import yamlnet
from yamlnet.cli import main
from yamlnet.compile.model import restore_model
from yamlnet.export import ExportError, export_mode, export_model, load_checkpoint
from yamlnet.yolov5 import Model

TINY = """
nc: 2
anchors:
  - [10, 13, 16, 30]
  - [30, 61, 62, 45]
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
head:
  - [[2, 3], 1, Detect, [nc, anchors]]
"""


@pytest.fixture(scope="module")
def yolov5n() -> yamlnet.compile.model.YamlnetModel:
    torch.manual_seed(0)
    return yamlnet.build(SPECS / "yolov5n.yaml").eval()


def _ort(path: Path, x: torch.Tensor) -> list[np.ndarray]:
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x.numpy()})


def test_onnx_yolov5n_one_output_equal_to_eager_with_dynamic_shapes(yolov5n, tmp_path: Path) -> None:
    f = tmp_path / "yolov5n.onnx"
    result = export_model(yolov5n, f, imgsz=64, dynamic=True)
    assert result.format == "onnx" and result.outputs == 1 and result.ok
    assert [c.shape for c in result.checks] == [(1, 3, 64, 64), (2, 3, 96, 128)]
    assert [c.outputs for c in result.checks] == [[(1, 252, 85)], [(2, 756, 85)]]
    assert all(c.max_rel < 1e-4 for c in result.checks), result.summary()
    proto = onnx.load(str(f))
    assert [o.name for o in proto.graph.output] == ["output0"]
    assert {p.key: p.value for p in proto.metadata_props}["stride"] == "32"
    x = torch.rand(3, 3, 160, 96)  # a size the export never saw
    (got,) = _ort(f, x)
    with torch.no_grad():
        want = yolov5n(x)[0].numpy()
    assert got.shape == (3, 3 * (20 * 12 + 10 * 6 + 5 * 3), 85)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert yolov5n.training is False and yolov5n.model[-1].export is False  # export form was only temporary


def test_onnx_fused_seed_backbone(tmp_path: Path) -> None:
    """RIFormer (seed 002) reparameterised by fuse(), exported with dynamic shapes."""
    torch.manual_seed(0)
    m = yamlnet.build(SPECS / "yolov5-riformer.yaml").eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        unfused = m(x)[0]
        n = sum(p.numel() for p in m.parameters())
        m.fuse()
        fused = m(x)[0]
    assert sum(p.numel() for p in m.parameters()) < n
    torch.testing.assert_close(fused, unfused, rtol=1e-3, atol=1e-3)
    result = export_model(m, tmp_path / "riformer.onnx", imgsz=64, dynamic=True)
    assert result.outputs == 1 and result.ok and all(c.max_rel < 1e-4 for c in result.checks), result.summary()
    (got,) = _ort(tmp_path / "riformer.onnx", x)
    np.testing.assert_allclose(got, fused.numpy(), rtol=1e-4, atol=1e-5)


def test_onnx_fused_mobileone_is_as_accurate_as_eager(tmp_path: Path) -> None:
    """MobileOne at random initialisation carries activations near 1e5, so float32 itself is off by more than
    1e-4 relative on some outputs; onnxruntime must be no further from the float64 result than eager is."""
    torch.manual_seed(0)
    m = yamlnet.build(SPECS / "yolov5-mobileone.yaml").eval().fuse()
    result = export_model(m, tmp_path / "mobileone.onnx", imgsz=64, dynamic=True, check=False)
    assert result.outputs == 1
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        eager = m(x)[0].double()
        exact = copy.deepcopy(m).double()(x.double())[0]
    (got,) = _ort(tmp_path / "mobileone.onnx", x)
    ort_err = (torch.from_numpy(got).double() - exact).abs().max()
    eager_err = (eager - exact).abs().max()
    assert ort_err <= 2 * eager_err, (float(ort_err), float(eager_err))
    assert ort_err / exact.abs().max() < 1e-4  # relative to the output's scale


def test_torch_onnx_export_and_jit_trace_give_yolov5s_export_form(yolov5n, tmp_path: Path) -> None:
    """Without yamlnet's helper: the head sees the exporter and returns one tensor."""
    x = torch.rand(1, 3, 64, 64)
    f = tmp_path / "raw.onnx"
    with pytest.warns():  # the TorchScript-based exporter's deprecation note
        torch.onnx.export(yolov5n, (x,), str(f), dynamo=False)
    assert len(ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).get_outputs()) == 1
    traced = torch.jit.trace(yolov5n, x, strict=False, check_trace=False)
    out = traced(x)
    assert isinstance(out, tuple) and len(out) == 1 and out[0].shape == (1, 252, 85)
    eager = yolov5n(x)
    assert len(eager) == 2 and len(eager[1]) == 3  # eager eval keeps YOLOv5's (boxes, per-level) pair


def test_torchscript_round_trip(yolov5n, tmp_path: Path) -> None:
    f = tmp_path / "yolov5n.torchscript"
    result = export_model(yolov5n, f, imgsz=64, dynamic=True)
    assert result.format == "torchscript" and result.outputs == 1 and result.ok, result.summary()
    files = {"config.txt": ""}
    loaded = torch.jit.load(str(f), _extra_files=files)
    assert json.loads(files["config.txt"])["stride"] == 32
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad(), export_mode(yolov5n):
        want = yolov5n(x)[0]
    torch.testing.assert_close(loaded(x)[0], want, rtol=1e-4, atol=1e-4)


def test_torch_export_round_trip_with_dynamic_shapes_and_dynamo_onnx(tmp_path: Path) -> None:
    """A small detector (torch.export's symbolic shapes take seconds per row): .pt2 saved, loaded, checked at
    the traced size and at another batch and size; then ONNX through the torch.export-based exporter."""
    torch.manual_seed(0)
    m = yamlnet.build(TINY).eval()
    r = export_model(m, tmp_path / "tiny.pt2", imgsz=64, dynamic=True)
    assert r.format == "torch.export" and r.outputs == 1
    assert r.ok and [c.outputs for c in r.checks] == [[(1, 2 * (8 * 8 + 4 * 4), 7)], [(2, 2 * (12 * 16 + 6 * 8), 7)]]
    program = torch.export.load(str(tmp_path / "tiny.pt2")).module()
    x = torch.rand(3, 3, 128, 64)
    with torch.no_grad(), export_mode(m):
        torch.testing.assert_close(program(x)[0], m(x)[0], rtol=1e-4, atol=1e-5)
    r = export_model(m, tmp_path / "tiny.onnx", imgsz=64, dynamo=True)
    assert r.ok and r.outputs == 1 and r.checks[0].outputs == [(1, 160, 7)], r.summary()


def test_segment_exports_boxes_and_prototypes(tmp_path: Path) -> None:
    spec = (
        (SPECS / "yolov5n.yaml").read_text().replace("[[17, 20, 23], 1, Detect, [nc, anchors]]", "[[17, 20, 23], 1, Segment, [nc, anchors, 32, 256]]")
    )
    m = yamlnet.build(spec).eval()
    r = export_model(m, tmp_path / "seg.onnx", imgsz=64)
    assert r.outputs == 2 and r.ok and r.checks[0].outputs == [(1, 252, 117), (1, 32, 16, 16)], r.summary()


def test_a_wrong_suffix_is_refused(yolov5n, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="suffix"):
        export_model(yolov5n, tmp_path / "m.bin")


def _checkpoint(model, path: Path) -> None:
    torch.save(
        {"epoch": 1, "best_fitness": np.array([0.5]), "model": copy.deepcopy(model).half(), "ema": copy.deepcopy(model).half(), "opt": {}}, path
    )


def test_cli_export_of_a_yolov5_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    m = Model(SPECS / "yolov5n.yaml", nc=3)
    m.names = {0: "cat", 1: "dog", 2: "bird"}
    _checkpoint(m, tmp_path / "best.pt")
    ck = load_checkpoint(tmp_path / "best.pt")  # weights_only=True, numpy scalars allowed
    assert ck.model is not None and ck.model.nc == 3 and float(ck.raw["best_fitness"][0]) == 0.5
    assert restore_model in torch.serialization.get_safe_globals()  # still allowed after load_checkpoint's context
    out = tmp_path / "best.onnx"
    argv = ["export", str(SPECS / "yolov5n.yaml"), "--weights", str(tmp_path / "best.pt"), "-o", str(out), "--imgsz", "64", "--dynamic", "--fuse"]
    assert main(argv) == 0
    text = capsys.readouterr()
    assert "3 class names" in text.err and "1 output: [1, 252, 8]" in text.out
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["names"] == "{0: 'cat', 1: 'dog', 2: 'bird'}"
    x = torch.rand(1, 3, 64, 64)
    ref = copy.deepcopy(m).half().float().eval()
    with torch.no_grad():
        np.testing.assert_allclose(_ort(out, x)[0], ref(x)[0].numpy(), rtol=1e-3, atol=1e-3)  # fused vs unfused


def test_cli_export_refuses_weights_of_another_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _checkpoint(yamlnet.build(SPECS / "yolov5n.yaml"), tmp_path / "n.pt")
    assert main(["export", str(SPECS / "yolov5s.yaml"), "--weights", str(tmp_path / "n.pt"), "-o", str(tmp_path / "s.onnx")]) == 1
    assert "trained from another spec" in capsys.readouterr().err
    assert main(["export", str(SPECS / "yolov5n.yaml"), "--weights", str(tmp_path / "missing.pt")]) == 2


def test_cli_export_with_a_state_dict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = yamlnet.build(TINY)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    torch.save(m.state_dict(), tmp_path / "tiny_sd.pt")
    out = tmp_path / "tiny.torchscript"
    assert main(["export", str(spec), "--weights", str(tmp_path / "tiny_sd.pt"), "-o", str(out), "--imgsz", "64"]) == 0
    assert "loaded 29/29 tensors" in capsys.readouterr().err  # 4 Conv rows x 6 (conv, BatchNorm) + Detect's 2 convs x 2 + anchors
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(out))(x)[0], m.eval()(x)[0], rtol=1e-4, atol=1e-4)
