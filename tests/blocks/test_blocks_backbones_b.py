"""RIFormer, MobileOne and MobileViT blocks: declarations against real forwards, parameter counts, deploy
fusion, and the MobileViT patch-size rule."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
from fractions import Fraction
from typing import Any

import pytest
import torch
from torch import nn

from yamlnet.registry import FILL_C1, REQUIRED, BlockDecl, load_impl, lookup

# name -> (parameters of our backbone, parameters a classifier adds on top, published classifier total)
# The classifier for RIFormer is GroupNorm + Linear(C, 1000) on the last stage (its norm replaces our norm6,
# and it has no norm0/2/4); for MobileViT it is Linear(C, 1000, bias=False) after pooling; MobileOne-S0 is
# compared after reparameterisation (the published 2.1M is the deploy model), head Linear(1024, 1000).
BACKBONES: dict[str, tuple[int, int, float]] = {
    "RIFormer": (11_409_856, 513_000 - 2 * (64 + 128 + 320), 12e6),
    "RIFormer_s12": (11_409_856, 513_000 - 2 * (64 + 128 + 320), 12e6),
    "RIFormer_s24": (20_890_304, 513_000 - 2 * (64 + 128 + 320), 21e6),
    "RIFormer_s36": (30_370_752, 513_000 - 2 * (64 + 128 + 320), 31e6),
    "RIFormer_m36": (55_431_360, 769_000 - 2 * (96 + 192 + 384), 56e6),
    "RIFormer_m48": (72_741_120, 769_000 - 2 * (96 + 192 + 384), 73e6),
    "MobileOne_S0": (4_267_936, 1_025_000, 2.1e6),
    "MobileViT_XXS": (1_011_472, 320_000, 1.3e6),
    "MobileViT_XS": (1_998_944, 384_000, 2.3e6),
    "MobileViT_S": (4_996_720, 640_000, 5.6e6),
}
MOBILEONE_S0_FUSED = 1_053_504
SMALL_INPUT = {"RIFormer_s24": 64, "RIFormer_s36": 64, "RIFormer_m36": 64, "RIFormer_m48": 64}  # big models


def _decl(name: str) -> BlockDecl:
    decl = lookup(name)
    assert decl is not None, f"{name} is not registered"
    return decl


def _build(name: str, **kw: Any) -> nn.Module:
    return load_impl(_decl(name))(**kw).eval()


def _params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def fuse_bottom_up(module: nn.Module) -> nn.Module:
    """Replace every module that has `fuse` by its result, children before parents (the compiler's rule)."""
    for name, child in list(module.named_children()):
        setattr(module, name, fuse_bottom_up(child))
    return module.fuse() if hasattr(module, "fuse") else module


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max())


def _check_taps(name: str, m: nn.Module, h: int, w: int) -> None:
    taps = _decl(name).taps_of({})
    with torch.no_grad():
        outs = m(torch.randn(1, 3, h, w))
    assert len(outs) == len(taps)
    for tap, out in zip(taps, outs):
        assert out.shape[1] == tap.channels, (name, tap)
        assert (h / out.shape[2], w / out.shape[3]) == (tap.stride, tap.stride), (name, tap, out.shape)
    decl = _decl(name)
    assert decl.out_channels is not None and decl.out_channels(3, {}) == taps[-1].channels
    assert decl.stride_of({}) == taps[-1].stride


# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_taps_and_params(name: str) -> None:
    decl = _decl(name)
    assert decl.role == "backbone"
    assert decl.yaml_args()[0].name == "weights" and decl.yaml_args()[0].default is False
    m = _build(name)
    size = SMALL_INPUT.get(name, 128)
    _check_taps(name, m, size, size)
    ours, head, published = BACKBONES[name]
    assert _params(m) == ours
    if name == "MobileOne_S0":
        ours = _params(fuse_bottom_up(m))
        assert ours == MOBILEONE_S0_FUSED
    # with the classifier added, within 4% of the paper's (rounded) count
    assert abs(ours + head - published) / published < 0.04, (name, ours + head)


@pytest.mark.parametrize("name", ["RIFormer_s12", "MobileOne_S0", "MobileViT_XXS"])
def test_rect_640x384(name: str) -> None:
    _check_taps(name, _build(name), 384, 640)


