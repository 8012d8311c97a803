"""The Ultralytics-dialect layers (blocks/ultralytics) against numbers measured with the ultralytics 8.4.190
package's own modules.

The expected values below were measured once with the package (not a dependency of these tests): each block
built with the arguments shown, every state_dict entry filled by a fixed formula (`fill`), BatchNorm eps 1e-3
as in a built model, evaluated on a fixed input (`probe`). Parameter counts, state_dict size, one key's shape,
the output shape and two output checksums must come out the same here. Rows marked "y5:" are YOLOv5 layers
that serve the Ultralytics dialect unchanged (their Ultralytics form measured identical).
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import yamlnet
from blocks.ultralytics import attention, layers
from blocks.yolov5 import common
from yamlnet import registry
from yamlnet.registry import Scaling

UL = "ultralytics"


def fill(m: nn.Module) -> nn.Module:
    """Every floating state_dict entry j: 0.2 * sin(0.37 * i + j) over its elements i; running_var 1 + 0.5|sin|."""
    with torch.no_grad():
        for j, (k, v) in enumerate(m.state_dict().items()):
            if not v.dtype.is_floating_point:
                continue
            w = torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 0.37 + j)
            w = 1.0 + 0.5 * w.abs() if k.endswith("running_var") else 0.2 * w
            v.copy_(w.view(v.shape).to(v.dtype))
    return m


def probe(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.sin(torch.arange(math.prod(shape), dtype=torch.float64) * 0.1).view(shape).float()


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def make(name: str, args: tuple[Any, ...]) -> nn.Module:
    if name.startswith("y5:"):
        return getattr(common, name[3:])(*args)
    return getattr(layers, name)(*args)


# (block, constructor args, input shape, params, state_dict entries, a key, its shape, output shape, sum, abs sum)
MEASURED = [
    ("C2f", (16, 32, 2, True), (1, 16, 8, 8), 12032, 36, "m.1.cv2.conv.weight", (16, 16, 3, 3), (1, 32, 8, 8), 7.6901128, 150.80849),
    ("C3k2", (16, 32, 1, False, 0.25), (1, 16, 8, 8), 1720, 24, "cv2.conv.weight", (32, 24, 1, 1), (1, 32, 8, 8), 6.5253884, 126.72034),
    ("C3k2", (32, 32, 2, True), (1, 32, 8, 6), 9088, 96, "cv2.conv.weight", (32, 64, 1, 1), (1, 32, 8, 6), 4.1002294, 100.98395),
    ("C3k2", (64, 64, 1, True, 0.5, True), (1, 64, 8, 8), 27712, 54, "cv2.conv.weight", (64, 96, 1, 1), (1, 64, 8, 8), 43.871594, 396.33332),
    ("C3k", (16, 24, 2, True, 1, 0.5, 5), (1, 16, 8, 8), 15552, 42, "m.1.cv2.conv.weight", (12, 12, 5, 5), (1, 24, 8, 8), 32.101366, 96.853801),
    ("C2PSA", (64, 64, 1), (1, 64, 4, 4), 16352, 42, "cv2.conv.weight", (64, 64, 1, 1), (1, 64, 4, 4), 7.8567542, 84.68126),
    ("C2PSA", (256, 256, 1), (1, 256, 4, 3), 249728, 42, "cv2.conv.weight", (256, 256, 1, 1), (1, 256, 4, 3), 161.413, 606.05822),
    ("C2fPSA", (128, 128, 1), (1, 128, 4, 4), 71616, 42, "cv2.conv.weight", (128, 192, 1, 1), (1, 128, 4, 4), 51.130728, 265.04104),
    ("PSA", (128, 128), (1, 128, 5, 4), 63424, 42, "cv2.conv.weight", (128, 128, 1, 1), (1, 128, 5, 4), 72.943335, 355.29572),
    ("SCDown", (32, 64, 3, 2), (1, 32, 9, 9), 2880, 12, "cv1.conv.weight", (64, 32, 1, 1), (1, 64, 5, 5), -1.984111, 202.24431),
    ("C2fCIB", (32, 32, 1, True), (1, 32, 8, 8), 4512, 42, "cv2.conv.weight", (32, 48, 1, 1), (1, 32, 8, 8), 7.1098788, 137.77333),
    ("C2fCIB", (32, 48, 1, True, True), (1, 32, 8, 8), 11136, 48, "cv2.conv.weight", (48, 72, 1, 1), (1, 48, 8, 8), 13.334154, 183.15091),
    ("A2C2f", (64, 64, 1, True, 4), (1, 64, 8, 8), 26880, 72, "cv2.conv.weight", (64, 64, 1, 1), (1, 64, 8, 8), 43.084266, 367.11288),
    (
        "A2C2f",
        (128, 128, 1, True, 2, True, 1.2),
        (1, 128, 6, 5),
        85424,
        73,
        "cv2.conv.weight",
        (128, 128, 1, 1),
        (1, 128, 6, 5),
        -31.60739,
        2443.7648,
    ),
    ("A2C2f", (96, 64, 1, False, -1), (1, 96, 8, 8), 18880, 54, "cv2.conv.weight", (64, 64, 1, 1), (1, 64, 8, 8), 18.905247, 276.4584),
    ("SPPF", (32, 32, 5), (1, 32, 10, 10), 2656, 12, "cv2.conv.weight", (32, 64, 1, 1), (1, 32, 10, 10), 10.680121, 219.36813),
    ("SPPF", (32, 32, 5, 3), (1, 32, 10, 10), 2656, 12, "cv2.conv.weight", (32, 64, 1, 1), (1, 32, 10, 10), 15.274215, 243.75837),
    ("SPPF", (32, 32, 3, 2, True), (1, 32, 10, 10), 2144, 12, "cv2.conv.weight", (32, 48, 1, 1), (1, 32, 10, 10), 15.675954, 2044.5842),
    ("C1", (16, 32, 2), (1, 16, 8, 8), 19136, 18, "m.1.conv.weight", (32, 32, 3, 3), (1, 32, 8, 8), 15.813323, 245.71697),
    ("C2", (32, 48, 2), (1, 32, 8, 8), 24960, 36, "m.1.cv2.conv.weight", (24, 24, 3, 3), (1, 48, 8, 8), 12.49701, 204.29572),
    ("Bottleneck", (16, 16), (1, 16, 8, 8), 2352, 12, "cv2.conv.weight", (16, 8, 3, 3), (1, 16, 8, 8), 15.271842, 654.18543),
    ("Bottleneck", (16, 24, False, 1, (1, 3), 0.5), (1, 16, 8, 8), 2856, 12, "cv2.conv.weight", (24, 12, 3, 3), (1, 24, 8, 8), 23.568113, 95.902731),
    ("BottleneckCSP", (32, 48, 2), (1, 32, 8, 8), 25584, 43, "m.1.cv2.conv.weight", (24, 24, 3, 3), (1, 48, 8, 8), 28.322187, 212.45005),
    ("ConvTranspose", (16, 8, 2, 2), (1, 16, 5, 5), 528, 6, "conv_transpose.weight", (16, 8, 2, 2), (1, 8, 10, 10), -0.20150656, 48.480617),
    ("Conv2", (16, 32, 3, 2), (1, 16, 9, 9), 5184, 7, "conv.weight", (32, 16, 3, 3), (1, 32, 5, 5), 0.72610826, 50.850008),
    ("LightConv", (16, 32, 3), (1, 16, 9, 9), 928, 12, "conv1.conv.weight", (32, 16, 1, 1), (1, 32, 9, 9), 156.40075, 156.40075),
    ("y5:C3", (32, 48, 2, False), (1, 32, 8, 8), 15744, 42, "m.1.cv2.conv.weight", (24, 24, 3, 3), (1, 48, 8, 8), 13.684901, 196.38419),
    ("y5:C3x", (32, 32, 2), (1, 32, 8, 8), 5376, 42, "cv3.conv.weight", (32, 32, 1, 1), (1, 32, 8, 8), 5.9269582, 100.43015),
    ("y5:C3Ghost", (32, 64, 2), (1, 32, 8, 8), 8816, 66, "cv3.conv.weight", (64, 64, 1, 1), (1, 64, 8, 8), 30.795279, 301.38014),
    ("y5:C3TR", (64, 64, 1), (1, 64, 4, 4), 18848, 29, "cv3.conv.weight", (64, 64, 1, 1), (1, 64, 4, 4), 9.5761813, 85.624384),
    ("y5:GhostConv", (16, 32, 3, 2), (1, 16, 9, 9), 2768, 12, "cv1.conv.weight", (16, 16, 3, 3), (1, 32, 5, 5), 2.1505201, 49.961383),
    ("y5:GhostBottleneck", (16, 32, 3, 2), (1, 16, 9, 9), 2008, 42, "shortcut.1.conv.weight", (32, 16, 1, 1), (1, 32, 5, 5), -11.249142, 190.87697),
    ("y5:SPP", (32, 48, (5, 9, 13)), (1, 32, 10, 10), 3712, 12, "cv2.conv.weight", (48, 64, 1, 1), (1, 48, 10, 10), 16.632271, 328.92688),
    ("y5:DWConv", (32, 64, 3, 2, 1, False), (1, 32, 9, 9), 704, 6, "conv.weight", (64, 1, 3, 3), (1, 64, 5, 5), -4.6600321, 216.49471),
    ("y5:Conv", (16, 32, 3, 2), (1, 16, 9, 9), 4672, 6, "conv.weight", (32, 16, 3, 3), (1, 32, 5, 5), 2.4111944, 51.039432),
    ("y5:Focus", (3, 16, 3), (1, 3, 8, 8), 1760, 6, "conv.conv.weight", (16, 12, 3, 3), (1, 16, 4, 4), 0.73643223, 16.053041),
]


@pytest.mark.parametrize(("name", "args", "shape", "params", "entries", "key", "key_shape", "out_shape", "total", "abs_total"), MEASURED)
def test_block_equals_package(
    name: str,
    args: tuple[Any, ...],
    shape: tuple[int, ...],
    params: int,
    entries: int,
    key: str,
    key_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    total: float,
    abs_total: float,
) -> None:
    torch.manual_seed(0)
    m = fill(make(name, args)).eval()
    sd = m.state_dict()
    assert n_params(m) == params
    assert len(sd) == entries
    assert tuple(sd[key].shape) == key_shape
    with torch.no_grad():
        y = m(probe(shape)).double()
    assert tuple(y.shape) == out_shape
    assert y.sum().item() == pytest.approx(total, rel=1e-5, abs=1e-4)
    assert y.abs().sum().item() == pytest.approx(abs_total, rel=1e-5)


# Keys inside the attention and inner blocks, with shapes measured from the package.
INNER_KEYS = [
    ("C2PSA", (256, 256, 1), "m.0.attn.qkv.conv.weight", (256, 128, 1, 1)),  # 2 heads, key dim 32: 128 + 2 * 64
    ("C2PSA", (256, 256, 1), "m.0.attn.pe.conv.weight", (128, 1, 3, 3)),
    ("C2PSA", (256, 256, 1), "m.0.ffn.1.conv.weight", (128, 256, 1, 1)),
    ("PSA", (128, 128), "attn.qkv.conv.weight", (128, 64, 1, 1)),
    ("C3k2", (64, 64, 1, True, 0.5, True), "m.0.0.cv1.conv.weight", (16, 32, 3, 3)),
    ("C3k2", (64, 64, 1, True, 0.5, True), "m.0.1.attn.qkv.conv.weight", (64, 32, 1, 1)),
    ("C3k2", (32, 32, 2, True), "m.1.m.1.cv1.conv.weight", (8, 8, 3, 3)),
    ("C2fCIB", (32, 48, 1, True, True), "m.0.cv1.2.conv.conv.weight", (48, 1, 7, 7)),
    ("C2fCIB", (32, 48, 1, True, True), "m.0.cv1.2.conv1.conv.weight", (48, 1, 3, 3)),
    ("A2C2f", (128, 128, 1, True, 2, True, 1.2), "gamma", (128,)),
    ("A2C2f", (128, 128, 1, True, 2, True, 1.2), "m.0.1.attn.qkv.conv.weight", (192, 64, 1, 1)),
    ("A2C2f", (128, 128, 1, True, 2, True, 1.2), "m.0.1.attn.pe.conv.weight", (64, 1, 7, 7)),
    ("A2C2f", (128, 128, 1, True, 2, True, 1.2), "m.0.0.mlp.0.conv.weight", (76, 64, 1, 1)),  # int(64 * 1.2)
    ("A2C2f", (96, 64, 1, False, -1), "m.0.m.0.cv1.conv.weight", (16, 16, 3, 3)),  # C3k(32, 32) inside
    ("SPPF", (32, 32, 3, 2, True), "cv2.conv.weight", (32, 48, 1, 1)),
]


@pytest.mark.parametrize(("name", "args", "key", "shape"), INNER_KEYS)
def test_inner_keys(name: str, args: tuple[Any, ...], key: str, shape: tuple[int, ...]) -> None:
    with torch.device("meta"):
        sd = make(name, args).state_dict()
    assert tuple(sd[key].shape) == shape


def test_attention_heads_follow_the_channels() -> None:
    """PSA attention: one head per 64 channels (at least one), key dim half the head dim; area attention: 32
    channels per head (values measured from the package's modules)."""
    a = layers.C2PSA(512, 512).m[0].attn
    assert (a.heads, a.value_dim, a.query_dim) == (4, 64, 32)
    a = layers.C2PSA(64, 64).m[0].attn
    assert (a.heads, a.value_dim, a.query_dim) == (1, 32, 16)
    aa = layers.A2C2f(384, 384, 1, True, 4).m[0][0].attn
    assert (aa.heads, aa.head_dim, aa.area) == (6, 32, 4)


def test_sppf_first_conv_activation_follows_the_row() -> None:
    """The package gives a [c2, k] row (YOLOv8/YOLO11) an activated first conv, a [c2, k, n, ...] row none."""
    assert isinstance(layers.SPPF(64, 64, 5).cv1.act, nn.SiLU)
    assert isinstance(layers.SPPF(64, 64, 5, 3).cv1.act, nn.Identity)
    assert layers.SPPF(64, 64, 5).pools == 3
    assert n_params(layers.SPPF(64, 64, 5)) == n_params(layers.SPPF(64, 64, 5, 3)) == 10432


def test_area_attention_block_initialisation() -> None:
    """Area-attention blocks' convs start from a normal of std 0.02 (truncated at +-2); A2C2f's gamma at 0.01.
    With the same seed the first weights equal the package's (values measured with torch.manual_seed(0))."""
    torch.manual_seed(0)
    m = layers.A2C2f(128, 128, 1, True, 1, True)
    w = m.m[0][0].attn.qkv.conv.weight.detach().flatten()
    assert w[:3].tolist() == pytest.approx([0.014367439784109592, 0.019094590097665787, -0.012192734517157078], abs=1e-7)
    assert w.std().item() == pytest.approx(0.020118268206715584, rel=1e-4)
    w = m.m[0][1].mlp[1].conv.weight.detach().flatten()
    assert w[:3].tolist() == pytest.approx([0.02664518542587757, 0.04181641340255737, 0.009859838522970676], abs=1e-7)
    assert torch.equal(m.gamma.detach(), torch.full((128,), 0.01))


def test_invalid_channel_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        layers.A2C2f(96, 96, 1, True, 4)  # hidden 48
    with pytest.raises(ValueError, match="multiple of 32"):
        layers.A2C2f(64, 96, 1, False)  # the package refuses it without attention too
    with pytest.raises(ValueError, match="equal input and output"):
        layers.C2PSA(64, 128)
    with pytest.raises(ValueError, match="do not divide"):
        attention.Attention(200, 3)


@pytest.mark.parametrize(
    ("block", "c1"),
    [(lambda: layers.RepVGGDW(16), 16), (lambda: layers.Conv2(16, 32, 3, 2), 16), (lambda: layers.C2fCIB(32, 32, 1, True, True), 32)],
)
def test_fuse_keeps_eval_outputs(block: Any, c1: int) -> None:
    m = fill(block()).eval()
    x = probe((1, c1, 9, 9))
    with torch.no_grad():
        before = m(x)
        for sub in list(m.modules()):
            if isinstance(sub, (layers.RepVGGDW, layers.Conv2)):
                sub.fuse()
        after = m(x)
    assert all(sub.conv1 is None for sub in m.modules() if isinstance(sub, layers.RepVGGDW))
    assert all(sub.cv2 is None for sub in m.modules() if isinstance(sub, layers.Conv2))
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-5)


