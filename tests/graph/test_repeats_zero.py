"""Issue 14, item 3: `number: 0` is what both references build (depth `max(round(n * d), 1) if n > 1 else n`
keeps 0): a block repeated as copies is built once, a block that takes the depth as `n` gets n = 0. A warning
(YN125) with a fix, never an error."""

from __future__ import annotations

import yamlnet

SPEC = "nc: 3\nbackbone:\n  - [-1, {a}, Conv, [16, 3, 2]]\n  - [-1, {b}, C3, [16]]\nhead:\n  - [-1, 1, Conv, [8, 1, 1]]\n"


def test_number_zero_is_a_warning_with_the_built_count(tmp_path):
    f = tmp_path / "zero.yaml"
    f.write_text(SPEC.format(a=0, b=0))
    report = yamlnet.validate(f, imgsz=64)
    assert report.ok
    found = [(d.code, d.severity, d.span.line, d.span.column) for d in report.diagnostics]
    assert found == [("YN125", "warning", 3, 10), ("YN125", "warning", 4, 10)]
    conv, c3 = report.diagnostics
    assert "built once" in conv.message and conv.fixes[0].applicability == "safe"
    assert "n = 0" in c3.message and c3.fixes[0].applicability == "unsafe"


def test_number_zero_builds_what_the_references_build(tmp_path):
    zero, one = tmp_path / "zero.yaml", tmp_path / "one.yaml"
    zero.write_text(SPEC.format(a=0, b=0))
    one.write_text(SPEC.format(a=1, b=1))
    m0, m1 = yamlnet.build(zero), yamlnet.build(one)
    assert len(m0.model[1].m) == 0 and len(m1.model[1].m) == 1  # C3 with no inner Bottleneck
    conv = sum(p.numel() for p in m0.model[0].parameters())
    assert conv == sum(p.numel() for p in m1.model[0].parameters()) == 3 * 16 * 9 + 2 * 16  # one Conv, as number 1
    bottleneck = 8 * 8 + 2 * 8 + 8 * 8 * 9 + 2 * 8  # c_ = 8: 1x1 conv + BN, 3x3 conv + BN
    assert m1.n_params - m0.n_params == bottleneck


def test_negative_number_stays_an_error(tmp_path):
    f = tmp_path / "neg.yaml"
    f.write_text(SPEC.format(a=-1, b=1))
    report = yamlnet.validate(f, imgsz=64, static=True)
    assert [(d.code, d.span.line, d.span.column) for d in report.errors] == [("YN116", 3, 10)]
