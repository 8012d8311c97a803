"""Which YAML dialect a spec is written in (YOLOv5 or Ultralytics), and which Ultralytics scale it uses.

The two dialects share the row format but not every block: YOLOv5's `Detect [nc, anchors]` is an anchor head,
Ultralytics' `Detect [nc]` an anchor-free one, and Ultralytics files scale by `scales:` entries
`[depth, width, max_channels]` chosen by a letter. The evidence, strongest first: an explicit `dialect:` key,
`scales:` (Ultralytics), `anchors:` (YOLOv5), a block only one dialect declares, and a row whose arguments fit
only one dialect's declaration. A file with no evidence reads the same in both unless a row's block differs;
then it is ambiguous and gets a warning that says how to state the dialect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import registry
from ..diagnostics import Diagnostic, Edit, Fix, Label, Span

YOLOV5 = "yolov5"
ULTRALYTICS = "ultralytics"

_SCALE_IN_NAME = re.compile(r"yolo(e-)?[v]?\d+([nslmx])")  # the file-name rule: yolo11n -> n, yolov8s-seg -> s
_UNIFY = re.compile(r"(\d+)([nslmx])(.+)?$")


def scale_from_name(path: str) -> str | None:
    """The scale letter a file name carries, read as Ultralytics reads it (`yolo11n.yaml` -> "n")."""
    if path == "<string>":
        return None
    m = _SCALE_IN_NAME.search(Path(path).stem)
    return m.group(2) if m else None


def unscaled_path(path: str) -> Path | None:
    """`yolo11n.yaml` -> `yolo11.yaml` (the file the scaled name stands for), or None when the name has no scale."""
    p = Path(path)
    stem = _UNIFY.sub(r"\1\3", p.stem)
    return None if stem == p.stem else p.with_name(stem + p.suffix)


@dataclass(frozen=True)
class Evidence:
    dialect: str
    why: str
    span: Span


def detect(top: dict[str, Any], rows: list[tuple[str, int, Span]], file: str) -> tuple[str, list[Diagnostic]]:
    """The dialect of a spec from its top-level YNodes and its rows as (module, number of args, module span)."""
    if "dialect" in top:
        v = top["dialect"].value
        if v in registry.DIALECTS:
            return str(v), []
        return YOLOV5, [
            Diagnostic(
                "YN104",
                f"`dialect`: {v!r} is not a dialect yamlnet reads",
                top["dialect"].span,
                help=f"write one of: {', '.join(registry.DIALECTS)}",
            )
        ]
    evidence: list[Evidence] = []
    if "scales" in top:
        evidence.append(Evidence(ULTRALYTICS, "it has `scales:`", top["scales"].key_span or top["scales"].span))
    if "anchors" in top:
        evidence.append(Evidence(YOLOV5, "it has `anchors:`", top["anchors"].key_span or top["anchors"].span))
    differing: list[tuple[str, Span]] = []
    for module, n_args, span in rows:
        own = registry.dialects_of(module)
        shared = registry.lookup(module, None) is not None
        if len(own) == 1 and not shared:
            evidence.append(Evidence(own[0], f"`{module}` is a {_title(own[0])} block", span))
            continue
        readings = {d: registry.lookup(module, d) for d in registry.DIALECTS}
        if len({id(v) for v in readings.values()}) < 2 or any(v is None for v in readings.values()):
            continue
        fits = [d for d, decl in readings.items() if decl is not None and _fits(decl, n_args, "anchors" in top)]
        if len(fits) == 1:
            evidence.append(Evidence(fits[0], f"`{module}` with {n_args} argument{'s' * (n_args != 1)} is {_title(fits[0])}'s form", span))
        else:
            differing.append((module, span))
    kinds = {e.dialect for e in evidence}
    if len(kinds) == 1:
        return kinds.pop(), []
    if len(kinds) > 1:
        first = {d: next(e for e in evidence if e.dialect == d) for d in kinds}
        u, v = first[ULTRALYTICS], first[YOLOV5]
        return u.dialect, [
            Diagnostic(
                "YN120",
                f"the spec mixes dialects: {u.why} (Ultralytics) but {v.why} (YOLOv5); reading it as Ultralytics",
                u.span,
                severity="warning",
                label="Ultralytics",
                labels=(Label(v.span, "YOLOv5"),),
                help="state the dialect with a top-level `dialect: ultralytics` or `dialect: yolov5`",
                fixes=_dialect_fixes(top, file),
            )
        ]
    if differing:
        module, span = differing[0]
        return YOLOV5, [
            Diagnostic(
                "YN120",
                f"cannot tell whether this is a YOLOv5 or an Ultralytics spec; `{module}` means a different block in each",
                span,
                severity="warning",
                notes=("reading it as YOLOv5",),
                help="state the dialect with a top-level `dialect: ultralytics` or `dialect: yolov5` (or pass --dialect)",
                fixes=_dialect_fixes(top, file),
            )
        ]
    return YOLOV5, []


def _first_key_span(top: dict[str, Any], file: str) -> Span:
    """Where a new top-level key goes: before the first one (an insertion at column 1)."""
    lines = [(v.key_span or v.span).line for v in top.values() if (v.key_span or v.span).line > 0]
    line = min(lines) if lines else 1
    return Span(file, line, 1, line, 1)


def _dialect_fixes(top: dict[str, Any], file: str) -> tuple[Fix, ...]:
    at = _first_key_span(top, file)
    return tuple(Fix(f"state `dialect: {d}`", (Edit(at, f"dialect: {d}\n"),), "unsafe") for d in (ULTRALYTICS, YOLOV5))


def _fits(decl: registry.BlockDecl, n_args: int, has_anchors: bool) -> bool:
    """Whether a row with `n_args` arguments can mean this block: its required arguments are all given, and an
    anchor head gets its anchors (from the row, or from a top-level `anchors:` the row can name)."""
    yaml_args = decl.yaml_args()
    required = sum(1 for a in yaml_args if a.default is registry.REQUIRED)
    if not required <= n_args <= len(yaml_args):
        return False
    names = [a.name for a in yaml_args]
    return has_anchors or "anchors" not in names or names.index("anchors") < n_args


def _title(dialect: str) -> str:
    return registry.dialect_title(dialect)


def choose_scale(
    scales: dict[str, list[float]] | None, asked: str | None, asked_span: Span | None, file: str, scales_span: Span
) -> tuple[str | None, list[Diagnostic]]:
    """The scale letter to use: the one asked for (scale=, --scale, a `scale:` key), else the file name's, else
    the first with a warning (as Ultralytics does)."""
    if not scales:
        if asked is not None and asked_span is not None:
            return None, [
                Diagnostic(
                    "YN121",
                    f"scale `{asked}` was asked for, but the spec has no `scales:`",
                    asked_span,
                    help="remove the scale, or add `scales:` with `[depth, width, max_channels]` per letter",
                )
            ]
        return None, []
    if asked is not None:
        if asked in scales:
            return asked, []
        return None, [
            Diagnostic(
                "YN121",
                f"the spec has no scale `{asked}`",
                asked_span or scales_span,
                help=f"its scales are {', '.join(scales)}",
                fixes=tuple(Fix(f"use scale `{k}`", (Edit(asked_span, k),), "unsafe") for k in scales)
                if asked_span and asked_span.end_line == asked_span.line
                else (),
            )
        ]
    from_name = scale_from_name(file)
    if from_name in scales:
        return from_name, []
    first = next(iter(scales))
    return first, [
        Diagnostic(
            "YN122",
            f"no scale given; using `{first}`, the first of {', '.join(scales)}",
            scales_span,
            severity="warning",
            help=f"pass --scale (scale= in Python) or name the file with the letter, e.g. {_example_name(file, first)}",
            fixes=(
                tuple(
                    Fix(f"pin scale `{k}` in the file", (Edit(Span(file, scales_span.line, 1, scales_span.line, 1), f"scale: {k}\n"),), "unsafe")
                    for k in scales
                )
                if scales_span.line > 0 and scales_span.column == 1
                else ()
            ),
        )
    ]


def _example_name(file: str, letter: str) -> str:
    if file == "<string>":
        return f"yolo11{letter}.yaml"
    p = Path(file)
    m = re.search(r"(\d+)", p.stem)
    if not m:
        return f"{p.stem}-{letter}{p.suffix}"
    return p.with_name(p.stem[: m.end()] + letter + p.stem[m.end() :] + p.suffix).name