# --- declarations ----------------------------------------------------------------------------------------------

# YAML arguments per declared block (c1 is filled: 64 channels arrive), and the channels/stride that follow.
DECLARED = {
    "Bottleneck": ([96, False, 1, [1, 3], 0.5], 96, 1),
    "BottleneckCSP": ([96], 96, 1),
    "SPPF": ([96, 5], 96, 1),
    "C1": ([96], 96, 1),
    "C2": ([96, False], 96, 1),
    "C2f": ([96, True], 96, 1),
    "C3k2": ([96, True, 0.5, True], 96, 1),
    "C3k": ([96, True, 1, 0.5, 5], 96, 1),
    "C2PSA": ([64], 64, 1),
    "C2fPSA": ([64], 64, 1),
    "PSA": ([64], 64, 1),
    "SCDown": ([128, 3, 2], 128, 2),
    "C2fCIB": ([96, True, True], 96, 1),
    "A2C2f": ([128, True, 4], 128, 1),
    "ConvTranspose": ([32, 2, 2], 32, Fraction(1, 2)),
}


def bound_args(decl: registry.BlockDecl, given: list[Any], c1: int, n: int = 2) -> dict[str, Any]:
    out: dict[str, Any] = {}
    yaml_args = iter(given)
    for a in decl.args:
        if a.fill == registry.FILL_C1:
            out[a.name] = c1
        elif a.fill == registry.FILL_N:
            out[a.name] = n
        else:
            out[a.name] = next(yaml_args, a.default)
    return out


