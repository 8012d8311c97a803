"""Dialect detection weighs the file's evidence: header keys before block names, so one misspelled row gets its
own error instead of turning the whole file into another dialect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from yamlnet import registry
from yamlnet.spec.parse import load_spec_with_diagnostics

ROOT = Path(__file__).resolve().parents[2]


def yolov5s_with(old: str, new: str) -> str:
    text = (ROOT / "specs" / "yolov5s.yaml").read_text()
    assert old in text
    return text.replace(old, new, 1)


def _where(text: str, needle: str) -> tuple[int, int]:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i, line.index(needle) + 1
    raise AssertionError(needle)


def test_one_ultralytics_block_in_a_yolov5_file_is_an_error_on_that_row() -> None:
    text = yolov5s_with("C3, [128]]", "C3k, [128]]")
    spec, diags, _ = load_spec_with_diagnostics(text)
    errors = [d for d in diags if d.severity == "error"]
    assert [d.code for d in errors] == ["YN105"], [d.message for d in diags]
    (d,) = errors
    assert (d.span.line, d.span.column) == _where(text, "C3k")
    assert "Ultralytics block" in d.message and "reads as YOLOv5" in d.message
    assert "`C3`" in (d.help or "")
    assert any(e.replacement == "C3" for f in d.fixes for e in f.edits)
    assert not [x for x in diags if x.code == "YN120"]


def test_the_yolov5_file_without_the_typo_reads_as_yolov5() -> None:
    spec, diags, _ = load_spec_with_diagnostics((ROOT / "specs" / "yolov5s.yaml").read_text())
    assert spec is not None and spec.dialect == "yolov5"
    assert not diags


def test_scales_and_anchors_together_are_ambiguous_with_both_places_labelled() -> None:
    text = "nc: 3\nanchors: 3\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead: []\n"
    spec, diags, _ = load_spec_with_diagnostics(text)
    (w,) = [d for d in diags if d.code == "YN120"]
    assert w.severity == "warning"
    assert (w.span.line, w.span.column) == (3, 1)  # `scales:` (the reading chosen)
    assert [(lab.span.line, lab.span.column) for lab in w.labels] == [(2, 1)]  # `anchors:`
    assert spec is not None and spec.dialect == "ultralytics"
    assert {f.title for f in w.fixes} == {"state `dialect: ultralytics`", "state `dialect: yolov5`"}


@pytest.fixture()
def yolov7_only_block() -> Iterator[str]:
    """A block only the yolov7 dialect declares (registered for the test, removed after)."""
    registry.names()
    before = dict(registry._DECLS)
    yolov5_conv = registry.lookup("Conv", "yolov5")
    assert yolov5_conv is not None
    registry.declare("TestOnlyV7Block", yolov5_conv.impl, dialect="yolov7", args=yolov5_conv.args, out_channels=yolov5_conv.out_channels)
    yield "TestOnlyV7Block"
    registry._DECLS.clear()
    registry._DECLS.update(before)


def test_a_block_of_the_yolov5_family_outweighs_nothing_but_picks_within_it(yolov7_only_block: str) -> None:
    """`anchors:` fits YOLOv5, YOLOv7 and YOLOv9; one YOLOv7-only block then makes it YOLOv7."""
    text = yolov5s_with("[-1, 1, Conv, [128, 3, 2]]", f"[-1, 1, {yolov7_only_block}, [128, 3, 2]]")
    spec, diags, _ = load_spec_with_diagnostics(text)
    assert spec is not None and spec.dialect == "yolov7"
    assert not [d for d in diags if d.code == "YN120"]


def test_without_evidence_of_its_own_a_file_never_reads_as_a_newer_dialect() -> None:
    text = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead: []\n"
    spec, _, _ = load_spec_with_diagnostics(text)
    assert spec is not None and spec.dialect in ("yolov5", "ultralytics")
