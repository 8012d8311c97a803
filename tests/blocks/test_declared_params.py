"""Issue 14, item 2: validation applies build's parameter limit (YN507) without building anything, from the
parameter counts blocks declare (`BlockDecl.params`). Each declared count must equal the built block's: here for
every row of every bundled and reference spec (counted on the meta device), and at odd arguments."""

from __future__ import annotations

import pytest

import yamlnet
from yamlnet.compile.shapes import meta_modules, meta_params, meta_params_at
from yamlnet.graph.declared import declared_params


def _cases() -> list[tuple[str, str | None]]:
    from conftest import REFERENCE_DIR, SPECS, ULTRALYTICS, YOLOV9, YOLOV9_DIR

    cases: list[tuple[str, str | None]] = [(str(p), None) for p in sorted(SPECS.glob("*.yaml"))]
    cases += [(str(p), None) for p in sorted(REFERENCE_DIR.glob("*.yaml"))]
    for name, scales in sorted((ULTRALYTICS or {}).get("models", {}).items()):
        scale = next(iter(scales))
        cases.append((str(REFERENCE_DIR.parent / "ultralytics" / name), None if scale == "-" else scale))
    # the YOLOv9-original files; hub/yolov3* name anchors its repository cannot build: refused by design
    cases += [(str(YOLOV9_DIR / name), None) for name in sorted((YOLOV9 or {}).get("models", {})) if not name.startswith("hub/")]
    return cases


@pytest.mark.parametrize(("path", "scale"), _cases(), ids=lambda v: str(v).split("reference/")[-1].split("specs/")[-1])
def test_declared_parameter_counts_equal_the_built_blocks(path: str, scale: str | None) -> None:
    report = yamlnet.analyze(path, **({"scale": scale} if scale else {}))
    if report.ir is None or not report.ok:
        pytest.skip("refused by design (a download): nothing to count")
    counted, _ = declared_params(report.ir)
    modules, _ = meta_modules(report.ir, counted)  # only the rows with a declared count (Index rows have no module)
    built = {p: sum(t.numel() for t in m.parameters()) for p, m in modules.items()}
    assert {p: built.get(p, 0) for p in counted} == counted


def _yolov7_files() -> list[str]:
    from conftest import yolov7_files

    return yolov7_files()


@pytest.mark.parametrize("name", _yolov7_files())
def test_yolov7_declared_counts_equal_the_built_blocks_and_the_reference(name: str) -> None:
    """Every row of every YOLOv7 reference file (training, deploy, baseline) declares its count: it equals the
    block built on the meta device and the per-row count YOLOv7's own code measured (reference.json)."""
    from conftest import YOLOV7_DIR, require_yolov7

    ref = require_yolov7()["models"][name]["-"]
    kw = {"dialect": "yolov7"} if name in ("baseline/yolov3.yaml", "baseline/yolov3-spp.yaml") else {}  # no v7-only block
    report = yamlnet.analyze(YOLOV7_DIR / name, **kw)
    assert report.ok and report.ir is not None, report.render()
    counted, unknown = declared_params(report.ir)
    assert unknown == []
    assert [counted.get(i, 0) for i in range(ref["layers"])] == ref["layer_params"]
    modules, _ = meta_modules(report.ir, counted)
    assert {p: sum(t.numel() for t in m.parameters()) for p, m in modules.items()} == {p: c for p, c in counted.items() if p in modules}
    assert all(counted[p] == 0 for p in counted if p not in modules)


ODD = [
    "Conv, [24, [3, 5], 2, None, 4]",
    "DWConv, [12, 5, 1]",
    "GhostConv, [16, 3, 2, 2]",
    "Focus, [16, 3]",
    "CrossConv, [16, 3, 1, 2, 0.5]",
    "C3, [16, False, 2, 0.25]",
    "SPP, [16, [3, 5]]",
    "nn.Conv2d, [8, 16, [1, 3], 1, 0, 1, 4, False]",
    "nn.ConvTranspose2d, [16, 4, 2, 1, 0, 2]",
    "nn.BatchNorm2d, []",
    "DWConv, [8, 3, 1]",  # keeps 8 channels: repeated as two copies below
]