def test_every_block_of_the_package_is_declared() -> None:
    own = {d.name for d in registry.declarations(UL) if d.dialect == UL and d.source == "blocks.ultralytics.layers"}
    assert own == set(DECLARED)
    # the YOLOv5 layers measured identical serve the Ultralytics dialect through their shared declarations
    for name in ("Conv", "DWConv", "GhostConv", "GhostBottleneck", "SPP", "C3", "C3x", "C3TR", "C3Ghost", "Focus", "Concat"):
        decl = registry.lookup(name, UL)
        assert decl is not None and decl.dialect is None and decl.impl.startswith("blocks.yolov5.common:")
    assert registry.lookup("SPPF", UL).impl == "blocks.ultralytics.layers:SPPF"  # type: ignore[union-attr]
    assert registry.lookup("SPPF", "yolov5").impl == "blocks.yolov5.common:SPPF"  # type: ignore[union-attr]
    assert registry.lookup("C2f", "yolov5") is None


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_declaration_agrees_with_a_meta_forward(name: str) -> None:
    given, channels, stride = DECLARED[name]
    decl = registry.lookup(name, UL)
    assert decl is not None and decl.dialect == UL
    b = bound_args(decl, given, 64)
    assert decl.out_channels is not None
    assert decl.out_channels(64, b) == channels
    assert decl.stride_of(b) == stride
    kwargs = {a.name: b[a.name] for a in decl.args if a.to_constructor}
    with torch.device("meta"):
        m = registry.load_impl(decl)(**kwargs)
        y = m(torch.empty(1, 64, 32, 32))
    assert y.shape[1] == channels
    assert Fraction(32, y.shape[2]) == stride


