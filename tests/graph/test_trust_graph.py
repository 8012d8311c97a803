"""Issue 10, items 5-8, 11, 12: diagnostics at the row the user must change, no follow-on noise after an error,
nn.ConvTranspose2d as YOLOv5/Ultralytics YAMLs write it, PyYAML-independent limits, and the command line's
usage errors. Each test asserts codes, lines and columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, ULTRALYTICS_DIR, require_ultralytics

import yamlnet
from yamlnet.cli import main

YOLOV5S = ROOT / "specs" / "yolov5s.yaml"
EMO = ROOT / "specs" / "yolov5-emo.yaml"
ROW12 = "[[-1, 6], 1, Concat, [1]],                     # 12"
ROW13 = "[-1, 3, C3, [512, False]],                     # 13"


def _spec(tmp_path: Path, base: Path, *edits: tuple[str, str], name: str = "my-yolo.yaml") -> Path:
    text = base.read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    p = tmp_path / name
    p.write_text(text)
    return p


def _where(diags: list[yamlnet.Diagnostic], severity: str = "error") -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diags if d.severity == severity]


# --- item 5: after an error, values that depend on it are unknown -----------------------------------------------


@pytest.mark.parametrize(
    ("row13", "what"),
    [
        ("[-1, 1, nn.Conv2d, [768, 512, 1, 1]],         # 13", "nn.Conv2d states in_channels 768"),
        ("[-1, 1, nn.BatchNorm2d, [768]],               # 13", "nn.BatchNorm2d states num_features 768"),
    ],
)
def test_no_invented_channels_below_a_failed_join(tmp_path: Path, row13: str, what: str) -> None:
    # row 12 joins stride 16 with stride 8 (YN402); 768 channels would arrive at row 13 if it had not failed
    spec = _spec(tmp_path, YOLOV5S, (ROW12, ROW12.replace("6]", "4]")), (ROW13, row13))
    report = yamlnet.validate(spec, static=True)
    assert _where(report.diagnostics) == [("YN402", 30, 6)], what
    assert not any("3 channels arrive" in d.message for d in report.diagnostics)
    ir = report.ir
    assert ir is not None and not ir.nodes[12].ok and not ir.nodes[13].ok and ir.nodes[13].c_in == []


def test_a_rows_own_argument_errors_are_still_reported_below_a_failed_row(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        YOLOV5S,
        (ROW12, ROW12.replace("6]", "4]")),
        (ROW13, "[-1, 1, nn.Conv2d, [768, 512, 1, 1, 0, 1, 1, 1, 1, 1]],  # 13"),
    )
    report = yamlnet.validate(spec, static=True)
    assert _where(report.diagnostics) == [("YN402", 30, 6), ("YN106", 31, 56)]  # the extra (tenth) argument


# --- item 6: an unknown multi-output backbone in row 0 -----------------------------------------------------------


def test_unknown_backbone_in_row_0_is_one_error_and_a_note_on_taps(tmp_path: Path) -> None:
    spec = _spec(tmp_path, EMO, ("[[-1, 1, EMO_1M, [False]],", "[[-1, 1, EMO_9M, [False]],"))
    report = yamlnet.validate(spec, static=True)
    assert _where(report.diagnostics) == [("YN105", 18, 12)]  # no cycle, self-reference or out-of-range noise
    [note] = [d for d in report.diagnostics if d.severity == "note"]
    assert (note.code, note.span.line, note.span.column) == ("YN210", 25, 10)  # `3` in [[-1, 3], 1, Concat, [1]]
    assert "taps" in note.help and "TapDecl" in note.help
    assert "`3` in layer 8, `2` in layer 12" in note.notes[0]


def test_unknown_named_backbone_with_explicit_taps(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ROOT / "specs" / "yolov5-emo-taps.yaml", ("module: EMO_1M", "module: EMO_9M"))
    report = yamlnet.validate(spec, static=True)
    assert _where(report.diagnostics) == [("YN105", 15, 40)]  # no "no row is named `backbone`" for its three taps
    assert _where(report.diagnostics, "note") == [("YN210", 16, 6)]  # `backbone.P5` in the SPPF row
    [note] = [d for d in report.diagnostics if d.severity == "note"]
    assert note.notes[0].endswith("`backbone.P5` in layer 5, `backbone.P4` in layer 8, `backbone.P3` in layer 12")


def test_unknown_plain_row_0_keeps_plain_numbering(tmp_path: Path) -> None:
    spec = _spec(tmp_path, YOLOV5S, ("[-1, 1, Conv, [64, 6, 2, 2]],", "[-1, 1, Conw, [64, 6, 2, 2]],"))
    report = yamlnet.validate(spec, static=True)
    assert _where(report.diagnostics) == [("YN105", 14, 13)]
    assert not [d for d in report.diagnostics if d.severity == "note"]
    assert report.ir is not None and report.ir.numbering == "rows"


# --- item 8: nn.ConvTranspose2d is [c2, k, s, p, ...] with the input channels filled -----------------------------

CONV_TRANSPOSE = """\
nc: 80
depth_multiple: 0.33
width_multiple: 0.5
anchors: 3
backbone:
  - [-1, 1, Conv, [64, 6, 2, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [-1, 1, Conv, [1024, 3, 2]]
head:
  - [-1, 1, nn.ConvTranspose2d, [256, 2, 2, 0]]
  - [[-1, 3], 1, Concat, [1]]
  - [-1, 1, nn.ConvTranspose2d, [128, 2, 2]]
  - [[-1, 2], 1, Concat, [1]]
  - [[8, 6], 1, Detect, [nc, anchors]]
"""


def test_conv_transpose_rows_as_yolov5_writes_them(tmp_path: Path) -> None:
    spec = tmp_path / "ct.yaml"
    spec.write_text(CONV_TRANSPOSE)
    report = yamlnet.validate(spec, static=True)
    assert report.ok, report.render()
    ir = report.ir
    assert ir is not None
    assert ir.nodes[5].bound | {} == {
        "in_channels": 512,
        "out_channels": 128,  # 256 x width 0.5
        "kernel_size": 2,
        "stride": 2,
        "padding": 0,
        "output_padding": 0,
        "groups": 1,
        "bias": True,
        "dilation": 1,
        "padding_mode": "zeros",
    }
    assert (ir.nodes[5].out.channels, ir.nodes[5].out.stride, ir.nodes[7].out.channels, ir.nodes[7].out.stride) == (128, 16, 64, 8)
    model = yamlnet.build(spec)
    m5 = model.get_submodule("model.5")
    assert type(m5).__name__ == "ConvTranspose2d" and (m5.in_channels, m5.out_channels, m5.kernel_size, m5.stride) == (512, 128, (2, 2), (2, 2))
    assert sum(p.numel() for p in m5.parameters()) == 512 * 128 * 2 * 2 + 128
    assert sum(p.numel() for p in model.parameters()) == 2_080_190
    assert model.stride.tolist() == [8.0, 16.0]


def test_yolov6_conv_transpose_rows_match_the_reference() -> None:
    ref = require_ultralytics()["models"]["v6/yolov6.yaml"]["n"]
    path = ULTRALYTICS_DIR / "v6" / "yolov6.yaml"
    report = yamlnet.validate(path, static=True, scale="n")
    assert report.ok, report.render()
    model = yamlnet.build(path, scale="n")
    assert sum(p.numel() for p in model.parameters()) == ref["params"] == 4_500_080
    assert not any("Fraction" in d.message for d in report.diagnostics)
    rows = [n for n in report.ir.nodes.values() if n.row.module == "nn.ConvTranspose2d"]  # type: ignore[union-attr]
    assert [(n.index, n.bound["in_channels"], n.bound["out_channels"], n.out.stride) for n in rows] == [(11, 64, 64, 16), (16, 32, 32, 8)]


# --- item 11: limits hold whatever PyYAML is installed -----------------------------------------------------------


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_deep_nesting_is_yn505_with_either_yaml_loader(tmp_path: Path, loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from yamlnet.spec import source

    if loader == "python":
        monkeypatch.setattr(source, "_CLoader", None)
    elif source._CLoader is None:
        pytest.fail("PyYAML without libyaml: the project's wheels ship it")
    spec = tmp_path / "deep.yaml"
    spec.write_text("nc: 3\nbackbone: " + "[" * 50_000 + "]" * 50_000 + "\n")
    report = yamlnet.validate(spec, static=True)
    # libyaml (PyYAML 6.0.4's wheels) refuses this depth in its scanner; yamlnet still reports its own code, at the
    # bracket that goes past its limit of 32 levels (the mapping is level 1; `backbone: ` ends at column 10)
    assert [(d.code, d.span.line, d.span.column, d.message) for d in report.diagnostics] == [("YN505", 2, 43, "the YAML nests deeper than 32 levels")]


# --- item 12: the command line ------------------------------------------------------------------------------------


def test_python_dash_m_yamlnet() -> None:
    r = subprocess.run([sys.executable, "-m", "yamlnet", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "yamlnet 0.1.0"
    r = subprocess.run(
        [sys.executable, "-m", "yamlnet", "validate", "--static", "specs/yolov5s.yaml"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and r.stdout.strip() == "specs/yolov5s.yaml: ok (static)"


@pytest.mark.parametrize(("name", "close"), [("c3", "C3"), ("conw", "Conv"), ("upsample", "nn.Upsample"), ("Detetc", "Detect")])
def test_blocks_suggests_close_names(capsys: pytest.CaptureFixture[str], name: str, close: str) -> None:
    assert main(["blocks", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"yamlnet: unknown block `{name}`; did you mean ") and f" {close}" in err.split("did you mean", 1)[1].replace(",", " ")


def test_no_spec_files_names_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 2
    assert capsys.readouterr().err.strip() == f"yamlnet: error: no spec files found in {empty} (a spec is a .yaml or .yml file)"


@pytest.mark.parametrize("command", ["validate", "build", "summary"])
def test_huge_imgsz_is_a_usage_error(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as e:
        main([command, str(YOLOV5S), "--imgsz", "100000"])
    assert e.value.code == 2
    out = capsys.readouterr()
    assert "`100000` is larger than the largest input size yamlnet checks (16,384)" in out.err
    assert "YN507" not in out.err + out.out and "backbone" not in out.err


# --- item 7: argument errors at their own row and argument; declarations state ranges ---------------------------

ROW3 = "[-1, 1, Conv, [256, 3, 2]],     # 3"


@pytest.mark.parametrize(
    ("row3", "column", "message"),
    [
        ("[-1, 1, Conv, [256, 3, 0]],     # 3", 28, "Conv argument `s` is 0; it must be >= 1"),  # was YN403 on Detect
        ("[-1, 1, Conv, [256, 0, 2]],     # 3", 25, "Conv argument `k` is 0; it must be >= 1"),  # was YN405 on a Concat
        (
            "[-1, 1, Conv, [256, 3, 2, 500]],     # 3",
            31,
            "Conv argument `p` is 500; a kernel of 3 takes at most 1: more only adds zeros around the output, "
            "which then grows instead of keeping its stride",
        ),
        ("[-1, 1, Conv, [256, 3, 2, None, 0]],     # 3", 37, "Conv argument `g` is 0; it must be >= 1"),
        ("[-1, 1, Conv, [256, [3, 0], 2]],     # 3", 25, "Conv argument `k` is 0; it must be >= 1"),
    ],
)
def test_conv_argument_errors_at_the_argument(tmp_path: Path, row3: str, column: int, message: str) -> None:
    spec = _spec(tmp_path, YOLOV5S, (ROW3, row3))
    report = yamlnet.validate(spec)
    assert _where(report.diagnostics) == [("YN117", 17, column)]
    [d] = report.diagnostics
    assert d.message == message and d.help.startswith("the arguments are Conv[c2, k=1, s=1, p=None, g=1, d=1, act=True]")


def test_concat_dimension_at_the_argument(tmp_path: Path) -> None:
    spec = _spec(tmp_path, YOLOV5S, (ROW12, ROW12.replace("[1]]", "[2]]")))
    report = yamlnet.validate(spec)
    assert _where(report.diagnostics) == [("YN117", 30, 27)]  # was YN306 on "the declaration"
    [d] = report.diagnostics
    assert (d.message, d.label) == ("Concat argument `dimension` is 2; it must be 1", "allowed: 1")


TORCH_ROWS = """\
nc: 3
backbone:
  - [-1, 1, nn.Conv2d, [3, 16, 3, 2, 1]]
  - [-1, 1, nn.MaxPool2d, [3, 2, 2]]
  - [-1, 1, nn.ConvTranspose2d, [16, 2, 2, 0, 2]]
  - [-1, 1, nn.Upsample, [None, 0]]
  - [-1, 1, nn.Dropout, [1.5]]
"""


def test_torch_nn_argument_ranges(tmp_path: Path) -> None:
    spec = tmp_path / "torch.yaml"
    spec.write_text(TORCH_ROWS)
    report = yamlnet.validate(spec, static=True)
    assert [(d.code, d.span.line, d.span.column, d.message) for d in report.errors] == [
        (
            "YN117",
            4,
            34,
            "nn.MaxPool2d argument `padding` is 2; a kernel of 3 takes at most 1 (half the kernel): more only adds zeros around the output",
        ),
        ("YN117", 5, 47, "nn.ConvTranspose2d argument `output_padding` is 2; it must be smaller than the stride (2) or the dilation (1)"),
        ("YN117", 6, 33, "nn.Upsample argument `scale_factor` is 0; it must be > 0"),
        ("YN117", 7, 26, "nn.Dropout argument `p` is 1.5; it must be <= 1"),
    ]
    assert not any("Fraction" in d.message or "division" in d.message for d in report.diagnostics)


def test_blocks_lists_the_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blocks", "nn.MaxPool2d"]) == 0
    out = capsys.readouterr().out
    assert "  kernel_size: int|list (allowed: 1 or more) - kernel size\n" in out
    assert "  padding: int|list (allowed: 0 or more) - padding, at most half the kernel\n" in out


def test_every_declared_default_is_in_its_range() -> None:
    from yamlnet import registry
    from yamlnet.graph.checks import _range_problem

    checked = 0
    for decl in registry.declarations():
        dialect, name = decl.dialect, decl.name
        values = {a.name: a.default for a in decl.yaml_args()}
        for a in decl.yaml_args():
            if a.default is registry.REQUIRED or a.default is None:
                continue
            problem, _ = _range_problem(a, a.default, values)
            assert not problem, f"{dialect}/{name}: default {a.name}={a.default!r} {problem}"
            checked += a.low is not None or a.high is not None or a.valid is not None
    assert checked >= 40
