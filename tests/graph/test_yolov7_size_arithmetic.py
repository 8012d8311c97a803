"""The YOLOv7 half of tests/graph/test_size_arithmetic.py: the sizes `validate` reports for YOLOv7 rows follow
the real padding arithmetic of their declarations (Conv's and RepConv's kernel and padding, MP's and SP's floor),
checked against a real forward at several input sizes (odd ones too); an even kernel in a YOLOv7 row is blamed at
that row (YN407), as YOLOv5's is."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import yamlnet
from yamlnet.api import parse_imgsz

ROWS = [
    "Conv, [8, 2, 1]",
    "Conv, [8, 4, 2, None, 1, nn.LeakyReLU(0.1)]",
    "Conv, [8, 3, 2, 0]",
    "Conv, [8, [2, 3], 1]",
    "RepConv, [8, 3, 2]",
    "SP, [5, 2]",
    "DownC, [8]",
    "Stem, [8]",
    "ReOrg, []",
    "SPPCSPC, [8]",
]
SIZES = ["32", "33", "37x30"]
HEAD = "nc: 3\ndialect: yolov7\nbackbone:\n  - [-1, 1, Conv, [8, 3, 1]]\n"


def _forward(model: Any, h: int, w: int) -> Any:
    """The output shape(s) of the built model at h x w, or None when the forward fails."""
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, h, w))
    except RuntimeError:
        return None
    return [tuple(t.shape) for t in out] if isinstance(out, (list, tuple)) else tuple(out.shape)


@pytest.mark.parametrize("row", ROWS)
def test_reported_sizes_are_the_forward_sizes(row: str, tmp_path) -> None:
    f = tmp_path / "row.yaml"
    f.write_text(HEAD + f"  - [-1, 1, {row}]\n")
    model = yamlnet.build(f).eval()
    for size in SIZES:
        report = yamlnet.validate(f, imgsz=size)
        h, w = parse_imgsz(size)
        got = _forward(model, h, w)
        if got is None:  # DownC, Stem and ReOrg at odd sizes: their own rule on their row
            assert [(d.code, d.span.line) for d in report.errors] == [("YN404", 5)], (size, report.render())
        else:
            assert report.ok, (size, report.render())
            assert report.shapes[f"{h}x{w}"][1] == got, size


@pytest.mark.parametrize(("size", "fails"), [("32", False), ("48x40", False), ("33", True), ("32x37", True)])
def test_mp_beside_a_strided_conv_needs_even_sizes(size: str, fails: bool, tmp_path) -> None:
    """YOLOv7's downsampling: MP (floor) and a stride-2 conv (ceil) joined; an odd map fails at the join, and the
    diagnostics are MP's rule on the MP row (a lone MP would run: its rule is about the join it always feeds) and
    the join's sizes."""
    f = tmp_path / "mp.yaml"
    f.write_text(HEAD + "  - [-1, 1, MP, []]\n  - [-2, 1, Conv, [8, 3, 2]]\n  - [[-1, -2], 1, Concat, [1]]\n")
    report = yamlnet.validate(f, imgsz=size)
    h, w = parse_imgsz(size)
    got = _forward(yamlnet.build(f).eval(), h, w)
    if fails:
        assert [(d.code, d.span.line, d.span.column) for d in report.errors] == [("YN404", 5, 5), ("YN404", 7, 6)]  # MP's rule, the join
        assert got is None
    else:
        assert report.ok, report.render()
        assert report.shapes[f"{h}x{w}"][3] == got == (1, 16, h // 2, w // 2)


def test_an_even_kernel_is_blamed_at_its_row_with_a_label_at_the_join(tmp_path) -> None:
    """YOLOv7-tiny with an even kernel in its first ELAN stage (row 4): YN407 on that row's kernel, the join (row
    6) labelled, no follow-on rounding error at the MP below it, and the forward indeed fails at that join."""
    from conftest import SPECS

    text = (SPECS / "yolov7-tiny.yaml").read_text()
    row = "  - [-1, 1, Conv, [32, 3, 1, None, 1, nn.LeakyReLU(0.1)]]  # 4"
    assert text.count(row) == 1
    f = tmp_path / "y.yaml"
    f.write_text(text.replace(row, row.replace("[32, 3, 1", "[32, 2, 1")))
    report = yamlnet.validate(f, imgsz=["256", "640"])
    [d] = report.errors
    assert (d.code, d.span.line, d.span.column) == ("YN407", 20, 24)
    assert [(x.span.line, x.span.column) for x in d.labels] == [(22, 6)]
    assert "layer 4 is 65x65" in d.labels[0].text and "layer 3 is 64x64" in d.labels[0].text
    assert d.fixes and d.fixes[0].edits[0].replacement == "3"
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"), torch.no_grad():
        yamlnet.build(f)(torch.zeros(1, 3, 256, 256))