def test_scale_args_measured_from_the_package() -> None:
    """C3k2 takes C3k inner blocks at scales m/l/x; A2C2f is residual with mlp_ratio 1.2 at l/x."""
    c3k2 = registry.lookup("C3k2", UL)
    a2c2f = registry.lookup("A2C2f", UL)
    assert c3k2 is not None and c3k2.scale_args is not None and a2c2f is not None and a2c2f.scale_args is not None
    for scale, want in [("n", False), ("s", False), ("m", True), ("l", True), ("x", True), (None, False)]:
        b = c3k2.scale_args(bound_args(c3k2, [256, False], 128), Scaling(dialect=UL, scale=scale))
        assert b["c3k"] is want
    for scale, residual, ratio in [("n", False, 2.0), ("m", False, 2.0), ("l", True, 1.2), ("x", True, 1.2)]:
        b = a2c2f.scale_args(bound_args(a2c2f, [512, True, 4], 256), Scaling(dialect=UL, scale=scale))
        assert (b["residual"], b["mlp_ratio"]) == (residual, ratio)


def test_area_attention_size_rule() -> None:
    decl = registry.lookup("A2C2f", UL)
    assert decl is not None and len(decl.sizes) == 1
    rule = decl.sizes[0]
    assert [rule.multiple({"a2": True, "area": a}) for a in (1, 2, 4, 9, 8)] == [1, 2, 2, 3, 4]
    assert rule.multiple({"a2": False, "area": 4}) == 1


