"""Issue 10, front end: no silent wrong model from a spec's text. A misspelled header key (YN113), a missing
`nc` (YN114), rows shifted under their index comments (YN209), YAML syntax in the user's terms (YN101, YN105),
activation objects as arguments. Each test asserts code, line and column, and where a fix is offered, that
applying it makes the diagnostic go away."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REFERENCE_DIR, SPECS, ULTRALYTICS_DIR

import yamlnet
from yamlnet.cli import main as cli_main
from yamlnet.diagnostics import Diagnostic
from yamlnet.fix import apply_fixes, fix_text
from yamlnet.spec.expr import ActivationCall, ExprError, evaluate
from yamlnet.spec.limits import DEFAULT_LIMITS
from yamlnet.spec.parse import load_spec_with_diagnostics

YOLOV5S = REFERENCE_DIR / "yolov5s.yaml"


def _yolov5s() -> str:
    if not YOLOV5S.is_file():
        pytest.skip(f"YOLOv5 reference YAMLs not found at {REFERENCE_DIR}")
    return YOLOV5S.read_text()


def _diags(text: str, tmp_path: Path, name: str = "spec.yaml", **overrides: object) -> list[Diagnostic]:
    path = tmp_path / name
    path.write_text(text)
    return yamlnet.validate(str(path), static=True, **overrides).diagnostics


def _one(diags: list[Diagnostic], code: str) -> Diagnostic:
    hits = [d for d in diags if d.code == code]
    assert len(hits) == 1, [(d.code, d.message) for d in diags]
    return hits[0]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _fixed(text: str, tmp_path: Path, unsafe: bool = False) -> tuple[str, list[Diagnostic]]:
    """The text after `yamlnet fix` and the diagnostics of the fixed text."""
    result = fix_text(text, str(tmp_path / "spec.yaml"), unsafe=unsafe)
    return result.fixed, _diags(result.fixed, tmp_path)


# --- item 1: a misspelled header key ---------------------------------------------------------------------


def test_misspelled_header_key_warns_with_did_you_mean_and_a_fix(tmp_path: Path) -> None:
    text = _yolov5s().replace("depth_multiple:", "depth_multiplier:")
    spec, _, _ = load_spec_with_diagnostics(text)
    assert spec is not None and spec.depth_multiple == 1.0  # the silent wrong model: full depth
    d = _one(_diags(text, tmp_path), "YN113")
    assert (d.severity, d.span.line, d.span.column) == ("warning", _line_of(text, "depth_multiplier"), 1)
    assert "depth_multiple" in d.help
    (fix,) = d.fixes
    assert fix.applicability == "safe" and [e.replacement for e in fix.edits] == ["depth_multiple"]
    fixed, after = _fixed(text, tmp_path)
    assert not [x for x in after if x.code == "YN113"]
    assert fixed == _yolov5s()  # comments and layout kept: exactly the original file
    spec, _, _ = load_spec_with_diagnostics(fixed)
    assert spec is not None and spec.depth_multiple == 0.33


def test_strict_fails_on_the_unknown_key_warning(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("nc: 3\nwidht_multiple: 0.5\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n")
    assert cli_main(["validate", "--static", str(path)]) == 0
    assert cli_main(["validate", "--static", "--strict", str(path)]) == 1
    assert cli_main(["build", "--strict", str(path)]) == 1  # nothing built


def test_a_key_that_an_expression_uses_is_a_variable_not_a_typo(tmp_path: Path) -> None:
    text = "nc: 3\nbase: 16\nstem_width: 8\nbackbone:\n  - [-1, 1, Conv, [base * 2, 3, 2]]\n"
    d = _one(_diags(text, tmp_path), "YN113")  # `stem_width` is unused, `base` is used
    assert (d.span.line, d.span.column) == (3, 1) and "stem_width" in d.message and not d.fixes


def test_no_reference_yaml_warns_about_its_keys(tmp_path: Path) -> None:
    files = sorted(REFERENCE_DIR.rglob("*.yaml")) + sorted(ULTRALYTICS_DIR.rglob("*.yaml"))
    if len(files) < 94:
        pytest.skip("the YOLOv5 and Ultralytics reference YAMLs are not all here")
    files += sorted(SPECS.glob("*.yaml"))
    seen = []
    for f in files:
        _, diags, _ = load_spec_with_diagnostics(f)
        seen += [(f.name, d.code, d.message) for d in diags if d.code in ("YN113", "YN114", "YN209")]
    assert seen == []
    assert len(files) >= 94 + 26


# --- item 2: no silent 80 ------------------------------------------------------------------------------


def test_missing_nc_is_an_error_at_the_head_that_uses_it(tmp_path: Path) -> None:
    text = "".join(line for line in _yolov5s().splitlines(keepends=True) if not line.startswith("nc:"))
    d = _one(_diags(text, tmp_path), "YN114")
    line = _line_of(text, "Detect, [nc, anchors]")
    assert (d.severity, d.span.line, d.span.column) == ("error", line, text.splitlines()[line - 1].index("[nc") + 2)
    assert "Detect" in d.message and "nc: 80" in d.help
    assert not [x for x in _diags(text, tmp_path, nc=3) if x.code == "YN114"]  # nc given in Python
    backbone_only = "backbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n"  # nothing needs nc
    assert not [x for x in _diags(backbone_only, tmp_path) if x.severity == "error"]


# --- item 3: rows shifted under their index comments ---------------------------------------------------


def _insert_after(text: str, needle: str, row: str) -> str:
    lines = text.splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if needle in line)
    return "".join(lines[: i + 1] + [row] + lines[i + 1 :])


def test_inserted_row_is_reported_at_the_first_shifted_row_with_the_renumbering_as_a_fix(tmp_path: Path) -> None:
    original = _yolov5s()
    # a C3 before SPPF: no reference points into the rows between the last agreeing comment and the shift
    text = _insert_after(original, "[-1, 3, C3, [1024]],", "    [-1, 1, C3, [1024]],\n")
    diags = _diags(text, tmp_path)
    d = _one(diags, "YN209")
    sppf = _line_of(text, "SPPF")
    assert (d.severity, d.span.line, d.span.column) == ("warning", sppf, 5)
    assert "commented `# 9`" in d.message and "inserted" in d.message
    crossing = {(lb.span.line, lb.span.column) for lb in d.labels}
    concat_p5 = _line_of(text, "[[-1, 10], 1, Concat")
    detect = _line_of(text, "Detect")
    assert (concat_p5, 11) in crossing and (detect, 7) in crossing  # `10` and `17` cross the shift
    assert "10 -> 11" in d.notes[0] and "17 -> 18" in d.notes[0]
    fix = d.fixes[0]
    assert fix.applicability == "safe"
    fixed, after = _fixed(text, tmp_path)
    assert not [x for x in after if x.code in ("YN209", "YN206")]  # and no row left unused
    assert "[[-1, 11], 1, Concat, [1]], # cat head P5" in fixed and "[[18, 21, 24], 1, Detect, [nc, anchors]]" in fixed
    assert "# 10\n" in fixed and "# 24 (P5/32-large)" in fixed
    # the same model as before the insertion, plus the new row: each reference reaches the same block
    before = yamlnet.analyze(str(YOLOV5S)).ir
    after_ir = yamlnet.analyze(fixed).ir
    assert before is not None and after_ir is not None
    assert [n.row.module for n in after_ir.nodes.values()][10:] == [n.row.module for n in before.nodes.values()][9:]


def test_ambiguous_insertion_offers_guesses_as_unsafe_fixes(tmp_path: Path) -> None:
    text = _insert_after(_yolov5s(), "[-1, 6, C3, [256]],", "    [-1, 1, Conv, [256, 3, 1]],\n")
    d = _one(_diags(text, tmp_path), "YN209")
    assert (d.span.line, d.span.column) == (_line_of(text, "# 5-P4/16"), 5)
    assert len(d.fixes) == 3 and all(f.applicability == "unsafe" for f in d.fixes)
    ambiguous = [lb for lb in d.labels if "now means 4 (`C3`) or 5 (`Conv`)" in lb.text]
    assert [(lb.span.line, lb.span.column) for lb in ambiguous] == [(_line_of(text, "[[-1, 4], 1, Concat"), 11)]
    same, _ = _fixed(text, tmp_path)
    assert same == text  # a guess is not applied without --unsafe-fixes
    fixed, after = _fixed(text, tmp_path, unsafe=True)  # both guesses validate; the first is kept
    assert not [x for x in after if x.code in ("YN209", "YN206")]
    assert "[[-1, 4], 1, Concat, [1]]" in fixed and "[[-1, 7], 1, Concat, [1]]" in fixed and "[[18, 21, 24], 1, Detect" in fixed


def test_removed_row_shifts_the_references_back(tmp_path: Path) -> None:
    lines = _yolov5s().splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if "[-1, 1, Conv, [512, 1, 1]]" in line)
    text = "".join(lines[: i + 1] + lines[i + 2 :])  # the head's first nn.Upsample (row 11) removed
    d = _one(_diags(text, tmp_path), "YN209")
    assert (d.span.line, d.span.column) == (_line_of(text, "# 13"), 5) and "1 earlier" in d.message and "removed" in d.message
    maybe = [lb for lb in d.labels if "index 10 now means 10 (`Conv`) or a removed row" in lb.text]
    assert [(lb.span.line, lb.span.column) for lb in maybe] == [(_line_of(text, "[[-1, 10], 1, Concat"), 11)]
    assert d.fixes[0].applicability == "unsafe"
    fixed, after = _fixed(text, tmp_path, unsafe=True)
    assert "[[-1, 13], 1, Concat, [1]], # cat head P4" in fixed and "[[16, 19, 22], 1, Detect" in fixed
    assert not [x for x in after if x.code == "YN209"]


def test_seed_numbering_counts_row_zero_as_five_indices(tmp_path: Path) -> None:
    seed = (SPECS / "yolov5-emo.yaml").read_text()
    assert not [x for x in _diags(seed, tmp_path) if x.code == "YN209"]
    text = _insert_after(seed, "[-1, 1, Conv, [512, 1, 1]],  # 6", "   [-1, 1, Conv, [512, 1, 1]],\n")
    d = _one(_diags(text, tmp_path), "YN209")
    assert (d.span.line, d.span.column) == (_line_of(text, "# 7: to stride 16"), 4)
    assert "row 8 is commented `# 7`" in d.message
    fixed, after = _fixed(text, tmp_path)
    assert not [x for x in after if x.code == "YN209"]
    assert "[[-1, 3], 1, Concat, [1]],  # 9" in fixed  # backbone taps 0..4 never move
    assert "[[14, 17, 20], 1, Detect" in fixed


def test_numbers_that_are_not_indices_are_left_alone(tmp_path: Path) -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [64, 3, 2]]  # 64 channels\n  - [-1, 1, Conv, [128, 3, 2]]  # 128 channels\n"
    assert not [x for x in _diags(text, tmp_path) if x.code == "YN209"]


# --- item 9: YAML syntax in the user's terms ---------------------------------------------------------------


def test_a_tab_is_named_as_the_cause(tmp_path: Path) -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n\t- [-1, 1, Conv, [32, 3, 2]]\n"
    d = _one(_diags(text, tmp_path), "YN101")
    assert (d.span.line, d.span.column) == (4, 1) and "tab" in d.message
    assert d.fixes[0].applicability == "safe"  # the line above is a row indented with two spaces
    fixed, after = _fixed(text, tmp_path)
    assert fixed == text.replace("\t", "  ") and not [x for x in after if x.severity == "error"]


def test_unclosed_bracket_points_where_it_opened_and_where_the_parser_gave_up(tmp_path: Path) -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]\n  - [-1, 1, Conv, [32, 3, 2]]\n"
    d = _one(_diags(text, tmp_path), "YN101")
    assert (d.span.line, d.span.column) == (4, 3)
    assert [(lb.span.line, lb.span.column, lb.text) for lb in d.labels] == [(3, 5, "this `[` is not closed")]
    assert "line 3, column 5" in d.message
    (fix,) = d.fixes
    assert fix.applicability == "unsafe"
    fixed, after = _fixed(text, tmp_path, unsafe=True)
    assert "  - [-1, 1, Conv, [16, 3, 2]]\n" in fixed and not [x for x in after if x.severity == "error"]


def test_a_module_name_with_a_space_is_an_unknown_module_not_code(tmp_path: Path) -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, C2f_S win, [32]]\n"
    diags = _diags(text, tmp_path)
    d = _one(diags, "YN105")
    assert (d.span.line, d.span.column) == (4, 13) and "C2f_S win" in d.message
    assert not [x for x in diags if x.code == "YN501"]
    typo = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, C 3, [32]]\n"
    d = _one(_diags(typo, tmp_path), "YN105")
    assert (d.span.line, d.span.column) == (4, 13) and d.fixes[0].applicability == "safe"
    fixed, after = _fixed(typo, tmp_path)
    assert "[-1, 1, C3, [32]]" in fixed and not [x for x in after if x.severity == "error"]


def test_unknown_module_did_you_mean_is_a_fix(tmp_path: Path) -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, SPFF, [32, 5]]\n"
    d = _one(_diags(text, tmp_path), "YN105")
    assert (d.span.line, d.span.column) == (4, 13)
    assert [e.replacement for f in d.fixes for e in f.edits][:1] == ["SPPF"]
    new, applied = apply_fixes(text, [d], unsafe=True)
    assert applied and "[-1, 1, SPPF, [32, 5]]" in new


# --- item 8 (front end): activation objects as arguments ----------------------------------------------------


def test_activation_objects_as_arguments_resolve_through_the_allow_list(tmp_path: Path) -> None:
    assert evaluate("nn.LeakyReLU(0.1)", {}, DEFAULT_LIMITS) == ActivationCall("nn.LeakyReLU", (0.1,), ())
    assert evaluate("torch.nn.ReLU()", {}, DEFAULT_LIMITS) == ActivationCall("nn.ReLU", (), ())
    assert evaluate("nn.Hardswish(inplace=True)", {}, DEFAULT_LIMITS) == ActivationCall("nn.Hardswish", (), (("inplace", True),))
    with pytest.raises(ExprError) as e:
        evaluate("nn.Module.__subclasses__()", {}, DEFAULT_LIMITS)
    assert e.value.code == "YN501"  # never evaluated: anything but an allowed name with literals is refused
    with pytest.raises(ExprError) as e:
        evaluate("nn.Conv2d(3, 16, 3)", {}, DEFAULT_LIMITS)
    assert e.value.code == "YN111"
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [64, 3, 1, None, 1, 1, nn.LeakyRelu(0.1)]]\n"
    d = _one(_diags(text, tmp_path), "YN111")
    assert (d.span.line, d.span.column, d.span.end_column) == (3, 42, 54) and d.fixes[0].applicability == "safe"
    fixed, _ = _fixed(text, tmp_path)
    spec, diags, _ = load_spec_with_diagnostics(fixed)
    assert spec is not None and not [x for x in diags if x.code == "YN111"]
    assert spec.rows[0].args[-1] == ActivationCall("nn.LeakyReLU", (0.1,), ())


def test_torch_nn_in_activation_is_nn(tmp_path: Path) -> None:
    spec, diags, _ = load_spec_with_diagnostics("nc: 3\nactivation: torch.nn.LeakyReLU(0.1)\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n")
    assert spec is not None and not diags
    assert spec.activation == ActivationCall("nn.LeakyReLU", (0.1,), ())
    d = _one(_diags("nc: 3\nactivation: nn.Swish()\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", tmp_path), "YN111")
    assert (d.span.line, d.span.column) == (2, 13) and d.fixes[0].edits[0].replacement == "nn.SiLU"


# --- fixes and labels wherever the front end knows the answer ------------------------------------------------


def test_front_end_fixes_for_row_keys_names_and_a_label_for_duplicate_keys(tmp_path: Path) -> None:
    text = "nc: 3\nwidth: 16\nbackbone:\n  - [-1, 1, Conv, [widht * 2, 3, 2]]\n  - {form: -1, module: Conv, args: [32, 3, 2]}\nnc: 4\n"
    diags = _diags(text, tmp_path)
    dup = _one(diags, "YN123")
    assert (dup.span.line, dup.span.column) == (6, 1)
    assert [(lb.span.line, lb.span.column, lb.text) for lb in dup.labels] == [(1, 1, "first given here")]
    name = _one(diags, "YN109")
    assert (name.span.line, name.span.column, name.span.end_column) == (4, 20, 25) and name.fixes[0].applicability == "unsafe"
    key = _one(diags, "YN103")
    assert (key.span.line, key.span.column) == (5, 6) and key.fixes[0].applicability == "safe"
    fixed, after = _fixed(text, tmp_path, unsafe=True)
    assert "[widht" not in fixed and "{from: -1," in fixed
    assert {d.code for d in after} == {"YN123"}  # which `nc` to keep is the user's call
