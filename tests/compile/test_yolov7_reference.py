"""Issue 15 (YOLOv7 half): every YOLOv7 YAML builds as YOLOv7's own `Model(cfg)` builds it.

Parameters (total and per row), rows, modules, strides and the eval/train output structure and shapes are
compared with ../shared/reference/yolov7/reference.json, measured with the repository's unpatched code; models
are built on the meta device. State_dict keys and shapes are compared where the reference records them, and a
checkpoint in that key layout loads through the weights API and the CLI's `--weights`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import YOLOV7_DIR, output_shapes, require_yolov7, yolov7_files

import yamlnet
from yamlnet.cli import main as cli_main

# Files with no block only YOLOv7 declares (Conv, Bottleneck, SPP, nn.Upsample, Concat, Detect): their text is
# YOLOv5's yolov3.yaml / yolov3-spp.yaml (one kernel written [1, 1] instead of 1), so without `dialect:` they read
# as YOLOv5 files. They are measured here in the YOLOv7 reading, and their YOLOv5 reading is compared below.
NO_V7_EVIDENCE = ("baseline/yolov3.yaml", "baseline/yolov3-spp.yaml")


def _ref(name: str) -> dict[str, Any]:
    return require_yolov7()["models"][name]["-"]


def _overrides(name: str) -> dict[str, Any]:
    return {"dialect": "yolov7"} if name in NO_V7_EVIDENCE else {}


@pytest.mark.parametrize("name", yolov7_files())
def test_yolov7_yaml_builds_with_the_repository_numbers(name: str) -> None:
    ref = _ref(name)
    report = yamlnet.analyze(YOLOV7_DIR / name, **_overrides(name))
    assert report.ok, report.render()
    assert report.ir is not None and report.ir.spec.dialect == "yolov7"
    assert len(report.ir.nodes) == ref["layers"]
    model = yamlnet.build(report.ir.spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == ref["params"]
    assert [model.row_params.get(i, 0) for i in range(ref["layers"])] == ref["layer_params"]
    assert sum(1 for _ in model.modules()) == ref["modules"]  # one activation per conv, as YOLOv7 builds them
    assert type(model.model[-1]).__name__ == ref["head"]
    assert model.stride.tolist() == ref["stride"]
    with torch.no_grad():
        model.eval()
        assert output_shapes(model(torch.empty(1, 3, 320, 320, device="meta"))) == ref["eval_output_shapes_320"]
        model.train()  # the heads' training outputs; batch norms stay in eval mode (same shapes, a faster meta pass)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        assert output_shapes(model(torch.empty(1, 3, 256, 256, device="meta"))) == ref["train_output_shapes_256"]


@pytest.mark.parametrize("name", ["training/yolov7.yaml", "training/yolov7-e6e.yaml"])
def test_state_dict_keys_and_shapes(name: str) -> None:
    want = _ref(name)["state_dict"]
    model = yamlnet.build(YOLOV7_DIR / name, device="meta")
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(want)
    assert got == want


def _checkpoint(layout: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """A state_dict in the reference's key layout whose every tensor holds a value of its own (its index)."""
    out = {}
    for i, (k, shape) in enumerate(layout.items()):
        out[k] = torch.full(shape, i, dtype=torch.long) if k.endswith("num_batches_tracked") else torch.full(shape, i / 1000.0)
    return out


def test_a_checkpoint_in_the_reference_layout_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = _ref("training/yolov7-tiny.yaml")  # no recorded keys: take them from the exact build, check them by count
    model = yamlnet.build(YOLOV7_DIR / "training/yolov7-tiny.yaml")
    sd = model.state_dict()
    buffers = ("running_mean", "running_var", "num_batches_tracked", "anchors", "anchor_grid")
    assert sum(v.numel() for k, v in sd.items() if not k.endswith(buffers)) == layout["params"]
    ckpt = _checkpoint({k: list(v.shape) for k, v in sd.items()})
    f = tmp_path / "yolov7-tiny.pt"
    torch.save({"model": ckpt, "epoch": 3}, f)  # the usual training-checkpoint wrapper, with plain tensors
    loaded = yamlnet.build(YOLOV7_DIR / "training/yolov7-tiny.yaml", weights=f)
    assert loaded.load_reports[-1].complete
    got = loaded.state_dict()
    assert all(torch.equal(got[k], v) for k, v in ckpt.items())
    assert cli_main(["build", str(YOLOV7_DIR / "training/yolov7-tiny.yaml"), "--weights", str(f)]) == 0
    assert f"loaded {len(ckpt)}/{len(ckpt)} tensors" in capsys.readouterr().err


def test_the_recorded_yolov7_layout_loads_through_the_weights_api(tmp_path: Path) -> None:
    """The 566 keys YOLOv7's own yolov7.yaml model has, with their shapes, load completely."""
    layout = _ref("training/yolov7.yaml")["state_dict"]
    f = tmp_path / "yolov7.pt"
    torch.save(_checkpoint(layout), f)
    model = yamlnet.build(YOLOV7_DIR / "training/yolov7.yaml", weights=f)
    rep = model.load_reports[-1]
    assert rep.complete and len(rep.matched) == 566
    sd, want = model.state_dict(), _checkpoint(layout)
    some = ("model.105.anchor_grid", "model.105.im.2.implicit", "model.105.ia.0.implicit", "model.102.rbr_1x1.0.weight")
    assert all(torch.equal(sd[k], want[k]) for k in some)


@pytest.mark.parametrize("name", NO_V7_EVIDENCE)
def test_files_without_yolov7_blocks_read_as_yolov5_build_the_same_network(name: str) -> None:
    """Same parameters, rows, strides and outputs; the state_dicts differ only by YOLOv7's `anchor_grid` buffer
    (which a YOLOv7 checkpoint carries: loading one in the YOLOv5 reading reports it as unexpected)."""
    ref = _ref(name)
    report = yamlnet.analyze(YOLOV7_DIR / name)
    assert report.ok and report.ir is not None and report.ir.spec.dialect == "yolov5", report.render()
    v5 = yamlnet.build(report.ir.spec, device="meta")
    v7 = yamlnet.build(YOLOV7_DIR / name, dialect="yolov7", device="meta")
    assert sum(p.numel() for p in v5.parameters()) == ref["params"]
    assert v5.stride.tolist() == ref["stride"]
    with torch.no_grad():
        v5.eval()
        assert output_shapes(v5(torch.empty(1, 3, 320, 320, device="meta"))) == ref["eval_output_shapes_320"]
    k5, k7 = list(v5.state_dict()), list(v7.state_dict())
    assert [k for k in k7 if k not in k5] == ["model.28.anchor_grid"] and [k for k in k5 if k not in k7] == []
