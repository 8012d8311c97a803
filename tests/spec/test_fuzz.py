"""Fuzzing the loader and the expression grammar: whatever the input, the answer is a value or diagnostics --
never another exception. Deterministic (derandomized) and well under a minute."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import pytest
from conftest import SPECS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yamlnet
from yamlnet.diagnostics import Diagnostic
from yamlnet.graph.sizes import check_sizes
from yamlnet.spec.expr import ExprError, evaluate, parse_activation
from yamlnet.spec.limits import DEFAULT_LIMITS, Limits

FUZZ = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
NAMES = {"nc": 80, "anchors": [[10, 13, 16, 30]], "depth_multiple": 0.33, "label": "x"}


def _expr_ok(text: str) -> Any:
    try:
        return evaluate(text, NAMES, DEFAULT_LIMITS)
    except ExprError as e:
        assert e.code.startswith("YN") and e.column >= 1 and e.message
        return e


@settings(FUZZ, max_examples=600)
@given(st.text(alphabet="0123456789+-*/%()[], .eE_'\"ncxaorsNoneTrueFalse\\\n\t#:", max_size=120))
def test_any_expression_text_gives_a_value_or_a_diagnostic(text: str) -> None:
    v = _expr_ok(text)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        assert abs(v) <= DEFAULT_LIMITS.value_abs


@settings(FUZZ, max_examples=300)
@given(st.text(max_size=60))
def test_any_unicode_expression_and_activation(text: str) -> None:
    _expr_ok(text)
    try:
        parse_activation(text, DEFAULT_LIMITS)
    except ExprError as e:
        assert e.code in ("YN111", "YN501", "YN506", "YN108", "YN115", "YN505")


# Arithmetic with a known value: the strategy builds the text and its value together.
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}


def _leaf() -> st.SearchStrategy[tuple[str, int]]:
    return st.one_of(st.integers(0, 999).map(lambda v: (str(v), v)), st.just(("nc", 80)))


def _extend(children: st.SearchStrategy[tuple[str, int]]) -> st.SearchStrategy[tuple[str, int]]:
    def combine(a: tuple[str, int], op: str, b: tuple[str, int]) -> tuple[str, int]:
        if op in ("//", "%") and b[1] == 0:
            return a
        return f"({a[0]} {op} {b[0]})", _OPS[op](a[1], b[1])

    unary = children.map(lambda c: (f"-{c[0]}", -c[1]))
    return st.one_of(st.builds(combine, children, st.sampled_from(sorted(_OPS)), children), unary)


@settings(FUZZ, max_examples=400)
@given(st.recursive(_leaf(), _extend, max_leaves=12))
def test_arithmetic_evaluates_exactly(expr: tuple[str, int]) -> None:
    text, value = expr
    got = _expr_ok(text)
    if abs(value) > DEFAULT_LIMITS.value_abs:
        assert isinstance(got, ExprError) and got.code == "YN506"
    else:
        assert got == value, text


# --- the loader -------------------------------------------------------------------------------------------------

YAML_ALPHABET = "abcnkv09-+:,[]{}&*!|>'\"#%@`?<=. \n\t\\"


def _diags_only(path_or_text: Any, static: bool = True) -> list[Diagnostic]:
    report = yamlnet.validate(path_or_text, static=static, imgsz=64)
    for d in report.diagnostics:
        assert d.code.startswith("YN") and d.code != "YN901", d
        assert d.span.line >= 0 and d.span.column >= 0
    return report.diagnostics


@settings(FUZZ, max_examples=400)
@given(st.text(alphabet=YAML_ALPHABET, max_size=200).map(lambda t: "nc: 3\n" + t))
def test_yaml_like_text_gives_diagnostics_not_exceptions(text: str) -> None:
    _diags_only(text)


@settings(FUZZ, max_examples=150)
@given(st.binary(max_size=300))
def test_any_bytes_in_a_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "spec.yaml"
    path.write_bytes(data)
    _diags_only(path)


SEED = (SPECS / "yolov5s.yaml").read_text()


@settings(FUZZ, max_examples=250)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SEED) - 1), st.sampled_from(["del", "ins", "dup"]), st.sampled_from(list("0123456789-,[]: \nabcN'"))),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_yolov5s_gives_diagnostics_not_exceptions(edits: list[tuple[int, str, str]]) -> None:
    text = SEED
    for pos, op, ch in edits:
        pos = min(pos, len(text) - 1)
        if op == "del":
            text = text[:pos] + text[pos + 1 :]
        else:
            text = text[:pos] + (ch if op == "ins" else text[pos] * 2) + text[pos:]
    report = yamlnet.analyze(text, Limits(repeats=20))
    if report.ir is not None and report.ok:
        for hw in ((640, 640), (97, 320)):
            check_sizes(report.ir, hw, DEFAULT_LIMITS)


# Random rows over real blocks: the static rules and the shape pass report problems as diagnostics. Arguments
# are mostly plausible (so that many specs reach the shape pass), sometimes anything.
CH = st.sampled_from([8, 16, 24, 32, 48, 64])
K = st.sampled_from([1, 3, 5])
S = st.sampled_from([1, 1, 2])
PLAUSIBLE: dict[str, Any] = {
    "Conv": st.tuples(CH, K, S),
    "C3": st.tuples(CH, st.booleans()),
    "SPPF": st.tuples(CH, K),
    "nn.Upsample": st.just((None, 2, "nearest")),
    "nn.Conv2d": st.tuples(st.just(None), CH, K, S, st.sampled_from([0, 1, 2])),
    "nn.BatchNorm2d": st.just(()),
    "nn.MaxPool2d": st.tuples(st.sampled_from([1, 2, 3]), S, st.sampled_from([0, 1])),
    "Focus": st.tuples(CH, K),
    "GhostConv": st.tuples(CH, K, S),
    "DWConv": st.tuples(CH, K, S),
    "Bottleneck": st.tuples(CH),
    "MV2Block": st.tuples(CH, S, st.sampled_from([1, 2, 4])),
    "Contract": st.just((2,)),
    "Expand": st.just((2,)),
    "nn.ZeroPad2d": st.tuples(st.integers(0, 2)),
    "C3TR": st.tuples(st.sampled_from([32, 64])),
    "CrossConv": st.tuples(CH, K, S),
    "nn.Identity": st.just(()),
    "MobileViTBlock": st.tuples(CH, st.sampled_from([16, 32]), st.just(1), K, st.sampled_from([1, 2]), st.just(32)),
}
NOISE = st.one_of(st.integers(-2, 48), st.sampled_from([None, True, False, "nearest", "nc", "anchors", 0.5, [1, 2], [3], "'x'"]))


def _yaml(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    return "None" if v is None else str(v)


@st.composite
def _rows(draw: Any) -> str:
    n = draw(st.integers(1, 6))
    lines = ["nc: 2", "anchors: 1", "backbone:"]
    for i in range(n):
        module = draw(st.sampled_from(sorted(PLAUSIBLE) + ["Concat"]))
        if module == "Concat":
            frm = _yaml([-1, draw(st.integers(0, max(i - 1, 0)))])
            args: list[Any] = [1]
        else:
            frm = "-1" if draw(st.integers(0, 19)) else str(draw(st.integers(-3, 6)))
            args = list(draw(PLAUSIBLE[module]))
        if draw(st.integers(0, 7)) == 0:  # noise: an argument of any kind, added or replaced
            noise = draw(NOISE)
            k = draw(st.integers(0, len(args)))
            args = args[:k] + [noise] + args[k + 1 :]
        number = draw(st.sampled_from([1] * 8 + [2, 3]))
        lines.append(f"  - [{frm}, {number}, {module}, {_yaml(args)}]")
    if n >= 3 and draw(st.booleans()):
        lines += ["head:", f"  - [[{n - 2}, {n - 1}], 1, Detect, [nc, anchors]]"]
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=200)
@given(_rows())
def test_random_rows_with_the_shape_pass(spec: str) -> None:
    _diags_only(spec, static=False)


def test_fuzz_corpus_files_exist() -> None:
    assert Path(SPECS / "yolov5s.yaml").is_file()
