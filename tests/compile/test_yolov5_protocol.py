"""The protocol YOLOv5's train.py, val.py, detect.py and export.py use on a model, checked without YOLOv5:
`model.model[-1]` is the Detect layer with its attributes, overrides reach it, copies and pickles keep
everything (a pickle reloads in a fresh process as yamlnet's class), forward takes YOLOv5's keywords."""

from __future__ import annotations

import copy
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, SPECS

import yamlnet
from yamlnet.compile.model import Layers, YamlnetModel
from yamlnet.yolov5 import Model

YOLOV5N = SPECS / "yolov5n.yaml"
ANCHORS_PX = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]


@pytest.fixture(scope="module")
def model() -> YamlnetModel:
    torch.manual_seed(0)
    return Model(YOLOV5N)


def test_detect_is_the_last_layer_with_yolov5_attributes(model: YamlnetModel) -> None:
    assert isinstance(model.model, Layers) and len(model.model) == 25
    m = model.model[-1]
    assert m is model.model[24] and type(m).__name__ == "Detect"
    assert (m.na, m.nc, m.nl, m.no) == (3, 80, 3, 85)
    assert m.stride.tolist() == [8.0, 16.0, 32.0] and model.stride.tolist() == [8.0, 16.0, 32.0]
    want = torch.tensor(ANCHORS_PX, dtype=torch.float32).view(3, 3, 2) / torch.tensor([8.0, 16.0, 32.0]).view(3, 1, 1)
    assert torch.equal(m.anchors, want)  # grid units, as YOLOv5's check_anchors and loss read them
    assert m.anchors[0].tolist() == [[1.25, 1.625], [2.0, 3.75], [4.125, 2.875]]
    assert [type(x).__name__ for x in model.model[:3]] == ["Conv", "Conv", "C3"]
    assert sum(1 for _ in model.model) == 25
    with pytest.raises(IndexError, match="out of range"):
        model.model[25]
    # what YOLOv5's EMA and AutoShape copy with copy_attr: plain attributes in __dict__
    for k in ("yaml", "nc", "hyp", "names", "stride"):
        assert k in model.__dict__, k
    assert model.nc == 80 and len(model.names) == 80 and model.hyp == {}
    assert model.yaml["nc"] == 80 and model.yaml["anchors"] == ANCHORS_PX
    assert isinstance(m.grid, list) and len(m.anchor_grid) == 3  # AutoShape._apply maps over both


def test_nc_and_anchor_overrides_reach_detect() -> None:
    m = Model(YOLOV5N, nc=3, anchors=4.0)  # train.py: Model(cfg, ch=3, nc=nc, anchors=hyp.get("anchors"))
    d = m.model[-1]
    assert (d.nc, d.no, d.na) == (3, 8, 4)
    assert d.anchors.shape == (3, 4, 2) and [c.out_channels for c in d.m] == [32, 32, 32]
    assert m.nc == 3 and m.yaml["nc"] == 3 and m.yaml["anchors"] == 4
    b = yamlnet.build(YOLOV5N, nc=3)
    assert (b.model[-1].nc, b.nc, b.yaml["nc"]) == (3, 3, 3)
    assert [c.out_channels for c in b.model[-1].m] == [24, 24, 24]
    # a spec dict (a checkpoint's model.yaml) rebuilds the same model: train.py --weights/--resume do this
    again = Model(m.yaml, ch=3, nc=3)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}


def test_ch_is_used_when_the_spec_does_not_state_it() -> None:
    m = Model(YOLOV5N, ch=1)
    assert m.model[0].conv.in_channels == 1 and m.yaml["ch"] == 1
    text = YOLOV5N.read_text().replace("nc: 80", "nc: 80\nch: 4")
    spec = yamlnet.load_spec(text)
    assert spec.ch == 4
    d = Model(yamlnet.build(text).yaml, ch=1)  # as in YOLOv5, the spec's own ch wins over the argument
    assert d.model[0].conv.in_channels == 4


def test_deepcopy_keeps_attributes_and_layers(model: YamlnetModel) -> None:
    model.hyp = {"box": 0.05, "anchor_t": 4.0}
    model.names = {0: "cat", 1: "dog"}
    model.class_weights = torch.arange(3.0)
    c = copy.deepcopy(model)
    assert isinstance(c, YamlnetModel) and isinstance(c.model, Layers)
    assert c.hyp == model.hyp and c.names == model.names and c.nc == 80 and c.yaml == model.yaml
    assert torch.equal(c.class_weights, model.class_weights) and torch.equal(c.stride, model.stride)
    assert c.model[-1].na == 3 and c.model[-1] is not model.model[-1]
    assert c.training == model.training
    x = torch.rand(1, 3, 64, 64)
    c.eval()
    model.eval()
    with torch.no_grad():
        assert torch.equal(c(x)[0], model(x)[0])
        next(c.parameters()).add_(1.0)  # the copy owns its tensors
        assert not torch.equal(c(x)[0], model(x)[0])


