"""timm backbones: taps from the recorded feature_info (no forward pass, no torch for static checks), real
forwards matching the taps, NHWC and fixed-size models, and the diagnostics for what cannot work."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from torch import nn

import yamlnet
from blocks.timm_backbones import decl as timm_decl
from blocks.timm_backbones.model import TimmBackbone, create_features
from yamlnet import registry

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
RESNET_SPEC = SPECS / "yolov5-timm-resnet18.yaml"
MOBILENET_SPEC = SPECS / "yolov5-timm-mobilenetv3.yaml"


def backbone_spec(module: str, args: str) -> str:
    return f"nc: 3\nbackbone:\n  - [-1, 1, {module}, {args}]\nhead: []\n"


def meta_feature_info(name: str, **kw: object) -> tuple[list[int], list[int]]:
    with torch.device("meta"):
        m = timm.create_model(name, pretrained=False, features_only=True, **kw)
    return list(m.feature_info.channels()), list(m.feature_info.reduction())


def taps_of(report: yamlnet.api.Report, position: int = 0) -> list[tuple[str, int, int]]:
    assert report.ir is not None
    return [(k, p.channels, int(p.stride)) for k, p in report.ir.nodes[position].taps.items()]


# --------------------------------------------------------------------------------------------------------
# Declarations and the recorded feature_info


def test_curated_names_are_registered_with_recorded_features() -> None:
    cat = timm_decl.catalog()
    for name in timm_decl.CURATED:
        d = registry.lookup(name)
        assert d is not None and d.role == "backbone" and d.taps is not None, name
        assert "features" in cat[name], name
        # the factory's signature is the declaration's constructor arguments
        impl = registry.load_impl(d)
        params = list(inspect.signature(impl).parameters)
        assert params == [a.name for a in d.args if a.to_constructor] == ["out_indices"]
    d = registry.lookup("TimmBackbone")
    assert d is not None
    assert list(inspect.signature(TimmBackbone).parameters) == [a.name for a in d.args if a.to_constructor] == ["model_name", "out_indices"]
    assert json.loads(timm_decl.FEATURE_INFO_FILE.read_text())["timm_version"] == timm.__version__


@pytest.mark.parametrize("name", list(timm_decl.CURATED))
def test_taps_equal_timm_feature_info(name: str) -> None:
    """Both spellings give taps equal to feature_info (channels, reduction) of the model timm builds."""
    channels, reductions = meta_feature_info(name)
    expected = [(f"P{r.bit_length() - 1}", c, r) for c, r in zip(channels, reductions)]
    expected = list({t[0]: t for t in expected}.values())  # one per reduction, the last
    for module, args in ((name, "[False]"), ("TimmBackbone", f"[{name}]")):
        report = yamlnet.analyze(backbone_spec(module, args))
        assert report.ok, report.render()
        assert taps_of(report) == expected


@pytest.mark.parametrize("name", ["dla34", "levit_128s", "swin_tiny_patch4_window7_224", "vit_tiny_patch16_224", "hrnet_w18_small", "xception41"])
def test_recorded_entry_matches_timm(name: str) -> None:
    """The file records what the generator's creation path gives today (a stale file after a timm upgrade fails here)."""
    entry = timm_decl.catalog()[name]
    with torch.device("meta"):
        feats, options = create_features(name)
    info = feats.feature_info
    assert entry["features"] == [[d["num_chs"], d["reduction"]] for d in info.info]
    assert entry["out_indices"] == list(info.out_indices)
    assert entry.get("options", {}) == options


def test_shared_reduction_keeps_the_last_feature() -> None:
    # vit_tiny: 12 blocks, all stride 16; timm's default out_indices are the last three -> one tap, P4
    assert timm_decl.timm_taps("vit_tiny_patch16_224") == (registry.TapDecl("P4", 192, 16),)
    assert timm_decl.keep_last_per_tap([4, 8, 8, 16, 32, 32]) == [0, 2, 3, 5]


def test_out_indices_select_features() -> None:
    report = yamlnet.analyze(backbone_spec("TimmBackbone", "[resnet50, False, [-1, 2, 3]]"))
    assert report.ok, report.render()
    channels, reductions = meta_feature_info("resnet50", out_indices=(2, 3, 4))
    assert taps_of(report) == [(f"P{r.bit_length() - 1}", c, r) for c, r in zip(channels, reductions)]


