"""EMO and EfficientViT backbones: declared taps against real forwards, parameter counts, BN fusion."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch
from torch import nn

from yamlnet import registry

EMO_NAMES = ["EMO_1M", "EMO_2M", "EMO_5M", "EMO_6M"]
EVIT_NAMES = [f"EfficientViT_M{i}" for i in range(6)]

# Measured parameter counts (no classification head). With the authors' 1000-class head
# (Linear(embed_dims[-1], 1000)) they give 1.36M, 2.38M, 5.11M, 6.17M: the paper's 1.3M, 2.3M, 5.1M, 6.1M.
EMO_PARAMS = {"EMO_1M": 1_192_168, "EMO_2M": 2_176_472, "EMO_5M": 4_819_848, "EMO_6M": 5_847_496}
EMO_HEAD_IN = {"EMO_1M": 168, "EMO_2M": 200, "EMO_5M": 288, "EMO_6M": 320}
EMO_PAPER_M = {"EMO_1M": 1.3, "EMO_2M": 2.3, "EMO_5M": 5.1, "EMO_6M": 6.1}
EVIT_PARAMS = {
    "EfficientViT_M0": 2_155_680,  # the YOLOv5 log of seed 001 prints exactly this for layer 0
    "EfficientViT_M1": 2_787_473,
    "EfficientViT_M2": 3_962_304,
    "EfficientViT_M3": 6_579_478,
    "EfficientViT_M4": 8_418_856,
    "EfficientViT_M5": 12_088_532,
}
EVIT_M0_FUSED_PARAMS = 2_141_544  # after every Conv2d_BN became one biased Conv2d


def build(name: str) -> nn.Module:
    decl = registry.lookup(name)
    assert decl is not None, name
    impl = registry.load_impl(decl)
    kwargs = {a.name: a.default for a in decl.args if a.to_constructor}
    torch.manual_seed(0)
    return impl(**kwargs).eval()


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def fuse_all(m: nn.Module) -> nn.Module:
    """The compiler's deploy walk: children first, then replace every module that has `fuse`."""
    for name, child in list(m.named_children()):
        setattr(m, name, fuse_all(child))
    fuse = getattr(m, "fuse", None)
    return fuse() if callable(fuse) else m


