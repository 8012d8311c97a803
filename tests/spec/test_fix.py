"""Diagnostics as data (issue 8 item 4) and `yamlnet fix` (issue 10 item 4): secondary labels and fixes in text
and JSON; fixes applied as text edits that keep comments, layout, line breaks and the byte order mark;
`--diff` prints them instead; a fix that would leave the spec worse is not applied."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from conftest import REFERENCE_DIR

import yamlnet.fix as fixmod
from yamlnet.cli import main as cli_main
from yamlnet.diagnostics import Diagnostic, Edit, Fix, Label, SourceText, Span, render_one
from yamlnet.fix import apply_fixes, fix_text

TEXT = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [[-1, 0], 1, Concat, [1]]\n"


def _yolov5s() -> str:
    p = REFERENCE_DIR / "yolov5s.yaml"
    if not p.is_file():
        pytest.skip(f"YOLOv5 reference YAMLs not found at {REFERENCE_DIR}")
    return p.read_text()


def _diag() -> Diagnostic:
    return Diagnostic(
        "YN402",
        "Concat joins feature maps of different strides",
        Span("f.yaml", 5, 6, 5, 13),
        label="stride 4 and stride 2",
        labels=(Label(Span("f.yaml", 3, 5, 3, 30), "stride 2 here"), Label(Span("f.yaml", 5, 11, 5, 12), "this input")),
        help="take another row",
        fixes=(
            Fix("take row 1", (Edit(Span("f.yaml", 5, 11, 5, 12), "1"),)),
            Fix("drop the second input", (Edit(Span("f.yaml", 5, 8, 5, 12), ""),), "unsafe"),
        ),
    )


def test_text_shows_secondary_labels_and_fixes() -> None:
    out = render_one(_diag(), SourceText("f.yaml", TEXT))
    assert out == (
        "error[YN402]: Concat joins feature maps of different strides\n"
        "  --> f.yaml:5:6\n"
        "   |\n"
        " 3 |   - [-1, 1, Conv, [16, 3, 2]]\n"
        "   |     ------------------------- stride 2 here\n"
        "...\n"
        " 5 |   - [[-1, 0], 1, Concat, [1]]\n"
        "   |      ^^^^^^^ stride 4 and stride 2\n"
        "   |           - this input\n"
        "   = help: take another row\n"
        "   = fix: take row 1\n"
        "   = fix: drop the second input (unsafe: `yamlnet fix --unsafe-fixes` applies it)"
    )
    plain = Diagnostic("YN402", "m", Span("f.yaml", 5, 6, 5, 13), label="x", help="h")
    assert render_one(plain, SourceText("f.yaml", TEXT)).splitlines()[3:5] == [" 5 |   - [[-1, 0], 1, Concat, [1]]", "   |      ^^^^^^^ x"]


def test_json_has_labels_and_fixes() -> None:
    j = _diag().to_json()
    assert (j["code"], j["line"], j["column"], j["label"]) == ("YN402", 5, 6, "stride 4 and stride 2")  # the fields as before
    assert j["labels"] == [
        {"file": "f.yaml", "line": 3, "column": 5, "end_line": 3, "end_column": 30, "text": "stride 2 here"},
        {"file": "f.yaml", "line": 5, "column": 11, "end_line": 5, "end_column": 12, "text": "this input"},
    ]
    assert j["fixes"][0] == {
        "title": "take row 1",
        "applicability": "safe",
        "edits": [{"file": "f.yaml", "line": 5, "column": 11, "end_line": 5, "end_column": 12, "replacement": "1"}],
    }
    assert j["fixes"][1]["applicability"] == "unsafe"
    json.dumps(j)


def test_apply_fixes_one_per_diagnostic_overlaps_wait() -> None:
    d = _diag()
    new, applied = apply_fixes(TEXT, [d])
    assert new.splitlines()[4] == "  - [[-1, 1], 1, Concat, [1]]" and [f.title for _, f in applied] == ["take row 1"]
    new, applied = apply_fixes(TEXT, [d], unsafe=True)  # the first fix is still the one chosen
    assert [f.title for _, f in applied] == ["take row 1"]
    other = Diagnostic("YN999", "m", d.span, fixes=(Fix("x", (Edit(Span("f.yaml", 5, 10, 5, 14), "[0]"),)),))
    new, applied = apply_fixes(TEXT, [d, other])
    assert len(applied) == 1 and new.splitlines()[4] == "  - [[-1, 1], 1, Concat, [1]]"
    insert = Diagnostic("YN999", "m", d.span, fixes=(Fix("ins", (Edit(Span("f.yaml", 1, 1, 1, 1), "# head\n"),)),))
    new, applied = apply_fixes(TEXT, [d, insert])
    assert len(applied) == 2 and new.startswith("# head\nnc: 3\n")


def test_cli_fix_rewrites_in_place_keeping_comments_crlf_and_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = _yolov5s()
    data = codecs.BOM_UTF8 + original.replace("\n", "\r\n").encode()
    path = tmp_path / "yolo.yaml"
    path.write_bytes(data.replace(b"depth_multiple:", b"depth_multiplier:"))
    assert cli_main(["fix", str(path)]) == 0
    assert path.read_bytes() == data  # byte for byte: BOM, CRLF, comments and spacing kept
    err = capsys.readouterr().err
    assert "fixed" in err and "YN113 rename `depth_multiplier` to `depth_multiple`" in err and "1 fix applied, no problems left" in err
    assert cli_main(["fix", str(path)]) == 0 and path.read_bytes() == data
    assert "0 fixes applied" in capsys.readouterr().err


def test_cli_fix_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "yolo.yaml"
    text = _yolov5s().replace("width_multiple:", "width_multipel:")
    path.write_text(text)
    assert cli_main(["fix", "--diff", str(path)]) == 1  # there are changes to make
    out = capsys.readouterr().out
    assert path.read_text() == text
    assert out.startswith(f"--- a/{path}\n+++ b/{path}\n@@ ")
    assert "\n-width_multipel: 0.50 # layer channel multiple\n+width_multiple: 0.50 # layer channel multiple\n" in out
    path.write_text(_yolov5s())
    assert cli_main(["fix", "--diff", str(path)]) == 0 and capsys.readouterr().out == ""


def test_cli_validate_json_carries_the_fixes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("nc: 3\ndepth_multipel: 0.33\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n")
    assert cli_main(["validate", "--static", "--format", "json", str(path)]) == 0
    (d,) = [x for x in _objects(json.loads(capsys.readouterr().out)) if x.get("code") == "YN113"]
    assert (d["line"], d["column"]) == (2, 1)
    assert d["fixes"][0]["edits"][0]["replacement"] == "depth_multiple"


def _objects(value: object) -> list[dict[str, object]]:
    """Every JSON object in a document (the diagnostics, wherever the output schema puts them)."""
    if isinstance(value, dict):
        return [value] + [o for v in value.values() for o in _objects(v)]
    if isinstance(value, list):
        return [o for v in value for o in _objects(v)]
    return []


def test_a_fix_that_would_break_the_spec_is_not_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fixmod.check_text
    name = str(tmp_path / "s.yaml")
    bad = Diagnostic("YN999", "m", Span(name, 1, 1), severity="warning", fixes=(Fix("break it", (Edit(Span(name, 1, 1, 1, 1), "[ "),)),))

    def with_a_bad_fix(text: str, file: str, *args: object) -> list[Diagnostic]:
        return real(text, file, *args) + ([bad] if text.startswith("nc") else [])  # type: ignore[arg-type]

    monkeypatch.setattr(fixmod, "check_text", with_a_bad_fix)
    result = fix_text(TEXT, name)
    assert result.fixed == TEXT and [d.code for d in result.refused] == ["YN999"] and not result.applied


def test_fix_reports_an_unreadable_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["fix", str(tmp_path / "missing.yaml")]) == 1
    assert "YN510" in capsys.readouterr().err