def test_tap_layout() -> None:
    assert [(t.name, t.channels, t.stride) for t in _decl("RIFormer").taps_of({})] == [
        ("P2", 64, 4),
        ("P3", 128, 8),
        ("P4", 320, 16),
        ("P5", 512, 32),
    ]
    assert [(t.name, t.channels, t.stride) for t in _decl("MobileOne_S0").taps_of({})] == [
        ("P1", 48, 2),
        ("P2", 48, 4),
        ("P3", 128, 8),
        ("P4", 256, 16),
        ("P5", 1024, 32),
    ]
    assert [t.channels for t in _decl("MobileViT_XXS").taps_of({})] == [16, 24, 48, 64, 320]
    assert [t.channels for t in _decl("MobileViT_S").taps_of({})] == [32, 64, 96, 128, 640]


def test_input_channels_come_from_the_compiler() -> None:
    for name in ("RIFormer_s12", "MobileOne_S0", "MobileViT_XXS"):
        c1 = [a for a in _decl(name).args if a.fill == FILL_C1]
        assert len(c1) == 1 and c1[0].default == 3
        m = _build(name, **{c1[0].name: 4})
        with torch.no_grad():
            assert m(torch.randn(1, 4, 64, 64))[-1].shape[2:] == (2, 2)


@pytest.mark.parametrize(
    "name",
    [
        "RIFormer",
        "RIFormer_s12",
        "RIFormer_s24",
        "RIFormer_s36",
        "RIFormer_m36",
        "RIFormer_m48",
        "MobileOne_S0",
        "MobileOneBlock",
        "MV2Block",
        "MobileViTBlock",
        "MobileViT_XXS",
        "MobileViT_XS",
        "MobileViT_S",
    ],
)
def test_declaration_matches_signature(name: str) -> None:
    decl = _decl(name)
    params = inspect.signature(load_impl(decl)).parameters
    args = [a for a in decl.args if a.to_constructor]
    assert list(params) == [a.name for a in args]
    for a in args:
        default = params[a.name].default
        assert (default is inspect.Parameter.empty) == (a.default is REQUIRED), (name, a.name)
        if a.default is not REQUIRED:
            assert default == a.default, (name, a.name)


def test_declarations_import_without_torch() -> None:
    code = "import sys, blocks.riformer.decl, blocks.mobileone.decl, blocks.mobilevit.decl; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------------------
# Deploy fusion


def _randomise(m: nn.Module) -> None:
    g = torch.Generator().manual_seed(0)

    def u(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm2d, nn.GroupNorm)):
                u(mod.weight, 0.5, 1.5)
                u(mod.bias, -0.3, 0.3)
            if isinstance(mod, nn.BatchNorm2d):
                u(mod.running_mean, -0.3, 0.3)  # type: ignore[arg-type]
                u(mod.running_var, 0.5, 2.0)  # type: ignore[arg-type]
            if type(mod).__name__ == "Affine":
                u(mod.affine.weight, 0.0, 2.0)
                u(mod.affine.bias, -0.3, 0.3)
            if type(mod).__name__ == "RIFormerBlock":
                u(mod.layer_scale_1, 0.2, 1.0)
                u(mod.layer_scale_2, 0.2, 1.0)


@pytest.mark.parametrize("name", ["RIFormer_s12", "MobileOne_S0"])
def test_fuse_keeps_outputs(name: str) -> None:
    torch.manual_seed(0)
    m = _build(name)
    _randomise(m)
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        before = m(x)
        fused = fuse_bottom_up(m)
        after = fused(x)
    errs = [_rel_err(a, b) for a, b in zip(before, after)]
    assert max(errs) < 1e-4, errs
    kinds = {type(c).__name__ for c in fused.modules()}
    if name == "RIFormer_s12":
        assert "Affine" not in kinds and _params(fused) < BACKBONES[name][0]
    else:
        assert "DepthWiseConv" not in kinds and "BatchNorm2d" not in kinds