def test_no_forward_pass_and_no_torch_to_learn_taps(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}

    def counting(original):  # type: ignore[no-untyped-def]
        def forward(self, *a, **k):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return original(self, *a, **k)

        return forward

    from timm.models._features import FeatureListNet

    monkeypatch.setattr(TimmBackbone, "forward", counting(TimmBackbone.forward))
    monkeypatch.setattr(FeatureListNet, "forward", counting(FeatureListNet.forward))
    monkeypatch.setattr(nn.Module, "__call__", counting(nn.Module.__call__))
    for spec in (RESNET_SPEC, MOBILENET_SPEC):
        r1 = yamlnet.validate(spec, imgsz=256, static=True)
        r2 = yamlnet.analyze(spec)
        assert r1.ok and r2.ok, r1.render() + r2.render()
    assert calls["n"] == 0
    # in a fresh interpreter, static analysis of the timm specs imports neither torch nor timm
    code = (
        "import sys, yamlnet\n"
        f"for p in {[str(RESNET_SPEC), str(MOBILENET_SPEC)]!r}:\n"
        "    assert yamlnet.validate(p, static=True).ok\n"
        "print(sorted(m for m in ('torch', 'timm') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_resnet18_spec_taps_and_layout() -> None:
    report = yamlnet.analyze(RESNET_SPEC)
    assert report.ok, report.render()
    assert taps_of(report) == [("P1", 64, 2), ("P2", 64, 4), ("P3", 128, 8), ("P4", 256, 16), ("P5", 512, 32)]
    ir = report.ir
    assert ir is not None
    detect = ir.heads()[-1]
    assert [int(s) for s in detect.in_strides] == [8, 16, 32]


# --------------------------------------------------------------------------------------------------------
# Real builds and forwards


@torch.no_grad()
def test_build_and_forward_resnet18_spec_at_256() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(RESNET_SPEC).eval()
    assert model.stride.tolist() == [8.0, 16.0, 32.0]
    bb = model.get_submodule("model.0")
    assert isinstance(bb, TimmBackbone) and isinstance(bb.m, nn.Module)
    x = torch.randn(1, 3, 256, 256)
    taps = bb(x)
    assert [tuple(t.shape) for t in taps] == [(1, c, 256 // s, 256 // s) for c, s in zip([64, 64, 128, 256, 512], [2, 4, 8, 16, 32])]
    y = model(x)
    pred = y[0] if isinstance(y, (tuple, list)) else y
    assert tuple(pred.shape) == (1, 3 * (32 * 32 + 16 * 16 + 8 * 8), 85)
    assert sum(p.numel() for p in bb.parameters()) == 11_176_512  # resnet18 without its fc


@torch.no_grad()
def test_build_and_forward_mobilenetv3_seed_numbering() -> None:
    report = yamlnet.validate(MOBILENET_SPEC, imgsz=256)
    assert report.ok, report.render()
    torch.manual_seed(0)
    model = yamlnet.build(MOBILENET_SPEC).eval()
    x = torch.randn(1, 3, 256, 256)
    shapes = [tuple(t.shape) for t in model.get_submodule("model.0")(x)]
    assert shapes == [(1, 16, 128, 128), (1, 24, 64, 64), (1, 40, 32, 32), (1, 112, 16, 16), (1, 960, 8, 8)]
    assert report.shapes["256x256"][0] == shapes
    assert tuple(model(x)[0].shape) == (1, 4032, 85)


@torch.no_grad()
def test_out_indices_forward_matches_taps() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(backbone_spec("TimmBackbone", "[resnet18, False, [1, 2, 3, 4]]")).eval()
    outs = model(torch.randn(1, 3, 128, 128))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 32, 32), (1, 128, 16, 16), (1, 256, 8, 8), (1, 512, 4, 4)]


@torch.no_grad()
def test_nhwc_swin_is_permuted_to_nchw() -> None:
    """Swin gives channels-last features and is fixed to 224 px in timm; the wrapper creates it with
    dynamic_img_size=True and permutes to NCHW, and a size that is not a multiple of the patch is YN404."""
    name = "swin_tiny_patch4_window7_224"
    assert timm_decl.catalog()[name].get("fmt") == "NHWC"
    torch.manual_seed(0)
    bb = TimmBackbone(name).eval()
    assert bb.nhwc and bb.create_options == {"dynamic_img_size": True}
    outs = bb(torch.randn(1, 3, 128, 128))
    assert [tuple(o.shape) for o in outs] == [(1, 96, 32, 32), (1, 192, 16, 16), (1, 384, 8, 8), (1, 768, 4, 4)]
    spec = backbone_spec("TimmBackbone", f"[{name}]")
    ok = yamlnet.validate(spec, imgsz=128)
    assert ok.ok, ok.render()
    assert ok.shapes["128x128"][0] == [tuple(o.shape) for o in outs]
    bad = yamlnet.validate(spec, imgsz=130, static=True)
    assert [d.code for d in bad.errors] == ["YN404"]


def test_fixed_size_model_without_dynamic_option_is_a_diagnostic() -> None:
    """LeViT takes no dynamic_img_size: the shape pass names the one size it runs at (YN405, no traceback)."""
    spec = backbone_spec("TimmBackbone", "[levit_128s]")
    assert timm_decl.catalog()["levit_128s"].get("fixed_size") == [224, 224]
    assert yamlnet.validate(spec, imgsz=224).ok
    bad = yamlnet.validate(spec, imgsz=256)
    assert [d.code for d in bad.errors] == ["YN405"]
    assert "takes only 224x224" in bad.errors[0].message


@torch.no_grad()
def test_vit_gives_one_stride16_tap() -> None:
    bb = TimmBackbone("vit_tiny_patch16_224").eval()
    assert bb.create_options == {"dynamic_img_size": True}
    outs = bb(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 192, 4, 6)]


