"""The seed specs in specs/ (EMO, EfficientViT, RIFormer, MobileOne, MobileViT) and their other spellings.

Checks: seed 001's parameter table; every seed spec builds, validates and runs at 640x640 and 640x384 with the
statically inferred channels/strides equal to a real forward's; the seeds' slot numbering, explicit taps and
Ultralytics' `Index` rows compile to the same graph; missing taps are YN205 listing the taps; deploy fusion
keeps outputs; a backbone-only spec returns its taps.

"Same graph" across spellings is defined by `canonical_graph`: the rows that have a module (Index rows have
none), in order, each with its block, depth, bound arguments, inputs (as canonical row ordinal + tap, with an
Index row replaced by the tap it picks), output port and taps. Index rows shift positions, so state_dicts are
compared after remapping `model.{position}` through the same ordinals.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import yamlnet
from yamlnet.graph.ir import INPUT, IR, PortRef

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
YOLOV5S = ROOT.parent / "shared" / "reference" / "yolov5" / "yolov5s.yaml"

SEEDS = ["emo", "efficientvit", "riformer", "mobileone", "mobilevit"]
SPELLINGS = {  # seed spec -> its other spellings (same graph)
    "emo": ["taps", "index"],
    "efficientvit": ["taps", "index"],
    "riformer": ["taps", "index"],
    "mobileone": ["taps", "index"],
    "mobilevit": ["taps"],
}
NC = {"emo": 80, "efficientvit": 80, "riformer": 80, "mobileone": 80, "mobilevit": 1}
PARAMS = {  # built parameter counts (EfficientViT's is seed 001's printed total)
    "emo": 2_144_365,
    "efficientvit": 3_131_677,
    "riformer": 12_691_325,
    "mobileone": 6_197_085,
    "mobilevit": 2_052_214,
}
# row 0's taps as the declarations state them: name -> (channels, stride)
TAPS = {
    "emo": {"P1": (24, 2), "P2": (32, 4), "P3": (48, 8), "P4": (80, 16), "P5": (168, 32)},
    "efficientvit": {"P3": (64, 8), "P4": (128, 16), "P5": (192, 32)},
    "riformer": {"P2": (64, 4), "P3": (128, 8), "P4": (320, 16), "P5": (512, 32)},
    "mobileone": {"P1": (48, 2), "P2": (48, 4), "P3": (128, 8), "P4": (256, 16), "P5": (1024, 32)},
}
# seed 001's printed table, rows 0..16
EFFICIENTVIT_ROWS = [2155680, 117440, 33024, 0, 0, 90880, 8320, 0, 0, 22912, 36992, 0, 74496, 147712, 0, 329216, 115005]
EFFICIENTVIT_FUSED_YOLOV5 = 3_129_213  # seed 001's "Fusing layers..." summary: YOLOv5's Conv+BN only
EFFICIENTVIT_FUSED_ALL = 3_115_077  # also EfficientViT's Conv2d_BN folded (measured)
SIZES = [(640, 640), (640, 384)]  # (height, width)


def spec_path(seed: str, spelling: str = "") -> Path:
    return SPECS / (f"yolov5-{seed}-{spelling}.yaml" if spelling else f"yolov5-{seed}.yaml")


def randomize_norms(model: nn.Module, seed: int = 0) -> None:
    """BatchNorm running stats and affine parameters away from their init, so that folding them matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=g) * 0.6 + 0.4)
                    m.bias.copy_(torch.randn(n, generator=g) * 0.1)


def analyze_ok(path: Path | str) -> IR:
    report = yamlnet.analyze(path)
    assert report.ok, report.render()
    assert report.ir is not None
    return report.ir


# ---------------------------------------------------------------------------------------------------------
# "Same graph": a canonical form that ignores how rows are numbered and spelled.


def _ordinals(ir: IR) -> dict[int, int]:
    """position -> ordinal among the rows that have a module (Index rows have none)."""
    out: dict[int, int] = {}
    for pos, node in ir.nodes.items():
        if node.decl.name != "Index":
            out[pos] = len(out)
    return out