HEADER = "nc: 80\ndialect: ultralytics\nbackbone:\n  - [-1, 1, Conv, [64, 3, 2]]\n"
CHANNEL_CASES = [
    # row, code, line:column of c2, message part; the package refuses each of these (assertion or forward error)
    ("  - [-1, 1, C2PSA, [400]]", "YN301", (5, 21), "c2 (400 after scaling) must equal the 64 channels"),
    ("  - [-1, 1, Conv, [400, 1, 1]]\n  - [-1, 1, C2PSA, [400]]", "YN303", (6, 21), "3 attention heads (one per 64 channels) do not divide its 200"),
    ("  - [-1, 1, Conv, [400, 1, 1]]\n  - [-1, 1, PSA, [400]]", "YN303", (6, 19), "do not divide its 200"),
    ("  - [-1, 1, C3k2, [400, False, 0.5, True]]", "YN303", (5, 20), "3 attention heads"),
    ("  - [-1, 1, A2C2f, [96, True, 4]]", "YN303", (5, 21), "c2 x e (48) to be a multiple of 32"),
    ("  - [-1, 1, A2C2f, [96, False]]", "YN303", (5, 21), "c2 x e (48) to be a multiple of 32"),
]


@pytest.mark.parametrize(("rows", "code", "where", "message"), CHANNEL_CASES)
def test_attention_channel_rules(tmp_path: Path, rows: str, code: str, where: tuple[int, int], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + rows + "\nhead: []\n")
    report = yamlnet.analyze(path)
    found = [d for d in report.diagnostics if d.code == code]
    assert len(found) == 1, report.render()
    assert (found[0].span.line, found[0].span.column) == where
    assert message in found[0].message