def test_shallow_copy_keeps_class_and_attributes(model: YamlnetModel) -> None:
    c = copy.copy(model)
    assert isinstance(c, YamlnetModel) and isinstance(c.model, Layers) and c.model[-1] is model.model[-1]
    assert c.yaml is model.yaml and torch.equal(c.stride, model.stride) and c.hyp is model.hyp


def test_half_float_keeps_stride_float(model: YamlnetModel) -> None:
    m = copy.deepcopy(model).half()
    assert m.stride.dtype == torch.float32 and next(m.parameters()).dtype == torch.float16
    assert m.model[-1].stride.dtype == torch.float16
    m.float()
    assert m.stride.dtype == torch.float32 and m.model[-1].stride.dtype == torch.float32
    assert m.stride.tolist() == [8.0, 16.0, 32.0]


def test_forward_takes_yolov5_keywords(model: YamlnetModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert list(inspect.signature(model.forward).parameters) == ["x", "augment", "profile", "visualize"]
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        plain = model(x)
        same = model(x, augment=False, profile=False, visualize=False)
        assert torch.equal(plain[0], same[0]) and plain[0].shape == (1, 252, 85)
        profiled = model(x, profile=True)
        assert torch.equal(profiled[0], plain[0])
        out = capsys.readouterr().out
        assert out.count("\n") >= 26 and "Detect" in out and "total" in out
        model(x, visualize=tmp_path / "maps")
        assert len(list((tmp_path / "maps").glob("stage*_features.png"))) == 24  # every row but Detect
        tta, none = model(x, augment=True)
    assert none is None
    # scales 1 (last level dropped: 252 - 12), 0.83 flipped (padded to 64: 252), 0.67 (first level dropped: 252 - 192)
    assert tta.shape == (1, 240 + 252 + 60, 85)
    assert torch.equal(tta[:, :240], plain[0][:, :240])


def test_export_flag_as_autoshape_sets_it(model: YamlnetModel) -> None:
    m = copy.deepcopy(model).eval()
    m.model[-1].export = True
    with torch.no_grad():
        out = m(torch.rand(1, 3, 64, 64))
    assert isinstance(out, tuple) and len(out) == 1 and out[0].shape == (1, 252, 85)


def test_info_and_fuse(model: YamlnetModel, capsys: pytest.CaptureFixture[str]) -> None:
    n_modules, n_params, n_grads, gflops = model.info()
    assert n_params == 1_872_157 == n_grads  # YOLOv5n's count
    assert gflops is not None and round(gflops, 1) == 4.5  # YOLOv5 reports 4.5 GFLOPs at 640
    assert "1,872,157 parameters" in capsys.readouterr().out
    m = copy.deepcopy(model).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = m(x)[0]
        assert m.fuse() is m
        after = m(x)[0]
    assert m.fused == "all" and sum(p.numel() for p in m.parameters()) == 1_867_405  # YOLOv5n fused
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-3)


def test_augment_needs_a_detection_head() -> None:
    m = yamlnet.build("backbone:\n  - [-1, 1, Conv, [8, 3, 2]]\n").eval()
    with pytest.raises(NotImplementedError, match="detection head"):
        m(torch.rand(1, 3, 32, 32), augment=True)


def _yolov5_checkpoint(model: YamlnetModel, path: Path) -> None:
    """What YOLOv5's train.py saves: deep copies in half precision, numpy fitness, plain options."""
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    ckpt = {
        "epoch": 3,
        "best_fitness": np.array([0.25]),
        "model": copy.deepcopy(model).half(),
        "ema": ema.half(),
        "updates": 12,
        "optimizer": None,
        "opt": {"imgsz": 64, "hyp": {"lr0": 0.01}},
        "git": {"remote": "", "branch": "", "commit": ""},
        "date": "2026-12-01T21:00:00",
    }
    torch.save(ckpt, path)


RELOAD = r"""
import json, sys, torch
torch.set_num_threads(1)
ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)  # YOLOv5's torch_load on torch >= 2.6
m = (ckpt.get("ema") or ckpt["model"]).float()
x = torch.load(sys.argv[2], weights_only=True)
before = [c.__module__ + "." + c.__name__ for c in type(m).__mro__]
with torch.no_grad():
    y = m.fuse().eval()(x)[0]
print(json.dumps({
    "mro": before, "stride": str(m.stride.dtype), "names": m.names, "hyp": m.hyp, "nc": m.nc, "fused": m.fused,
    "grad": any(p.requires_grad for p in m.parameters()), "detect": [m.model[-1].na, m.model[-1].nl], "y": y.tolist(),
}))
"""