def _canon_port(ir: IR, ref: PortRef, ordinal: dict[int, int]) -> tuple[Any, ...]:
    if ref.node == INPUT:
        return ("input",)
    node = ir.nodes[ref.node]
    if node.decl.name == "Index":
        return _canon_port(ir, node.inputs[0], ordinal)
    return (ordinal[ref.node], ref.tap)


def canonical_graph(ir: IR) -> list[tuple[Any, ...]]:
    ordinal = _ordinals(ir)
    rows = []
    for node in ir.nodes.values():
        if node.decl.name == "Index":
            continue
        rows.append(
            (
                node.decl.name,
                node.n,
                repr(sorted(node.bound.items())),
                [_canon_port(ir, p, ordinal) for p in node.inputs],
                (node.out.channels, node.out.stride),
                [(k, p.channels, p.stride) for k, p in node.taps.items()],
            )
        )
    outputs = [_canon_port(ir, o, ordinal) for o in ir.outputs]
    return rows + [("outputs", outputs)]


def remap_state_dict(sd: dict[str, torch.Tensor], src: IR, dst: IR) -> dict[str, torch.Tensor]:
    """Move `model.{p}.…` keys from src's positions to dst's, row by row through the canonical ordinals."""
    to_ordinal = _ordinals(src)
    from_ordinal = {o: p for p, o in _ordinals(dst).items()}
    out = {}
    for k, v in sd.items():
        m = re.match(r"model\.(\d+)\.(.*)", k)
        assert m, k
        out[f"model.{from_ordinal[to_ordinal[int(m.group(1))]]}.{m.group(2)}"] = v
    return out


def canonical_row_params(ir: IR, row_params: dict[int, int]) -> list[int]:
    return [row_params[p] for p in _ordinals(ir)]


# ---------------------------------------------------------------------------------------------------------
# Seed 001: the EfficientViT spec, its table and its fusion.


def test_efficientvit_seed_table_and_fusion() -> None:
    model = yamlnet.build(spec_path("efficientvit"))
    assert model.n_params == 3_131_677
    assert [model.row_params[p] for p in range(17)] == EFFICIENTVIT_ROWS
    randomize_norms(model)
    model.eval()
    x = torch.randn(1, 3, 128, 160, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x)
        model.fuse(backbones=False)  # YOLOv5's own fuse(): Conv+BN of the YOLOv5 layers only
        assert model.n_params == EFFICIENTVIT_FUSED_YOLOV5
        assert_close_outputs(ref, model(x))
        model.fuse()  # then everything, EfficientViT's Conv2d_BN included
        assert model.n_params == EFFICIENTVIT_FUSED_ALL < EFFICIENTVIT_FUSED_YOLOV5
        assert_close_outputs(ref, model(x))
    fresh = yamlnet.build(spec_path("efficientvit"))
    fresh.eval().fuse()
    assert fresh.n_params == EFFICIENTVIT_FUSED_ALL


def assert_close_outputs(a: Any, b: Any, rel: float = 1e-4) -> None:
    """Detect's eval output (decoded boxes, per-level maps) or a list of feature maps: each tensor within
    `rel` of its own largest magnitude."""
    ta, tb = _tensors(a), _tensors(b)
    assert len(ta) == len(tb)
    for u, v in zip(ta, tb):
        assert u.shape == v.shape
        err = (u - v).abs().max().item()
        assert err <= rel * max(u.abs().max().item(), 1e-6), (err, u.abs().max().item())


def _tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    return [t for item in x for t in _tensors(item)]


