"""Issue 15 (YOLOv9 half): every YAML of the original YOLOv9 repository (WongKinYiu/yolov9) builds as that
repository's own `Model(cfg)` builds it, and the three it cannot build fail here too, on the same row.

Parameters, rows, strides, the eval/train output structure and shapes come from
../shared/reference/yolov9-original/reference.json (measured with the repository's unpatched code). Models
are built on the meta device, so the shapes come from the compiled graph and no weights are allocated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import YOLOV9_DIR, output_shapes, require_yolov9, yolov9_files

import yamlnet
from yamlnet.compile.shapes import _fast_forwards
from yamlnet.graph.sizes import size_step
from yamlnet.spec.parse import load_spec_with_diagnostics

BUILDS = [f for f in yolov9_files() if not f.startswith("hub/")]
FAILS = [f for f in yolov9_files() if f.startswith("hub/")]


def _ref(name: str) -> dict[str, Any]:
    return require_yolov9()["models"][name]["-"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", BUILDS)
def test_yolov9_yaml_builds_with_repository_numbers(name: str) -> None:
    ref = _ref(name)
    assert "error" not in ref, ref
    report = yamlnet.analyze(YOLOV9_DIR / name)  # no dialect given: the file's evidence says YOLOv9
    assert report.ok, report.render()
    assert report.ir is not None and report.ir.spec.dialect == "yolov9"
    assert len(report.ir.nodes) == ref["layers"]
    head = report.ir.heads()[0]
    assert head.decl.name == ref["head"]
    model = yamlnet.build(report.ir.spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert len(list(model.modules())) == ref["modules"]  # root + container + layers, shared activations once
    _fast_forwards(model)  # norms and shape-keeping layers return their input: shapes only, 20x faster on meta
    assert [model.row_params[i] for i in sorted(model.row_params)] == ref["layer_params"]
    assert model.stride.tolist() == ref["stride"]
    model.eval()
    with torch.no_grad():
        assert output_shapes(model(torch.empty(1, 3, 320, 320, device="meta"))) == ref["eval_output_shapes_320"]
        model.train()
        assert output_shapes(model(torch.empty(1, 3, 256, 256, device="meta"))) == ref["train_output_shapes_256"]


def _detect_row(path: Path) -> tuple[int, int]:
    """(line, column) of the `anchors` argument of the file's Detect row."""
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if "Detect, [nc, anchors]" in line:
            return i, line.index("anchors]") + 1
    raise AssertionError(f"{path} has no Detect row")


@pytest.mark.parametrize("name", FAILS)
def test_repository_failures_fail_on_the_detect_row(name: str) -> None:
    """hub/yolov3*.yaml are YOLOv5 files: read as YOLOv5 (what their evidence says) they build; read as YOLOv9 they
    fail where the repository fails, on the anchor-free Detect given anchors (YN135, with the fix)."""
    ref = require_yolov9()["models"][name]["-"]
    assert "error" in ref and "list" in ref["error"]
    path = YOLOV9_DIR / name
    spec, _, _ = load_spec_with_diagnostics(path)
    assert spec is not None and spec.dialect == "yolov5"
    report = yamlnet.analyze(path, dialect="yolov9")
    assert not report.ok
    [d] = report.errors
    assert d.code == "YN135"
    assert (d.span.line, d.span.column) == _detect_row(path)
    assert d.fixes and "dialect: yolov5" in d.help


def test_every_reference_file_is_classified() -> None:
    """The repository's own files read as YOLOv9 without a `dialect:` key (the hub files are YOLOv5's, unchanged)."""
    require_yolov9()
    for name in BUILDS:
        spec, diags, _ = load_spec_with_diagnostics(YOLOV9_DIR / name)
        assert spec is not None and spec.dialect == "yolov9", (name, [d.message for d in diags])
        assert not [d for d in diags if d.code == "YN120"], name


@pytest.mark.parametrize("name", ["detect/gelan-c.yaml", "detect/yolov9-c.yaml"])
def test_state_dict_keys_and_shapes(name: str) -> None:
    want = _ref(name)["state_dict"]
    model = yamlnet.build(YOLOV9_DIR / name, device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(want)
    assert got == want


def test_a_checkpoint_in_the_repository_layout_loads(tmp_path: Path) -> None:
    """A state_dict with gelan-c's recorded keys and shapes (values the test makes) loads completely through
    the weights API, and the model computes with exactly those tensors."""
    want = _ref("detect/gelan-c.yaml")["state_dict"]
    g = torch.Generator().manual_seed(0)
    sd = {k: (torch.randn(s, generator=g) * 0.01 if not k.endswith("num_batches_tracked") else torch.tensor(3)) for k, s in want.items()}
    for k in sd:
        if k.endswith("running_var"):
            sd[k] = sd[k].abs() + 1.0
    ckpt = tmp_path / "gelan-c.pt"
    torch.save({"model": sd, "epoch": 3}, ckpt)
    model = yamlnet.build(YOLOV9_DIR / "detect/gelan-c.yaml", weights=ckpt)
    [rep] = [r for r in model.load_reports if r.target == "model"]
    assert rep.complete and len(rep.matched) == len(want)
    state = model.state_dict()
    for key in ("model.22.cv2.0.2.weight", "model.22.dfl.conv.weight", "model.9.cv5.bn.running_var", "model.2.cv2.0.m.0.cv1.conv1.conv.weight"):
        assert torch.equal(state[key], sd[key]), key
    model.eval()
    with torch.no_grad():
        y, levels = model(torch.rand(1, 3, 64, 64, generator=g))
    assert list(y.shape) == [1, 84, 84] and torch.isfinite(y).all()
    assert [list(t.shape) for t in levels] == [[1, 144, 8, 8], [1, 144, 4, 4], [1, 144, 2, 2]]


@pytest.mark.parametrize("name", BUILDS)
def test_declared_shapes_equal_running_every_block(name: str) -> None:
    """Validation's shapes from the declarations equal a meta forward of every block (square and rectangular)."""
    path = YOLOV9_DIR / name
    report = yamlnet.analyze(path)
    assert report.ok and report.ir is not None, report.render()
    step = size_step(report.ir)
    sizes = [str(step * 10), f"{step * 10}x{step * 8}"]
    fast = yamlnet.validate(path, imgsz=sizes)
    deep = yamlnet.validate(path, imgsz=sizes, deep=True)
    assert fast.ok and deep.ok, (fast.render(), deep.render())
    for size in fast.shapes:
        declared = {p: s for p, s in fast.shapes[size].items() if s is not None}
        assert declared and declared == {p: deep.shapes[size][p] for p in declared}, size


@pytest.mark.parametrize(("spec", "name"), [("yolov9-gelan-c.yaml", "detect/gelan-c.yaml"), ("yolov9-c-dual.yaml", "detect/yolov9-c.yaml")])
def test_bundled_specs_are_the_repository_models(spec: str, name: str) -> None:
    """The bundled YOLOv9 specs (own words, same rows) give the repository's parameters and state_dict layout."""
    from conftest import SPECS

    ref = _ref(name)
    model = yamlnet.build(SPECS / spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == ref["state_dict"]


def test_summary_counts_as_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    """`yamlnet summary --format json` reports the repository's parameters and module count (its "layers")."""
    import json

    from yamlnet.cli import main

    ref = _ref("detect/gelan-t.yaml")
    assert main(["summary", str(YOLOV9_DIR / "detect/gelan-t.yaml"), "--imgsz", "320", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["parameters"], out["module_count"]) == (ref["params"], ref["modules"])
    assert out["layers"][-1]["module"] == "DDetect" and len(out["layers"]) == ref["layers"]
