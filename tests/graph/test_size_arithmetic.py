"""Issue 14, item 1: the sizes validation reports follow the real padding arithmetic (YOLOv5's autopad k // 2, so
an even kernel grows a map by one; torch's rules for its own layers), checked against a real forward: for each
row below, the shape `validate` reports at several input sizes (odd ones too) is the shape the built model
returns, and a row whose block cannot run at its own kernel is an error exactly when the forward fails."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import yamlnet
from yamlnet.api import parse_imgsz

V5 = "yolov5"
UL = "ultralytics"
ROWS = [
    (V5, "Conv, [8, 2, 1]"),
    (V5, "Conv, [8, 2, 2]"),
    (V5, "Conv, [8, 4, 2]"),
    (V5, "Conv, [8, 6, 2, 2]"),
    (V5, "Conv, [8, 3, 2, 0]"),
    (V5, "Conv, [8, 3, 1, None, 1, 2]"),
    (V5, "Conv, [8, [2, 3], 1]"),
    (V5, "DWConv, [8, 2, 1]"),
    (V5, "GhostConv, [8, 4, 2]"),
    (V5, "Focus, [8, 2]"),
    (V5, "CrossConv, [8, 2, 1]"),
    (V5, "CrossConv, [8, 2, 1, 1, 1.0, True]"),
    (V5, "MixConv2d, [8, [1, 3], 1]"),
    (V5, "MixConv2d, [8, [2, 3], 1]"),
    (V5, "GhostBottleneck, [8, 2, 2]"),
    (V5, "GhostBottleneck, [8, 4, 1]"),
    (V5, "DWConvTranspose2d, [8, 3, 2, 1, 1]"),
    (V5, "nn.Conv2d, [8, 8, 2, 1, 0]"),
    (V5, "nn.Conv2d, [8, 8, 3, 2, 1, 2]"),
    (V5, "nn.Conv2d, [8, 8, 3, 1, 'same']"),
    (V5, "nn.MaxPool2d, [2, 2, 0, 1, False, True]"),
    (V5, "nn.MaxPool2d, [3, 2, 1]"),
    (V5, "nn.MaxPool2d, [2]"),
    (V5, "nn.ZeroPad2d, [[1, 0, 2, 0]]"),
    (V5, "nn.ConvTranspose2d, [8, 3, 2, 1, 1]"),
    (V5, "nn.Upsample, [None, 2, 'nearest']"),
    (UL, "Bottleneck, [8, False, 1, [2, 3]]"),
    (UL, "Bottleneck, [8, True, 1, [2, 3]]"),
    (UL, "SCDown, [8, 4, 2]"),
    (UL, "ConvTranspose, [8, 3, 2, 1]"),
    (UL, "ADown, [8]"),
    (UL, "AConv, [8]"),
    (UL, "CBLinear, [[8, 16], 2, 1]"),  # two taps of one even-kernel conv
]
SIZES = ["32", "33", "37x30"]


def _spec(row: str) -> str:
    return f"nc: 3\nbackbone:\n  - [-1, 1, Conv, [8, 3, 1]]\n  - [-1, 1, {row}]\n"


@pytest.mark.parametrize(("dialect", "row"), ROWS, ids=[r for _, r in ROWS])
def test_reported_sizes_are_the_forward_sizes(dialect: str, row: str, tmp_path) -> None:
    f = tmp_path / "row.yaml"
    f.write_text(_spec(row))
    model = None
    for size in SIZES:
        report = yamlnet.validate(f, imgsz=size, dialect=dialect)
        h, w = parse_imgsz(size)
        if model is None and report.ir is not None and not yamlnet.analyze(f, dialect=dialect).errors:
            model = yamlnet.build(f, dialect=dialect).eval()
        assert model is not None, report.render()
        try:
            with torch.no_grad():
                out = model(torch.zeros(1, 3, h, w))
            got: Any = [tuple(t.shape) for t in out] if isinstance(out, (list, tuple)) else tuple(out.shape)
        except RuntimeError:
            got = None
        if got is None:
            assert [d.code for d in report.errors] in (["YN408"], ["YN404"]), (size, report.render())  # YN404: Focus at odd sizes
            assert report.errors[0].span.line == 4
        else:
            assert report.ok, (size, report.render())
            assert report.shapes[f"{h}x{w}"][1] == got, size


def test_an_even_kernel_is_blamed_at_its_row_with_a_label_at_the_join(tmp_path) -> None:
    """The issue's example: yolov5s with `Conv [128, 2, 2]` in row 1 validated ok and failed at the first Concat."""
    from conftest import SPECS

    text = (SPECS / "yolov5s.yaml").read_text()
    f = tmp_path / "y.yaml"
    f.write_text(text.replace("[-1, 1, Conv, [128, 3, 2]],     # 1", "[-1, 1, Conv, [128, 2, 2]],     # 1"))
    report = yamlnet.validate(f, imgsz=["256", "640"])
    [d] = report.errors  # one diagnostic for both sizes
    assert (d.code, d.span.line, d.span.column) == ("YN407", 15, 25)
    assert [(x.span.line, x.span.column) for x in d.labels] == [(30, 6)]
    assert "18x18" in d.labels[0].text and "17x17" in d.labels[0].text
    assert d.fixes and d.fixes[0].edits[0].replacement == "3"
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        yamlnet.build(f)(torch.zeros(1, 3, 256, 256))


def test_a_size_change_that_reaches_the_head_is_a_warning(tmp_path) -> None:
    from conftest import SPECS

    text = (SPECS / "yolov5s.yaml").read_text()
    f = tmp_path / "y.yaml"
    marker = "[-1, 3, C3, [1024, False]],                    # 23"
    assert marker in text
    f.write_text(text.replace(marker, "[-1, 1, Conv, [1024, 2, 1]],                    # 23"))
    report = yamlnet.validate(f, imgsz=["256", "640"])
    assert report.ok, report.render()
    warned = [(d.code, d.span.line) for d in report.warnings]
    assert warned == [("YN406", 44)]  # once, for both sizes
    assert "9x9" in report.warnings[0].message and "not 8x8" in report.warnings[0].message
    out = yamlnet.build(f).eval()(torch.zeros(1, 3, 256, 256))  # the model runs, with the reported 9x9 level
    assert tuple(out[0].shape) == (1, 3 * (32 * 32 + 16 * 16 + 9 * 9), 85)