# g must divide what the inner Bottlenecks' grouped convs split; the package's torch refuses the rest
# (rows measured with the package: each "refused" one raises, each "accepted" one builds and runs).
GROUP_CASES = [
    ("  - [-1, 1, C2f, [64, True, 3]]", "hidden channels (c2 x e) (32)"),
    ("  - [-1, 1, C2, [48, True, 5]]", "hidden channels (c2 x e) (24)"),
    ("  - [-1, 1, C3k2, [64, False, 0.5, False, 32]]", "half the hidden channels (c2 x e / 2) (16)"),
    ("  - [-1, 1, C3k2, [64, True, 0.5, False, 32]]", "half the hidden channels (c2 x e / 2) (16)"),
    ("  - [-1, 1, A2C2f, [64, False, 1, False, 2.0, 0.5, 32]]", "half the hidden channels (c2 x e / 2) (16)"),
    ("  - [-1, 1, C2fCIB, [64, True, False, 7]]", "hidden channels (c2 x e) (32)"),
]
GROUPS_ACCEPTED = [
    "  - [-1, 1, C2f, [48, True, 4]]",
    "  - [-1, 1, C2, [48, True, 3]]",
    "  - [-1, 1, C3k2, [64, False, 0.5, False, 4]]",
    "  - [-1, 1, C3k2, [96, False, 0.5, False, 3]]",
    "  - [-1, 1, C3k2, [64, True, 0.5, False, 16]]",
    "  - [-1, 1, A2C2f, [64, False, 1, False, 2.0, 0.5, 8]]",
    "  - [-1, 1, A2C2f, [64, True, 1, False, 2.0, 0.5, 7]]",
]


@pytest.mark.parametrize(("row", "what"), GROUP_CASES)
def test_groups_of_inner_convs_are_checked(tmp_path: Path, row: str, what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + row + "\nhead: []\n")
    found = [d for d in yamlnet.analyze(path).diagnostics if d.code == "YN303"]
    assert len(found) == 1 and what in found[0].message, [d.message for d in found]
    assert found[0].span.line == 5


@pytest.mark.parametrize("row", GROUPS_ACCEPTED)
def test_groups_that_work_build(tmp_path: Path, row: str) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(HEADER + row + "\nhead: []\n")
    report = yamlnet.analyze(path)
    assert report.ok, report.render()
    model = yamlnet.build(path, device="meta")
    assert model(torch.empty(1, 3, 32, 32, device="meta")).shape[1] == int(row.split("[")[2].split(",")[0])


