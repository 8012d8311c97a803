"""Issue 14, item 5: the promise of `validate`, as a property over edits people make to the bundled specs.

    ok    => `build` works and a forward at every checked input size runs, every row with the shape validate
             reported;
    error => if only size diagnostics (YN404, YN407, YN408): the forward at that size fails; otherwise `build`
             refuses the spec too.

Each example applies a few edits to yolov5n or yolo11 (scale n) as a user would (channels, strides, kernels,
`from` indices, inserted and deleted rows, repeats, the Concat dimension, nc, width, the upsample factor, a dropped
head input, a forward reference) and checks the promise against yamlnet's own build and a real forward on small
tensors. Deterministic (derandomize, no example database) and bounded."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yamlnet
from yamlnet.api import parse_imgsz
from yamlnet.diagnostics import SpecError

SIZE_CODES = {"YN404", "YN407", "YN408"}
BASES = {"yolov5n.yaml": {}, "yolo11.yaml": {"scale": "n"}}
SIZES = ("64", "96", "100", "128x96")

Edit = tuple[str, int, int]  # (what, which row / value index, value index)


def _load(name: str) -> dict[str, Any]:
    from conftest import SPECS

    return yaml.safe_load((SPECS / name).read_text())  # test-side editing only: a plain data file


def _apply(doc: dict[str, Any], edit: Edit) -> None:
    what, i, v = edit
    rows = doc["backbone"] + doc["head"]
    nb = len(doc["backbone"])
    r = i % len(rows)
    row = rows[r]
    mod, args = row[2], row[3]
    if what == "channels" and mod in ("Conv", "C3", "C3k2", "SPPF") and args:
        args[0] = (8, 16, 24, 40, 64, 100)[v % 6]
    elif what == "stride" and mod == "Conv" and len(args) >= 3:
        args[2] = (1, 2, 3)[v % 3]
    elif what == "kernel" and mod in ("Conv", "SPPF") and len(args) >= 2:
        args[1] = (1, 2, 3, 4, 5, 6)[v % 6]
    elif what == "from":
        f = row[0]
        choice = (-1, -2, -3, r - 1, r + 1, 0, 4, 6)[v % 8]
        if isinstance(f, list) and f:
            f[v % len(f)] = choice
        else:
            row[0] = choice
    elif what == "insert":
        new = [-1, 1, "Conv", [(16, 32)[v % 2], (1, 3, 2)[v % 3], (1, 2)[(v // 3) % 2]]]
        (doc["backbone"] if r < nb else doc["head"]).insert(r if r < nb else r - nb, new)
    elif what == "delete" and len(rows) > 3:
        (doc["backbone"] if r < nb else doc["head"]).pop(r if r < nb else r - nb)
    elif what == "repeats":
        row[1] = (0, 1, 2, 3)[v % 4]
    elif what == "concat_dim" and mod == "Concat":
        row[3] = [(0, 1, 2, -1)[v % 4]]
    elif what == "nc":
        doc["nc"] = (1, 3, 80)[v % 3]
    elif what == "width" and "width_multiple" in doc:
        doc["width_multiple"] = (0.1, 0.25, 0.33, 0.5)[v % 4]
    elif what == "upsample" and mod == "nn.Upsample":
        args[1] = (1, 2, 3, 4)[v % 4]
    elif what == "drop_head_input" and mod == "Detect" and isinstance(row[0], list) and len(row[0]) > 1:
        row[0].pop(v % len(row[0]))


EDITS = st.tuples(
    st.sampled_from(
        ["channels", "stride", "kernel", "from", "insert", "delete", "repeats", "concat_dim", "nc", "width", "upsample", "drop_head_input"]
    ),
    st.integers(0, 40),
    st.integers(0, 11),
)


def _row_shapes(model: torch.nn.Module, x: torch.Tensor) -> tuple[dict[int, Any], Exception | None]:
    """The output shape of every row's module in a forward (or the exception the forward raised)."""
    shapes: dict[int, Any] = {}
    hooks = []
    for name, m in model.named_modules():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == "model" and parts[1].isdigit():
            pos = int(parts[1])

            def hook(_m: Any, _i: Any, out: Any, pos: int = pos) -> None:
                shapes[pos] = tuple(out.shape) if isinstance(out, torch.Tensor) else [tuple(o.shape) for o in out if isinstance(o, torch.Tensor)]

            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
        return shapes, None
    except Exception as e:  # the promise decides whether a failure was announced
        return shapes, e
    finally:
        for h in hooks:
            h.remove()


@settings(max_examples=22, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(sorted(BASES)), edits=st.lists(EDITS, min_size=1, max_size=3), size=st.sampled_from(SIZES))
def test_validate_keeps_its_promise(base: str, edits: list[Edit], size: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    doc = _load(base)
    for e in edits:
        _apply(doc, e)
    f = tmp_path_factory.mktemp("promise") / base
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    over = BASES[base]
    report = yamlnet.validate(f, imgsz=size, **over)
    h, w = parse_imgsz(size)
    if report.ok:
        model = yamlnet.build(f, **over).eval()
        shapes, failed = _row_shapes(model, torch.zeros(1, 3, h, w))
        assert failed is None, f"validate said ok at {size}, the forward failed: {failed}\n{f.read_text()}"
        for pos, want in report.shapes[f"{h}x{w}"].items():
            if want is not None and pos in shapes:
                assert shapes[pos] == want, (pos, f.read_text())
        return
    codes = {d.code for d in report.errors}
    if codes <= SIZE_CODES:
        model = yamlnet.build(f, **over).eval()  # the spec itself is fine: only this input size fails
        _, failed = _row_shapes(model, torch.zeros(1, 3, h, w))
        assert failed is not None, f"validate reported {sorted(codes)} at {size}, the forward ran\n{report.render()}\n{f.read_text()}"
    else:
        with pytest.raises(SpecError):
            yamlnet.build(f, **over)
