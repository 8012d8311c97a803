"""The public API and CLI of issue 2: load_spec, validate, build, `yamlnet build|validate`, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, SPECS

import yamlnet
from yamlnet.spec.model import Spec


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yamlnet.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_load_spec_gives_typed_spec() -> None:
    spec = yamlnet.load_spec(SPECS / "yolov5s.yaml")
    assert isinstance(spec, Spec)
    assert (spec.nc, spec.depth_multiple, spec.width_multiple) == (80, 0.33, 0.5)
    assert len(spec.backbone) == 10 and len(spec.head) == 15
    row = spec.rows[24]
    assert row.module == "Detect" and [r.index for r in row.refs] == [17, 20, 23]
    assert row.args[0] == 80 and row.args[1] == [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
    assert (row.span.line, row.module_span.line) == (row.module_span.line, row.span.line)
    assert spec.rows[11].args == [None, 2, "nearest"]


def test_load_spec_from_text_and_errors() -> None:
    spec = yamlnet.load_spec("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n")
    assert spec.nc == 3 and spec.rows[0].args == [16, 3, 2]
    with pytest.raises(yamlnet.SpecError) as e:
        yamlnet.load_spec("nc: 3\nbackbone:\n  - [-1, 1, Conv2, [16, 3, 2]]\n")
    assert e.value.diagnostics[0].code == "YN105"
    assert "did you mean `Conv`" in e.value.diagnostics[0].help


def test_validate_report() -> None:
    report = yamlnet.validate(SPECS / "yolov5s.yaml", imgsz=640)
    assert report.ok and not report.errors
    bad = yamlnet.validate("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [[-1, 5], 1, Concat, [1]]\n")
    assert not bad.ok and [d.code for d in bad.diagnostics] == ["YN201"]


def test_build_gives_strides_and_api_accepts_a_spec() -> None:
    model = yamlnet.build(SPECS / "yolov5s.yaml")
    assert model.stride.tolist() == [8.0, 16.0, 32.0]
    spec = yamlnet.load_spec(SPECS / "yolov5n.yaml")
    assert isinstance(yamlnet.build(spec), torch.nn.Module)
    assert yamlnet.validate(spec).ok


def test_activation_from_the_allow_list_is_used() -> None:
    text = (SPECS / "yolov5n.yaml").read_text().replace("nc: 80", "nc: 80\nactivation: nn.LeakyReLU(0.1)")
    model = yamlnet.build(text)
    acts = {type(m).__name__ for m in model.modules() if isinstance(m, (torch.nn.SiLU, torch.nn.LeakyReLU))}
    assert acts == {"LeakyReLU"}
    assert model.get_submodule("model.0").act.negative_slope == 0.1


def test_two_models_with_different_activations_do_not_interfere() -> None:
    leaky = yamlnet.build((SPECS / "yolov5n.yaml").read_text().replace("nc: 80", "nc: 80\nactivation: nn.ReLU()"))
    plain = yamlnet.build(SPECS / "yolov5n.yaml")
    assert isinstance(leaky.get_submodule("model.0").act, torch.nn.ReLU)
    assert isinstance(plain.get_submodule("model.0").act, torch.nn.SiLU)


def test_all_errors_of_a_file_are_reported_at_once() -> None:
    text = (
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Cnv, [16]]\n"
        "  - [-1, 1, Conv, [16, 3, 2, 1, 1, 1, True, 5]]\n  - [-9, 1, Conv, [8]]\n"
    )
    report = yamlnet.validate(text)
    codes = [(d.code, d.span.line) for d in report.diagnostics]
    assert ("YN105", 4) in codes and ("YN106", 5) in codes and ("YN201", 6) in codes


def test_cli_build_prints_table_and_count() -> None:
    r = run_cli("build", "specs/yolov5s.yaml")
    assert r.returncode == 0, r.stderr
    assert "7,235,389 parameters" in r.stdout
    assert "Detect" in r.stdout and "32x320x320" in r.stdout
    header = r.stdout.splitlines()[0].split()
    assert header == ["from", "n", "params", "module", "arguments", "output", "stride"]


BAD_MODULE = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, C33, [16]]\n"


def test_cli_validate_ok_and_json(tmp_path: Path) -> None:
    r = run_cli("validate", "specs/yolov5s.yaml")
    assert r.returncode == 0 and r.stdout.strip().endswith("ok (checked at 640)")
    assert len(r.stdout.strip().splitlines()) == 1
    (tmp_path / "unknown_module.yaml").write_text(BAD_MODULE)
    r = run_cli("validate", "unknown_module.yaml", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1
    diags = json.loads(r.stdout)["files"][0]["diagnostics"]
    assert diags[0]["code"] == "YN105" and (diags[0]["line"], diags[0]["column"]) == (4, 13)
    assert {"code", "severity", "message", "line", "column", "help"} <= set(diags[0])
    assert "Traceback" not in r.stderr


def test_cli_text_diagnostic_has_caret_and_help(tmp_path: Path) -> None:
    (tmp_path / "unknown_module.yaml").write_text(BAD_MODULE)
    r = run_cli("validate", "unknown_module.yaml", cwd=tmp_path)
    assert r.returncode == 1
    assert "error[YN105]: unknown module `C33`" in r.stderr
    assert "unknown_module.yaml:4:13" in r.stderr
    assert "4 |   - [-1, 1, C33, [16]]" in r.stderr and "^^^" in r.stderr
    assert "help: did you mean" in r.stderr


def test_cli_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("build").returncode == 2
    assert run_cli("validate", "specs/yolov5s.yaml", "--imgsz", "big").returncode == 2
    r = run_cli("frobnicate")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_cli_build_refuses_bad_spec_without_traceback() -> None:
    r = run_cli("build", "does/not/exist.yaml")
    assert r.returncode == 1 and "YN510" in r.stderr and "Traceback" not in r.stderr


def test_cycle_and_forward_reference_are_diagnosed() -> None:
    cycle = "backbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [3, 1, Conv, [16, 3]]\n  - [-1, 1, Conv, [16, 3]]\n  - [2, 1, Conv, [16, 3]]\n"
    d = yamlnet.validate(cycle, static=True).errors
    assert [(x.code, x.span.line, x.span.column) for x in d] == [("YN204", 3, 6)]
    assert "layer 1 (Conv) -> layer 2 (Conv) -> layer 3 (Conv) -> layer 1 (Conv)" in d[0].notes[0]
    forward = "backbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [2, 1, Conv, [16, 3]]\n  - [0, 1, Conv, [16, 3]]\n"
    d = yamlnet.validate(forward, static=True).errors
    assert [(x.code, x.span.line, x.span.column) for x in d] == [("YN202", 3, 6)]


def test_ir_as_a_networkx_graph_has_one_edge_per_tensor() -> None:
    ir = yamlnet.analyze(SPECS / "yolov5-efficientvit-taps.yaml").ir
    g = ir.graph
    assert g.number_of_nodes() == len(ir.nodes) + 1  # rows + the input
    taps_out_of_backbone = sorted(d["tap"] for _, _, d in g.out_edges(0, data=True))
    assert taps_out_of_backbone == ["P3", "P4", "P5"]
    assert sum(len(n.inputs) for n in ir.nodes.values()) == g.number_of_edges()


def test_cli_build_missing_weights_file_is_a_usage_error() -> None:
    r = run_cli("build", "specs/yolov5n.yaml", "--weights", "no/such/file.pt")
    assert r.returncode == 2 and "--weights: no such file" in r.stderr and "Traceback" not in r.stderr