def randomize_bn(m: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine terms (several BNs start at weight 0, which would hide errors)."""
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            mod.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
            mod.bias.data.copy_(torch.randn(c, generator=g) * 0.1)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def check_taps(name: str, model: nn.Module, h: int, w: int, exact: bool = True) -> None:
    decl = registry.lookup(name)
    taps = decl.taps_of({"weights": False})
    with torch.no_grad():
        outs = model(torch.randn(1, 3, h, w))
    assert isinstance(outs, (list, tuple)) and len(outs) == len(taps)
    for tap, out in zip(taps, outs):
        assert out.shape[1] == tap.channels, (name, tap)
        if exact:  # the input is a multiple of 32: every output is exactly input / stride
            assert (out.shape[2] * tap.stride, out.shape[3] * tap.stride) == (h, w), (name, tap, out.shape)
        else:  # stride-2 convolutions with padding round up
            assert out.shape[2:] == (-(-h // tap.stride), -(-w // tap.stride)), (name, tap, out.shape)
    assert decl.out_channels(3, {}) == taps[-1].channels
    assert decl.stride_of({}) == taps[-1].stride


def test_declarations() -> None:
    for name in EMO_NAMES + EVIT_NAMES:
        decl = registry.lookup(name)
        assert decl is not None and decl.role == "backbone"
        assert [a.name for a in decl.yaml_args()] == ["weights"]
        assert decl.args[0].fill == registry.FILL_WEIGHTS and decl.args[0].default is False
        sig = inspect.signature(registry.load_impl(decl))
        assert list(sig.parameters) == [a.name for a in decl.args if a.to_constructor] == []
    assert [(t.name, t.channels, t.stride) for t in registry.lookup("EMO_1M").taps_of({})] == [
        ("P1", 24, 2),
        ("P2", 32, 4),
        ("P3", 48, 8),
        ("P4", 80, 16),
        ("P5", 168, 32),
    ]
    assert [(t.name, t.channels, t.stride) for t in registry.lookup("EfficientViT_M0").taps_of({})] == [
        ("P3", 64, 8),
        ("P4", 128, 16),
        ("P5", 192, 32),
    ]


def test_declarations_do_not_import_torch() -> None:
    code = "import sys; import blocks.emo.decl, blocks.efficientvit.decl; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=str(_root())).returncode == 0


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", EMO_NAMES + EVIT_NAMES)
def test_taps_match_forward_and_param_count(name: str) -> None:
    model = build(name)
    check_taps(name, model, 64, 96)
    expected = EMO_PARAMS.get(name) or EVIT_PARAMS[name]
    assert n_params(model) == expected


def test_emo_counts_match_paper_with_head() -> None:
    for name, n in EMO_PARAMS.items():
        with_head = n + EMO_HEAD_IN[name] * 1000 + 1000
        assert int(with_head / 1e5) / 10 == EMO_PAPER_M[name]  # the paper truncates to one decimal


@pytest.mark.parametrize("name", ["EMO_1M", "EfficientViT_M0"])
def test_rect_640x384_and_odd_sizes(name: str) -> None:
    model = build(name)
    check_taps(name, model, 384, 640)
    check_taps(name, model, 100, 70, exact=False)  # windows are padded; sizes need not be multiples of 32


def test_state_dict_keys_follow_the_authors() -> None:
    emo = build("EMO_1M").state_dict()
    for key in [
        "stage0.0.convs.0.0.weight",
        "stage0.0.convs.0.0.bias",
        "stage0.1.se.conv_reduce.weight",
        "stage0.1.conv_local.norm.running_var",
        "stage1.0.v.conv.weight",
        "stage3.1.norm.norm.weight",
        "stage3.1.qk.conv.bias",
        "stage4.2.proj.conv.weight",
        "norm.norm.weight",
    ]:
        assert key in emo, key
    evit = build("EfficientViT_M0").state_dict()
    for key in [
        "patch_embed.0.c.weight",
        "patch_embed.6.bn.running_mean",
        "blocks1.0.mixer.m.attn.attention_biases",
        "blocks1.0.mixer.m.attn.attention_bias_idxs",
        "blocks1.0.mixer.m.attn.qkvs.3.c.weight",
        "blocks1.0.mixer.m.attn.proj.1.bn.weight",
        "blocks2.1.se.fc1.weight",
        "blocks2.1.conv3.c.weight",
        "blocks3.3.ffn1.m.pw2.bn.bias",
    ]:
        assert key in evit, key
    assert evit["blocks1.0.mixer.m.attn.attention_biases"].shape == (4, 49)  # 7x7 window offsets
    assert evit["blocks1.0.mixer.m.attn.attention_bias_idxs"].shape == (49, 49)


def test_conv2d_bn_fuse() -> None:
    from blocks.efficientvit.model import Conv2d_BN

    m = Conv2d_BN(8, 16, 3, 2, 1, groups=2).eval()
    randomize_bn(m, seed=1)
    x = torch.randn(2, 8, 13, 11)
    with torch.no_grad():
        ref = m(x)
        fused = m.fuse()
        assert isinstance(fused, nn.Conv2d) and fused.bias is not None
        assert rel_err(fused(x), ref) < 1e-5


def test_efficientvit_m0_fused_model() -> None:
    model = build("EfficientViT_M0")
    randomize_bn(model)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        ref = model(x)
        fused = fuse_all(model)
        out = fused(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert n_params(fused) == EVIT_M0_FUSED_PARAMS
    errs = [rel_err(a, b) for a, b in zip(out, ref)]
    assert max(errs) < 1e-4, errs


def test_attention_biases_reloaded_after_eval() -> None:
    # the biases are read at every forward, so weights loaded after .eval() are used
    model = build("EfficientViT_M0")
    randomize_bn(model)  # the attention's output projection starts with BN weight 0
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0]
        for m in model.modules():
            if hasattr(m, "attention_biases"):
                m.attention_biases.add_(1.0 + torch.arange(m.attention_biases.shape[1]) * 0.1)
        after = model(x)[0]
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("name", ["EMO_1M", "EfficientViT_M0"])
def test_meta_device_forward(name: str) -> None:
    # the compiler's shape pass builds blocks on the meta device
    decl = registry.lookup(name)
    with torch.device("meta"):
        model = registry.load_impl(decl)().eval()
        outs = model(torch.empty(1, 3, 384, 640))
    assert [(o.shape[1], 384 // o.shape[2], 640 // o.shape[3]) for o in outs] == [(t.channels, t.stride, t.stride) for t in decl.taps_of({})]