@pytest.mark.parametrize("row", ODD)
def test_declared_counts_at_odd_arguments(row: str, tmp_path) -> None:
    f = tmp_path / "odd.yaml"
    number = 2 if row.startswith(("C3", "nn.BatchNorm2d", "DWConv, [8")) else 1  # C3: n = 2; the others: 2 copies
    f.write_text(f"nc: 3\nbackbone:\n  - [-1, 1, Conv, [8, 3, 2]]\n  - [-1, {number}, {row}]\n")
    report = yamlnet.analyze(f)
    assert report.ok, report.render()
    counted, unknown = declared_params(report.ir)
    assert not unknown
    assert counted == meta_params(report.ir)


V7_ODD = [
    "Conv, [16, [1, 3], 2, None, 2, nn.LeakyReLU(0.1)]",
    "RepConv, [8, 3, 1]",  # c1 == c2 and s == 1: the identity batch norm
    "RepConv, [16, 3, 2, None, 2]",
    "RepConv, [8, 3, 1, None, 1, True, True]",  # deploy: one biased 3x3 conv
    "SPPCSPC, [16, False, 1, 0.25, [3, 5]]",
    "DownC, [16, 3]",
    "Stem, [16]",
    "Res, [16, True, 2, 0.75]",
    "BottleneckCSPB, [16]",  # the CSP stages: n = 2 inner blocks
    "ResCSPC, [16, True, 1, 0.75]",
    "ResXCSPB, [64]",
    "Bottleneck, [16, False, 2, 0.25]",
    "SPP, [16, [3, 5]]",
    "ImplicitA, []",  # keeps 8 channels: repeated as two copies
    "ImplicitM, [8]",
]


@pytest.mark.parametrize("row", V7_ODD)
def test_yolov7_declared_counts_at_odd_arguments(row: str, tmp_path) -> None:
    f = tmp_path / "odd.yaml"
    number = 2 if row.startswith(("Implicit", "BottleneckCSP", "ResCSP", "ResXCSP")) else 1
    f.write_text(f"nc: 3\ndialect: yolov7\nbackbone:\n  - [-1, 1, Conv, [8, 3, 2]]\n  - [-1, {number}, {row}]\n")
    report = yamlnet.analyze(f)
    assert report.ok, report.render()
    counted, unknown = declared_params(report.ir)
    assert not unknown
    assert counted == meta_params(report.ir)
    assert counted[1] > 0


@pytest.mark.parametrize(("dialect", "row"), [("yolov5", "C3, [8]"), ("yolov7", "RepConv, [8, 3, 1]")])
def test_a_default_activation_with_weights_is_counted_on_the_built_blocks(dialect: str, row: str, tmp_path) -> None:
    """`activation: nn.PReLU()` gives every conv's activation a weight (YOLOv7: one instance per conv; YOLOv5: one
    shared by the model), which the arithmetic cannot know: those rows are counted on the meta device."""
    f = tmp_path / "prelu.yaml"
    f.write_text(f"nc: 3\ndialect: {dialect}\nactivation: nn.PReLU()\nbackbone:\n  - [-1, 1, Conv, [8, 3, 2]]\n  - [-1, 1, {row}]\n")
    report = yamlnet.analyze(f)
    assert report.ok, report.render()
    counted, unknown = declared_params(report.ir)
    assert (counted, unknown) == ({}, [0, 1])
    assert meta_params(report.ir) == ({0: 233, 1: 337} if dialect == "yolov5" else {0: 233, 1: 689})