def test_pickle_reloads_in_a_fresh_process_as_yamlnet_model(model: YamlnetModel, tmp_path: Path) -> None:
    m = copy.deepcopy(model)
    m.names = {0: "cat", 1: "dog", 2: "bird"}
    m.hyp = {"box": 0.05}
    f = tmp_path / "last.pt"
    _yolov5_checkpoint(m, f)
    x = torch.rand(1, 3, 64, 64)
    torch.save(x, tmp_path / "x.pt")
    ref = copy.deepcopy(m).half().float().eval().fuse()
    with torch.no_grad():
        want = ref(x)[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", RELOAD, str(f), str(tmp_path / "x.pt")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "yamlnet.compile.model.YamlnetModel" in got["mro"]
    assert got["stride"] == "torch.float32" and got["fused"] == "all"
    assert got["names"] == {"0": "cat", "1": "dog", "2": "bird"} and got["hyp"] == {"box": 0.05} and got["nc"] == 80
    assert got["grad"] is False and got["detect"] == [3, 3]  # the EMA was frozen
    torch.testing.assert_close(torch.tensor(got["y"]), want, rtol=1e-4, atol=1e-4)


def test_attempt_load_reads_a_yolov5_checkpoint_with_weights_only(model: YamlnetModel, tmp_path: Path) -> None:
    from yamlnet.yolov5 import attempt_load

    _yolov5_checkpoint(model, tmp_path / "best.pt")
    m = attempt_load(tmp_path / "best.pt")  # the EMA, float, fused, eval: what val.py and detect.py run
    assert m.fused == "all" and m.training is False and next(m.parameters()).dtype == torch.float32
    assert sum(p.numel() for p in m.parameters()) == 1_867_405
    torch.save(m.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ValueError, match="holds no yamlnet model"):
        attempt_load(tmp_path / "sd.pt")


def test_pickle_loads_with_weights_only_true(model: YamlnetModel, tmp_path: Path) -> None:
    f = tmp_path / "m.pt"
    m = copy.deepcopy(model).eval().fuse(backbones=False)
    torch.save(m, f)
    r = torch.load(f, weights_only=True)  # restore_model is a safe global: the pickle holds data only
    assert isinstance(r, YamlnetModel) and r.fused == "yolov5" and r.training is False
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(r(x)[0], m(x)[0])
    assert set(r.state_dict()) == set(m.state_dict())


def test_mobileone_checkpoint_is_reparameterised_after_reload(tmp_path: Path) -> None:
    """val.py fuses the reloaded model: MobileOne's branches must collapse (as they do for the built model)."""
    torch.manual_seed(0)
    m = Model(SPECS / "yolov5-mobileone.yaml", nc=3).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        want = copy.deepcopy(m).half().float()(x)[0]  # the checkpoint's fp16 weights, unfused
    f = tmp_path / "best.pt"
    _yolov5_checkpoint(m, f)
    r = torch.load(f, weights_only=False)["ema"].float()
    n_before = sum(p.numel() for p in r.parameters())
    with torch.no_grad():
        got = r.fuse()(x)[0]
    assert sum(p.numel() for p in r.parameters()) < n_before and r.model[-1].nc == 3
    # reparameterised: the same function up to float32 rounding of the folded kernels. Box outputs are in pixels
    # (tens): one of 2,016 values, 30.0, came out 0.0048 away (1.6e-4 relative) with this machine's torch build
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("spec", ["yolov5-timm-resnet18.yaml", "yolov5-efficientvit-index.yaml"])
def test_pickles_of_timm_and_index_specs_load_with_weights_only(spec: str, tmp_path: Path) -> None:
    """timm's classes are not named in the pickle (the spec rebuilds them); Index rows have no module."""
    torch.manual_seed(0)
    m = yamlnet.build(SPECS / spec).eval()
    torch.save(m, tmp_path / "m.pt")
    r = torch.load(tmp_path / "m.pt", weights_only=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(r(x)[0], m(x)[0])
    assert type(r.model[-1]).__name__ == "Detect" and r.model[-1].nl == 3


def test_a_crafted_pickle_sets_data_attributes_only(model: YamlnetModel) -> None:
    from yamlnet.compile.model import restore_model

    fn, (payload,) = model.__reduce__()
    assert fn is restore_model and set(payload) >= {"yaml", "state_dict", "attrs", "fused", "dtype"}
    payload = {**payload, "attrs": {**payload["attrs"], "forward": 1, "_modules": {}, "graph_forward": 2, "training": True, "names": {0: "a"}}}
    payload["heads"] = {"model.24": {"export": True, "bind_strides": 3}}
    r = restore_model(payload)
    assert r.names == {0: "a"} and callable(r.forward) and len(r.model) == 25 and r.training is model.training
    assert r.model[-1].export is True and callable(r.model[-1].bind_strides)
    with pytest.raises(ValueError, match="not a pickled yamlnet model"):
        restore_model({"format": "other"})
