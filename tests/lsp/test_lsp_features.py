"""The language server's answers computed in-process from an Analysis (yamlnet/lsp/facts.py, features.py,
cursor.py): per-row facts, keeping the last good facts, the cursor inside a row, code actions, positions in
UTF-16, and that none of it imports torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, SPECS

pytest.importorskip("lsprotocol", reason="lsprotocol is part of the lsp and dev extras (pip install -e '.[dev]')")
from lsprotocol import types as t  # noqa: E402

from yamlnet.lsp import features  # noqa: E402
from yamlnet.lsp.cursor import row_cursor  # noqa: E402
from yamlnet.lsp.facts import Analysis, analyze_text, carry_over, internal_error, line_map, looks_like_spec  # noqa: E402

X6 = (SPECS / "yolov5x6.yaml").read_text()
YOLO11 = (SPECS / "yolo11.yaml").read_text()


def _analyze(text: str, name: str = "/specs/yolov5x6.yaml"):
    return analyze_text("file://" + name, name, text)


def _line(text: str, needle: str) -> int:
    """1-based line of the first non-comment line holding `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line and not line.lstrip().startswith("#"))


def test_row_facts_of_yolov5x6() -> None:
    a = _analyze(X6)
    assert a.diagnostics == [] and len(a.rows) == 34
    r = a.rows[4]
    assert (r.index, r.module, r.number, r.n) == (4, "C3", 6, 8)
    assert [(p.channels, p.stride, p.size) for p in r.outputs] == [(320, 8, (80, 80))]
    concat = a.rows[14]
    assert [(i.text, i.target) for i in concat.inputs] == [("-1", 13), ("8", 8)]
    assert [(i.port.channels, i.port.stride) for i in concat.inputs] == [(960, 32), (960, 32)]
    head = a.rows[33]
    assert head.head and head.outputs == () and [i.target for i in head.inputs] == [23, 26, 29, 32]


def test_hints_follow_the_editors_input_size() -> None:
    a = analyze_text("file:///s/yolov5x6.yaml", "/s/yolov5x6.yaml", X6, hw=(1280, 768))
    assert features.row_hint(a.rows[11]) == "1280ch /64 20×12"


def test_scale_hint_names_the_scale_from_the_file_name() -> None:
    a = _analyze(YOLO11, "/specs/yolo11s.yaml")
    assert a.scale == "s"
    hints = {h.position.line + 1: h.label for h in features.inlay_hints(a)}
    assert hints[_line(YOLO11, "scales:")] == "# using scale s: depth 0.5, width 0.5, max 1024 channels"
    c3k2 = a.rows[2]
    assert c3k2.module == "C3k2" and features.row_hint(c3k2) == "128ch /4 160×160 n=1"  # 2 * 0.5 repeats, 256 * 0.5 channels


def test_multi_output_rows_show_each_tap() -> None:
    text = (SPECS / "yolov5-emo-taps.yaml").read_text()
    a = _analyze(text, "/specs/yolov5-emo-taps.yaml")
    assert features.row_hint(a.rows[0]) == "P1 24ch /2 320×320, P2 32ch /4 160×160, P3 48ch /8 80×80, P4 80ch /16 40×40, P5 168ch /32 20×20"


def test_line_map_follows_inserted_and_edited_lines() -> None:
    old = "a\nb\nc\nd\n"
    assert line_map(old, "a\nnew\nb\nc\nd\n") == {1: 1, 2: 3, 3: 4, 4: 5}
    assert line_map(old, "a\nB\nc\nd\n") == {1: 1, 2: 2, 3: 3, 4: 4}  # edited in place
    assert line_map(old, "a\nc\nd\n") == {1: 1, 3: 2, 4: 3}  # a deleted line has no place


def test_half_typed_row_keeps_its_last_good_facts_and_fresh_rows_stay_fresh() -> None:
    good = _analyze(X6)
    # row 16 loses its module while the rest still parses: row 16 and the rows that depend on it have no facts now
    typed = X6.replace("[-1, 1, Conv, [512, 1, 1]],                    # 16", "[-1, 1, Co, [512, 1, 1]],                    # 16")
    now = carry_over(good, _analyze(typed))
    assert any(d.code == "YN105" for d in now.diagnostics)
    assert now.rows[16].stale and features.row_hint(now.rows[16]) == "640ch /32 20×20 (last good)"
    assert not now.rows[15].stale and features.row_hint(now.rows[15]) == "960ch /32 20×20 n=4"
    # an inserted line above shifts every row down one line; the carried facts move with it
    shifted = carry_over(now, _analyze(typed.replace("backbone:\n", "backbone:\n  # a new comment\n")))
    assert shifted.rows[16].stale and shifted.rows[16].line == now.rows[16].line + 1
    # fixed again: fresh facts everywhere
    fixed = carry_over(shifted, _analyze(X6))
    assert not any(r.stale for r in fixed.rows.values()) and len(fixed.rows) == 34


def test_yaml_syntax_error_keeps_every_row() -> None:
    good = _analyze(X6)
    broken = carry_over(good, _analyze(X6.replace("[-1, 3, C3, [128]],", "[-1, 3, C3, [128],", 1)))
    assert [d.code for d in broken.diagnostics] == ["YN101"]
    assert len(broken.rows) == 34 and all(r.stale for r in broken.rows.values())
    assert broken.scale_line == 0  # yolov5 has no scales


def test_other_yaml_files_are_left_alone() -> None:
    workflow = "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    assert not looks_like_spec(workflow)
    a = _analyze(workflow, "/repo/.github/workflows/ci.yaml")
    assert a.diagnostics == [] and a.rows == {} and features.lsp_diagnostics(a) == []


def test_diagnostic_carries_labels_as_related_information() -> None:
    text = X6.replace("[[-1, 8], 1, Concat, [1]]", "[[-1, 6], 1, Concat, [1]]")
    a = _analyze(text)
    (d,) = [d for d in features.lsp_diagnostics(a, docs="https://example.org/diagnostics.md") if d.code == "YN402"]
    line = _line(text, "[[-1, 6], 1, Concat")
    assert (d.range.start.line, d.range.start.character) == (line - 1, text.splitlines()[line - 1].index("[-1, 6]"))
    assert d.code_description.href == "https://example.org/diagnostics.md#yn402"
    assert "help:" in d.message


def test_renumber_index_comments_action() -> None:
    inserted = X6.replace(
        "    [-1, 1, Conv, [128, 3, 2]],     # 1  -> /4\n", "    [-1, 1, Conv, [128, 3, 2]],     # 1  -> /4\n    [-1, 1, Conv, [128, 3, 1]],\n"
    )
    a = _analyze(inserted)
    assert any(d.code == "YN209" for d in a.diagnostics)
    edits = features.renumber_edits(a)
    assert len(edits) == 32  # rows 3..34 were commented 2..33
    assert (edits[0].span.line, edits[0].replacement) == (_line(inserted, "[-1, 3, C3, [128]]"), "3")
    # absolute references cross the inserted row: renumbering the comments alone would hide that they now point at
    # other rows, so the action is YN209's fix, which also points them back
    (action,) = [x for x in features.code_actions(a, t.Range(t.Position(0, 0), t.Position(0, 0))) if x.kind == t.CodeActionKind.Source]
    assert action.title == "renumber index comments: point 10 references back at their rows and renumber 32 index comments"
    fixed = _apply(inserted, action.edit.changes[a.uri])
    after = _analyze(fixed)
    assert after.diagnostics == []  # references and comments agree again
    assert "[[-1, 9], 1, Concat, [1]],                     # 15" in fixed
    assert features.renumber_edits(_analyze(X6)) == ()  # nothing to renumber


def _apply(text: str, edits: list[t.TextEdit]) -> str:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a, b = starts[e.range.start.line] + e.range.start.character, starts[e.range.end.line] + e.range.end.character
        text = text[:a] + e.new_text + text[b:]
    return text


def test_preferred_action_is_the_safe_fix() -> None:
    text = X6.replace(
        "    [-1, 1, Conv, [128, 3, 2]],     # 1  -> /4\n", "    [-1, 1, Conv, [128, 3, 2]],     # 1  -> /4\n    [-1, 1, Conv, [128, 3, 1]],\n"
    )
    a = _analyze(text)
    d = next(d for d in a.diagnostics if d.code == "YN209")
    rng = features.Lines(text).range(d.span)
    fixes = [x for x in features.code_actions(a, rng) if x.kind == t.CodeActionKind.QuickFix]
    preferred = [x for x in fixes if x.is_preferred]
    assert len(preferred) == 1 and "(unsafe" not in preferred[0].title and preferred[0].title.endswith("(YN209)")
    (lsp,) = [x for x in features.lsp_diagnostics(a) if x.code == "YN209"]
    related = {(r.location.range.start.line + 1, r.message) for r in lsp.related_information}
    assert (_line(text, "[[-1, 8], 1, Concat"), "meant `C3`, now index 9; index 8 is `Conv`") in related


def test_positions_count_utf16_units() -> None:
    lines = features.Lines("a: 1  # ☃ 𝄞 x\n")
    col = "a: 1  # ☃ 𝄞 x".index("x")
    pos = lines.to_lsp(1, col + 1)
    assert pos.character == col + 1  # 𝄞 is two UTF-16 units
    assert lines.from_lsp(pos) == (1, col)


@pytest.mark.parametrize(
    ("line", "column", "want"),
    [
        ("  - [-1, 1, Co", 14, (2, None, "Co")),  # the word typed so far
        ("  - [-1, 1, Conv, [64, 3", 24, (3, 1, "Conv")),
        ("  - [-1, 1, Conv, [64, 3, 2]]  # 0", 26, (3, 2, "Conv")),
        ("  - [[-1, 6], 1, Concat, [1]]", 9, (0, None, "Concat")),
        ("  - [-1, 1, Conv, [64, 3, 2]]  # 0", 33, None),  # in the comment
        ("  - [-1, 1, Conv, [64, 3, 2]],", 30, None),  # after the row
        ("    module: Con", 15, (2, None, None)),
        ("    args: [64, ", 15, (3, 1, None)),
        ("nc: 80", 3, None),
        ("  - {name: stem, from: -1, module: Conv, args: [64, ", 51, (3, 1, "Conv")),
        ("  - {name: stem, from: -1, module: Co", 37, (2, None, "Co")),
        ("  - {name: stem, from: -1, module: Conv, args: [64]}", 24, (0, None, "Conv")),
    ],
)
def test_row_cursor(line: str, column: int, want: tuple[int, int | None, str | None] | None) -> None:
    cur = row_cursor(line, column)
    assert (None if cur is None else (cur.item, cur.arg, cur.module)) == want


def test_from_completion_lists_earlier_rows() -> None:
    a = _analyze(X6)
    line = _line(X6, "[[-1, 8], 1, Concat")
    items = features.completion(a, t.Position(line - 1, X6.splitlines()[line - 1].index("8")))
    labels = [i.label for i in items.items]
    assert labels[0] == "-1" and labels[1:] == [str(k) for k in range(14)]
    assert items.items[9].detail == "C3: 960ch /32 20×20 n=4"


def test_answers_never_import_torch() -> None:
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from lsprotocol import types as t
from yamlnet.lsp import features
from yamlnet.lsp.facts import analyze_text
for name in ("specs/yolov5x6.yaml", "specs/yolo11.yaml", "specs/yolov5-emo-taps.yaml", "specs/yolo11-efficientvit.yaml"):
    text = open({str(ROOT)!r} + "/" + name).read()
    a = analyze_text("file:///" + name, name, text)
    assert a.rows, name
    whole = t.Range(t.Position(0, 0), t.Position(len(text.splitlines()), 0))
    features.lsp_diagnostics(a); features.inlay_hints(a); features.code_actions(a, whole)
    for line in range(len(text.splitlines())):
        features.hover(a, t.Position(line, 8)); features.definition(a, t.Position(line, 6)); features.completion(a, t.Position(line, 12))
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_argument_completion_writes_defaults_as_yaml() -> None:
    text = X6.replace("[-1, 1, SPPF, [1024, 5]],", "[-1, 1, C3SPP, [1024, ", 1)
    line = _line(text, "[-1, 1, C3SPP, [1024, ")
    col = text.splitlines()[line - 1].index("[1024, ") + len("[1024, ")
    items = features.completion(_analyze(text), t.Position(line - 1, col)).items
    assert [(i.label, i.insert_text) for i in items[:2]] == [("k=[5, 9, 13]", "[5, 9, 13]"), ("n=1", "[5, 9, 13], 1")]
    assert all(i.insert_text_format == t.InsertTextFormat.Snippet for i in items)


def test_every_half_typed_prefix_is_answered() -> None:
    """Typing a spec from the top: every prefix (and the same with 5 characters cut out) is analysed and answered
    without an exception, and every row that was known keeps facts."""
    good = _analyze(X6)
    for k in range(0, len(X6), 23):
        for text in (X6[:k], X6[:k] + X6[k + 5 :]):
            a = carry_over(good, _analyze(text))
            lines = text.splitlines() or [""]
            features.inlay_hints(a)
            features.lsp_diagnostics(a)
            features.code_actions(a, t.Range(t.Position(0, 0), t.Position(len(lines), 0)))
            end = t.Position(len(lines) - 1, len(lines[-1]))
            features.hover(a, end)
            features.completion(a, end)
            features.definition(a, end)
            # every complete row line above the cut still shows facts (fresh or the last good ones)
            whole = text[: text.rfind("\n", 0, k) + 1] if k else ""
            for r in good.rows.values():
                if r.line <= whole.count("\n"):
                    now = a.row_at_line(r.line)
                    assert now is not None and now.known, (k, r.line)


def test_an_analysis_failure_is_reported_not_raised() -> None:
    d = features.lsp_diagnostics(Analysis("u", "/s/x.yaml", "", None, (640, 640), [internal_error("/s/x.yaml", KeyError("boom"))]))
    assert [(x.code, x.range.start.line, x.message.splitlines()[0]) for x in d] == [("YN901", 0, "internal error while analysing: KeyError: 'boom'")]


def test_seed_numbering_slot_points_at_the_backbone_tap() -> None:
    """In the seeds' numbering, index 3 is the backbone row's P4 (row 0 fills 0..4): hover and definition say so."""
    text = (SPECS / "yolov5-emo.yaml").read_text()
    a = _analyze(text, "/specs/yolov5-emo.yaml")
    line = _line(text, "[[-1, 3], 1, Concat")
    pos = t.Position(line - 1, text.splitlines()[line - 1].index("3]"))
    assert features.hover(a, pos).contents.value == "`3` → row 0 (EMO_1M), tap P4: 80ch /16 40×40"
    assert features.definition(a, pos).range.start.line == _line(text, "EMO_1M") - 1


def test_input_size_option() -> None:
    pytest.importorskip("pygls", reason="pygls is part of the lsp and dev extras")
    from yamlnet.lsp.server import input_size

    assert [input_size(v) for v in (640, "640x384", [1280, 768])] == [(640, 640), (640, 384), (1280, 768)]
    assert [input_size(v) for v in ("abc", 0, 10**6, None, "640x0")] == [None] * 5


def test_signature_help_and_mapping_rows() -> None:
    text = X6.replace("[-1, 1, SPPF, [1024, 5]],", "[-1, 1, SPPF, [1024, ", 1)
    line = _line(text, "[-1, 1, SPPF, [1024, ")
    col = text.splitlines()[line - 1].index("[1024, ") + len("[1024, ")
    h = features.signature_help(_analyze(text), t.Position(line - 1, col))
    assert h.signatures[0].label == "SPPF[c2, k=5]" and h.active_parameter == 1
    assert h.signatures[0].parameters[1].documentation == "int (allowed: 1 or more): max-pool kernel size (odd: the pools' outputs are joined)"
    # a mapping row: its module is on another line
    emo = (SPECS / "yolov5-emo-taps.yaml").read_text()
    typed = emo.replace("{name: backbone, from: -1, module: EMO_1M, args: [False]}", "{name: backbone, from: -1, module: EMO_1M, args: [")
    line = _line(typed, "module: EMO_1M, args: [")
    col = len(typed.splitlines()[line - 1].split("#")[0].rstrip())
    a = carry_over(_analyze(emo, "/s/yolov5-emo-taps.yaml"), _analyze(typed, "/s/yolov5-emo-taps.yaml"))
    assert features.signature_help(a, t.Position(line - 1, col)).signatures[0].label.startswith("EMO_1M[")