def fuse_and_compare(spec: str, size: int = 128) -> tuple[int, int, float]:
    torch.manual_seed(0)
    model = yamlnet.build(spec).eval()
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        before = model(x)
        n_before = sum(p.numel() for p in model.parameters())
        model.fuse()
        after = model(x)
    err = max(((a - b).abs().max() / a.abs().max()).item() for a, b in zip(before, after))
    return n_before, sum(p.numel() for p in model.parameters()), err


def test_fuse_reparameterises_fastvit() -> None:
    n_before, n_after, err = fuse_and_compare(backbone_spec("fastvit_t8", "[False]"))
    assert n_after < n_before
    assert err < 1e-4


def test_fuse_repvit_parent_first() -> None:
    _, _, err = fuse_and_compare(backbone_spec("TimmBackbone", "[repvit_m1]"))
    assert err < 1e-4


# --------------------------------------------------------------------------------------------------------
# Diagnostics


def codes(text: str) -> list[str]:
    return [d.code for d in yamlnet.validate(text, static=True).errors]


def test_unknown_model_is_a_diagnostic_with_the_fix() -> None:
    report = yamlnet.validate(backbone_spec("TimmBackbone", "[resnet81]"), static=True)
    assert [d.code for d in report.errors] == ["YN118"]
    msg = report.errors[0].message
    assert "resnet18" in msg and "generate_feature_info" in msg


def test_pretrained_true_is_refused() -> None:
    report = yamlnet.validate(backbone_spec("resnet18", "[True]"), static=True)
    assert [d.code for d in report.errors] == ["YN118"]
    assert "never" in report.errors[0].message


def test_bad_out_indices() -> None:
    assert codes(backbone_spec("TimmBackbone", "[resnet18, False, [1, 9]]")) == ["YN118"]
    assert codes(backbone_spec("TimmBackbone", "[resnet18, False, []]")) == ["YN118"]
    assert codes(backbone_spec("TimmBackbone", "[resnet18, False, 3]")) == ["YN107"]  # a number where a list goes


def test_wrong_tap_lists_the_taps() -> None:
    text = backbone_spec("TimmBackbone", "[convnext_tiny]").replace("head: []", "head:\n  - [0.P1, 1, Conv, [16, 1, 1]]")
    report = yamlnet.validate(text, static=True)
    assert [d.code for d in report.errors] == ["YN205"]
    assert "P2" in (report.errors[0].help or "")


def test_model_without_features_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timm has no model"):
        create_features("not_a_timm_model")