def test_validate_applies_the_parameter_limit_without_torch(tmp_path) -> None:
    """The issue's example: a Conv with kernel 100001 validated ok and was refused by build (YN507)."""
    import subprocess
    import sys

    f = tmp_path / "big.yaml"
    f.write_text("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [64, 100001, 1]]\n")
    code = (
        "import sys, yamlnet\n"
        f"for static in (True, False):\n"
        f"    r = yamlnet.validate({str(f)!r}, static=static)\n"
        "    print([(d.code, d.span.line, d.span.column) for d in r.errors])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["[('YN507', 4, 5)]", "[('YN507', 4, 5)]", "False"]
    with pytest.raises(yamlnet.SpecError, match="YN507"):
        yamlnet.build(f)


@pytest.mark.parametrize("backbone", ["MobileOne_S0", "MobileViT_XXS", "RIFormer"])
@pytest.mark.parametrize("ch", [1, 4])
def test_backbone_counts_follow_the_input_channels(backbone: str, ch: int, tmp_path) -> None:
    """The stored backbone counts (blocks/backbone_params.py) at other input channels than the 3 they are stored at."""
    f = tmp_path / "b.yaml"
    f.write_text(f"nc: 3\nch: {ch}\nbackbone:\n  - [-1, 1, {backbone}, [False]]\n")
    report = yamlnet.analyze(f)
    assert report.ok, report.render()
    counted, unknown = declared_params(report.ir)
    assert not unknown and counted == meta_params(report.ir)


def _yolov9_files() -> list[str]:
    from conftest import yolov9_files

    return [f for f in yolov9_files() if not f.startswith("hub/")]  # hub/yolov3*: refused by design


@pytest.mark.parametrize("name", _yolov9_files())
def test_yolov9_declared_totals_equal_the_repository_counts(name: str) -> None:
    """The declared counts of a YOLOv9-original file sum to the parameters its repository's model has
    (reference.json); only the rows of YOLOv7's MP, SP and SPPCSPC declarations (yolov7-af files) may be left
    to the meta device (counted there), until those declare their counts."""
    from conftest import YOLOV9_DIR, require_yolov9

    ref = require_yolov9()["models"][name]["-"]
    report = yamlnet.analyze(YOLOV9_DIR / name)
    assert report.ok and report.ir is not None, report.render()
    counted, unknown = declared_params(report.ir)
    left = {report.ir.nodes[p].decl.name for p in unknown}
    assert left <= {"MP", "SP", "SPPCSPC"}, left
    rest = meta_params_at(report.ir, unknown)[0] if unknown else {}
    assert sum(counted.values()) + sum(rest.values()) == ref["params"]


V9_ODD_LAYERS = [
    "RepNCSPELAN4, [24, 12, 10, 2]",
    "ELAN1, [20, 6, 10]",
    "ADown, [12]",
    "AConv, [20]",
    "SPPELAN, [16, 6, 3]",
    "CBLinear, [[8, 16], 3, 2, 1, 4]",  # grouped, strided
]
# heads at channels where each side of each max() decides: a first level of 520 channels (box width 130, rounded
# to 132 when grouped; class width 520 for 3 classes), or of 40 (box width 64; class width 128 for 70 classes;
# mask width 40 masks, more than 40 // 4)
V9_ODD_HEADS = [
    ("Detect", "[3]", 1, 0, 520),
    ("DDetect", "[3]", 1, 0, 520),
    ("DualDDetect", "[3]", 2, 0, 520),
    ("TripleDDetect", "[70]", 3, 0, 40),
    ("Segment", "[3, 40, 24]", 1, 0, 40),
    ("DSegment", "[3, 40, 24]", 1, 1, 40),
    ("DualDSegment", "[3, 40, 24]", 2, 2, 40),
    ("Panoptic", "[3, 5, 40, 24]", 1, 0, 40),
]


def _v9_counts(text: str, tmp_path) -> None:
    f = tmp_path / "v9.yaml"
    f.write_text("dialect: yolov9\nnc: 3\nbackbone:\n" + text)
    report = yamlnet.analyze(f)
    assert report.ok, report.render()
    counted, unknown = declared_params(report.ir)
    assert not unknown
    assert counted == meta_params(report.ir)


@pytest.mark.parametrize("row", V9_ODD_LAYERS)
def test_yolov9_layer_counts_at_odd_arguments(row: str, tmp_path) -> None:
    _v9_counts(f"  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, {row}]\n", tmp_path)


@pytest.mark.parametrize(("head", "args", "sets", "extra", "c"), V9_ODD_HEADS, ids=[h[0] for h in V9_ODD_HEADS])
def test_yolov9_head_counts_at_odd_arguments(head: str, args: str, sets: int, extra: int, c: int, tmp_path) -> None:
    rows = f"  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [{c}, 3, 2]]\n  - [-1, 1, Conv, [24, 3, 2]]\n"
    levels = [1, 2] * sets  # every set: strides 4 and 8
    frm = ", ".join(str(i) for i in levels + [0] * extra)  # prototype inputs: row 0
    _v9_counts(rows + f"  - [[{frm}], 1, {head}, {args}]\n", tmp_path)