# ---------------------------------------------------------------------------------------------------------
# Every seed spec: static analysis, validation, and real forwards at 640x640 and 640x384.


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_spec_validates(seed: str) -> None:
    path = spec_path(seed)
    for size in (640, "640x384"):
        report = yamlnet.validate(path, imgsz=size)
        assert report.ok and not report.warnings, report.render()
    ir = analyze_ok(path)
    if seed in TAPS:
        assert ir.numbering == "seeds"
        assert {k: (p.channels, int(p.stride)) for k, p in ir.nodes[0].taps.items()} == TAPS[seed]
    else:
        assert ir.numbering == "rows" and not ir.nodes[0].multi


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_spec_forward_matches_static_ports(seed: str) -> None:
    """One eval forward per size; every row's real output equals the channels/strides inferred statically
    (for the backbone in row 0: each tap, from the IR's `taps`)."""
    path = spec_path(seed)
    ir = analyze_ok(path)
    model = yamlnet.build(path).eval()
    assert model.n_params == PARAMS[seed]
    assert model.stride.tolist() == [8.0, 16.0, 32.0]
    seen: dict[int, Any] = {}
    for pos in ir.nodes:
        if ir.nodes[pos].decl.name != "Index":
            model.get_submodule(f"model.{pos}").register_forward_hook(lambda m, i, o, pos=pos: seen.__setitem__(pos, o))
    no = NC[seed] + 5
    for h, w in SIZES:
        seen.clear()
        with torch.no_grad():
            boxes, levels = model(torch.zeros(1, 3, h, w))
        assert boxes.shape == (1, 3 * sum((h // s) * (w // s) for s in (8, 16, 32)), no)
        assert [tuple(t.shape) for t in levels] == [(1, 3, h // s, w // s, no) for s in (8, 16, 32)]
        for pos, node in ir.nodes.items():
            if node.decl.role == "head":
                continue
            out = seen[pos]
            if node.multi:
                assert isinstance(out, (list, tuple)) and len(out) == len(node.taps)
                got = [(t.shape[1], Fraction(h, t.shape[2]), Fraction(w, t.shape[3])) for t in out]
                assert got == [(p.channels, p.stride, p.stride) for p in node.taps.values()], (seed, pos)
            else:
                assert (out.shape[1], Fraction(h, out.shape[2]), Fraction(w, out.shape[3])) == (
                    node.out.channels,
                    node.out.stride,
                    node.out.stride,
                ), (seed, pos, node.row.module)


# ---------------------------------------------------------------------------------------------------------
# The three spellings: the same graph, parameters and outputs.


@pytest.mark.parametrize("seed,spelling", [(s, v) for s, vs in SPELLINGS.items() for v in vs])
def test_spellings_give_the_same_graph(seed: str, spelling: str) -> None:
    base_ir = analyze_ok(spec_path(seed))
    other_ir = analyze_ok(spec_path(seed, spelling))
    assert canonical_graph(other_ir) == canonical_graph(base_ir)
    if spelling == "index":
        assert other_ir.numbering == "rows"
        assert sum(n.decl.name == "Index" for n in other_ir.nodes.values()) == 3
    else:
        assert other_ir.numbering == base_ir.numbering
        assert list(other_ir.nodes) == list(base_ir.nodes)  # same positions: same state_dict keys

    torch.manual_seed(0)
    base = yamlnet.build(spec_path(seed))
    other = yamlnet.build(spec_path(seed, spelling))
    assert base.n_params == other.n_params == PARAMS[seed]
    assert canonical_row_params(other_ir, other.row_params) == canonical_row_params(base_ir, base.row_params)

    randomize_norms(base)
    sd = remap_state_dict(base.state_dict(), base_ir, other_ir)
    if spelling != "index":
        assert sd.keys() == base.state_dict().keys()
    other.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = base.eval()(x), other.eval()(x)
    for u, v in zip(_tensors(a), _tensors(b)):
        assert torch.equal(u, v)


def test_index_spelling_renumbers_the_head() -> None:
    """Seed index i >= 5 is index i - 1 with three Index rows; the backbone's slots become rows 1..3."""
    seed_ir = analyze_ok(spec_path("efficientvit"))
    index_ir = analyze_ok(spec_path("efficientvit", "index"))
    assert [n.index for n in seed_ir.nodes.values()] == [0] + list(range(5, 21))
    assert [n.index for n in index_ir.nodes.values()] == list(range(20))
    detect = index_ir.nodes[19]
    assert detect.decl.name == "Detect" and [p.node for p in detect.inputs] == [12, 15, 18]
    assert [(n.inputs[0], n.out.channels) for n in index_ir.nodes.values() if n.decl.name == "Index"] == [
        (PortRef(0, "P3"), 64),
        (PortRef(0, "P4"), 128),
        (PortRef(0, "P5"), 192),
    ]


# ---------------------------------------------------------------------------------------------------------
# Taps that do not exist.


def _codes_and_help(text: str, tmp_path: Path) -> list[tuple[str, str]]:
    f = tmp_path / "spec.yaml"
    f.write_text(text)
    report = yamlnet.analyze(f)
    return [(d.code, d.help or "") for d in report.errors]


EFFICIENTVIT_TAP_LIST = "P3 (64 ch, stride 8), P4 (128 ch, stride 16), P5 (192 ch, stride 32)"


def test_missing_slot_index_is_yn205(tmp_path: Path) -> None:
    text = spec_path("efficientvit").read_text().replace("[[-1, 2], 1, Concat", "[[-1, 1], 1, Concat")
    [(code, help_)] = _codes_and_help(text, tmp_path)
    assert code == "YN205" and EFFICIENTVIT_TAP_LIST in help_ and "2 = P3, 3 = P4, 4 = P5" in help_


def test_missing_named_tap_is_yn205(tmp_path: Path) -> None:
    text = spec_path("efficientvit", "taps").read_text().replace("backbone.P3]", "backbone.P2]")
    [(code, help_)] = _codes_and_help(text, tmp_path)
    assert code == "YN205" and EFFICIENTVIT_TAP_LIST in help_


def test_index_out_of_range_is_yn205(tmp_path: Path) -> None:
    text = spec_path("efficientvit", "index").read_text().replace("[0, 1, Index, [192, 2]]", "[0, 1, Index, [192, 3]]")
    [(code, help_)] = _codes_and_help(text, tmp_path)
    assert code == "YN205"
    assert "0 = P3 (64 ch, stride 8), 1 = P4 (128 ch, stride 16), 2 = P5 (192 ch, stride 32)" in help_


def test_index_wrong_channels_is_yn305(tmp_path: Path) -> None:
    text = spec_path("efficientvit", "index").read_text().replace("[0, 1, Index, [192, 2]]", "[0, 1, Index, [190, 2]]")
    [(code, help_)] = _codes_and_help(text, tmp_path)
    assert code == "YN305" and "[192, 2]" in help_


# ---------------------------------------------------------------------------------------------------------
# Deploy fusion.


@pytest.mark.parametrize("path", [spec_path(s) for s in SEEDS] + [YOLOV5S], ids=SEEDS + ["yolov5s"])
def test_fusion_keeps_outputs(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} not found")
    torch.manual_seed(0)
    model = yamlnet.build(path)
    randomize_norms(model, seed=3)
    model.eval()
    before = model.n_params
    x = torch.randn(1, 3, 128, 192, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = model(x)
        model.fuse()
        out = model(x)
    assert model.n_params < before
    convs = [m for m in model.modules() if type(m).__name__ == "Conv" and type(m).__module__.startswith("blocks.yolov5")]
    assert convs and all(not isinstance(m.bn, nn.BatchNorm2d) for m in convs)  # every YOLOv5 Conv+BN folded
    assert_close_outputs(ref, out)


# ---------------------------------------------------------------------------------------------------------
# A spec that is only a backbone.


def test_backbone_only_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "emo-backbone.yaml"
    f.write_text("backbone: [[-1, 1, EMO_1M, [False]]]\n")
    ir = analyze_ok(f)
    assert ir.outputs == [PortRef(0, t) for t in TAPS["emo"]]
    from yamlnet.cli import main

    assert main(["build", str(f)]) == 0
    out = capsys.readouterr().out
    assert "outputs: P1 (24 ch, stride 2), P2 (32 ch, stride 4), P3 (48 ch, stride 8), P4 (80 ch, stride 16), P5 (168 ch, stride 32)" in out
    model = yamlnet.build(f).eval()
    assert model.stride.tolist() == [2.0, 4.0, 8.0, 16.0, 32.0]
    with torch.no_grad():
        outs = model(torch.zeros(1, 3, 64, 96))
    assert isinstance(outs, tuple)
    assert [tuple(t.shape) for t in outs] == [(1, c, 64 // s, 96 // s) for c, s in TAPS["emo"].values()]