@pytest.mark.parametrize(("c1", "c2", "k", "stride"), [(16, 16, 4, 1), (16, 32, 2, 2), (8, 8, 1, 2)])
def test_mobileone_block_fuse(c1: int, c2: int, k: int, stride: int) -> None:
    block = _build("MobileOneBlock", in_channels=c1, out_channels=c2, k=k, stride=stride)
    _randomise(block)
    x = torch.randn(2, c1, 15, 16)
    with torch.no_grad():
        before = block(x)
        after = fuse_bottom_up(block)(x)
    assert before.shape == (2, c2, math.ceil(15 / stride), 16 // stride)
    assert _rel_err(before, after) < 1e-4


# ---------------------------------------------------------------------------------------------------------
# MobileViT layers: the seed YAML's rows, and the patch-size rule


def _bind(decl: BlockDecl, row: list[Any], c1: int, width: float) -> dict[str, Any]:
    """What the compiler does with a row's args (positional onto YAML args, width scaling, c1 fill)."""
    kw = dict(zip([a.name for a in decl.yaml_args()], row))
    out: dict[str, Any] = {}
    for a in decl.args:
        if a.fill == FILL_C1:
            out[a.name] = c1
        elif a.name in kw:
            v = kw[a.name]
            out[a.name] = math.ceil(v * width / 8) * 8 if a.width else v
        else:
            assert a.default is not REQUIRED, a.name
            out[a.name] = a.default
    return out


def test_seed_yaml_rows_bind() -> None:
    # the seed 004 backbone after its Focus row (width_multiple 0.5, depth 0.33 -> every n is 1)
    rows = [
        ("MV2Block", [32, 1, 2]),
        ("MV2Block", [48, 2, 2]),
        ("MV2Block", [48, 1, 2]),
        ("MV2Block", [64, 2, 2]),
        ("MobileViTBlock", [64, 96, 2, 3, 2, 192]),
        ("MV2Block", [80, 2, 2]),
        ("MobileViTBlock", [80, 120, 4, 3, 2, 480]),
        ("MV2Block", [96, 2, 2]),
        ("MobileViTBlock", [96, 144, 3, 3, 2, 576]),
    ]
    mv2 = _bind(_decl("MV2Block"), [32, 1, 2], 16, 1.0)
    assert (mv2["c2"], mv2["stride"], mv2["expansion"]) == (32, 1, 2)
    vit = _bind(_decl("MobileViTBlock"), [64, 96, 2, 3, 2, 192], 64, 1.0)
    assert [vit[k] for k in ("c1", "c2", "dim", "depth", "kernel_size", "patch_size", "mlp_dim")] == [64, 64, 96, 2, 3, 2, 192]
    c, stride, size = 16, Fraction(2), 64  # after Focus on a 128x128 image
    x = torch.randn(1, c, size, size)
    with torch.no_grad():
        for name, row in rows:
            decl = _decl(name)
            args = _bind(decl, row, c, 0.5)
            for rule in decl.sizes:
                assert x.shape[2] % rule.multiple(args) == 0
            x = load_impl(decl)(**args).eval()(x)
            assert decl.out_channels is not None
            c = decl.out_channels(c, args)
            stride *= decl.stride_of(args)
            assert x.shape[1] == c and 128 / x.shape[2] == stride, (name, row, x.shape)
    assert (c, stride) == (48, 32)


def test_mobilevit_block_size_rule() -> None:
    decl = _decl("MobileViTBlock")
    args = _bind(decl, [8, 16, 1, 3, 2, 32], 8, 1.0)
    assert [r.multiple(args) for r in decl.sizes] == [2]
    assert [r.multiple({**args, "patch_size": [2, 3]}) for r in decl.sizes] == [6]
    block = load_impl(decl)(**args).eval()
    with torch.no_grad():
        assert block(torch.randn(1, 8, 8, 6)).shape == (1, 8, 8, 6)
        with pytest.raises(RuntimeError):
            block(torch.randn(1, 8, 9, 8))
        with pytest.raises(RuntimeError):
            block(torch.randn(1, 8, 8, 7))
    for name in ("MobileViT_XXS", "MobileViT_XS", "MobileViT_S"):
        assert [r.multiple({}) for r in _decl(name).sizes] == [64]
    with torch.no_grad(), pytest.raises(RuntimeError):
        _build("MobileViT_XXS")(torch.randn(1, 3, 96, 64))  # 96 / 32 = 3 is odd