def test_attention_channels_that_work_validate(tmp_path: Path) -> None:
    """No false alarms: valid attention widths, A2C2f with C3k inside (parameters measured with parse_model)."""
    path = tmp_path / "good.yaml"
    rows = (
        "  - [-1, 1, A2C2f, [64, False, 4]]\n"
        "  - [-1, 1, C3k2, [384, False, 0.5, True]]\n"
        "  - [-1, 1, PSA, [384]]\n"
        "  - [-1, 1, A2C2f, [128, True, 4]]\n"
    )
    path.write_text(HEADER + rows + "head: []\n")
    report = yamlnet.analyze(path)
    assert report.ok, report.render()
    model = yamlnet.build(path, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 1535936
    assert list(model(torch.empty(1, 3, 64, 64, device="meta")).shape) == [1, 128, 32, 32]


# --- whole specs of these blocks (no head), per-row parameters measured with the package's parse_model ---------

SPEC_A = """nc: 80
dialect: ultralytics
scales:
  n: [0.50, 0.25, 1024]
  l: [1.00, 1.00, 512]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 2, C3k2, [256, False, 0.25]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 4, A2C2f, [256, True, 4]]
  - [-1, 1, SPPF, [256, 5]]
  - [-1, 2, C2PSA, [256]]
head: []
"""
SPEC_B = """nc: 80
dialect: ultralytics
scales:
  n: [0.33, 0.25, 1024]
  m: [0.67, 0.75, 768]
  x: [1.00, 1.25, 512]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, SCDown, [128, 3, 2]]
  - [-1, 3, C2fCIB, [128, True, True]]
  - [-1, 3, C2f, [128, True]]
  - [-1, 1, PSA, [128]]
  - [-1, 3, C2, [128, False]]
  - [-1, 2, Bottleneck, [128, False]]
  - [-1, 1, SPPF, [128, 5, 3, True]]
  - [-1, 1, DWConv, [128, 3, 2, 1, False]]
  - [-1, 2, C3k2, [128, True, 0.5, True]]
  - [-1, 1, SPP, [128, [5, 9, 13]]]
  - [-1, 3, C3Ghost, [128]]
  - [-1, 1, GhostConv, [128, 3, 2]]
  - [-1, 3, C3, [128]]
  - [-1, 2, C3k2, [256, False, 0.25]]
head: []
"""
ROW_PARAMS = {
    ("A", "n"): ([464, 4672, 6640, 36992, 49472, 10432, 16352], [1, 64, 8, 12]),
    ("A", "l"): ([1856, 73984, 173824, 590336, 1100176, 164608, 367360], [1, 256, 8, 12]),
    ("B", "n"): ([464, 928, 6144, 7360, 4336, 6848, 9312, 2656, 352, 7200, 2656, 2652, 5072, 4800, 6640], [1, 64, 4, 6]),
    (
        "B",
        "m",
    ): ([1392, 5856, 61056, 111360, 36048, 102144, 83232, 23328, 1056, 61536, 23328, 23208, 42864, 65280, 63168], [1, 192, 4, 6]),
    (
        "B",
        "x",
    ): ([2320, 14880, 203520, 436800, 98480, 398400, 461760, 64480, 1760, 286400, 64480, 66660, 117520, 244800, 271040], [1, 320, 4, 6]),
}


@pytest.mark.parametrize(("spec", "scale"), sorted(ROW_PARAMS))
def test_spec_rows_match_the_package(tmp_path: Path, spec: str, scale: str) -> None:
    path = tmp_path / f"ul-{spec}.yaml"
    path.write_text(SPEC_A if spec == "A" else SPEC_B)
    rows, out_shape = ROW_PARAMS[(spec, scale)]
    model = yamlnet.build(path, scale=scale, device="meta")
    assert [model.row_params[i] for i in range(len(rows))] == rows
    assert sum(p.numel() for p in model.parameters()) == sum(rows)
    assert list(model(torch.empty(1, 3, 64, 96, device="meta")).shape) == out_shape


def test_cli_lists_blocks_of_both_dialects(capsys: pytest.CaptureFixture[str]) -> None:
    from yamlnet.cli import main

    assert main(["blocks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines if ln.startswith("SPPF[")] == ["SPPF[c2,", "SPPF[c2,"]
    assert any(ln.startswith("C3k2[c2, c3k=False, e=0.5, attn=False, g=1, shortcut=True]") and "[ultralytics]" in ln for ln in lines)
    assert main(["blocks", "SPPF"]) == 0
    out = capsys.readouterr().out
    assert "SPPF[c2, k=5]\n" in out and "SPPF[c2, k=5, n=None, shortcut=False] [ultralytics]\n" in out
