"""Which YAML dialect a spec is written in (YOLOv5, Ultralytics, YOLOv7, YOLOv9), and which Ultralytics scale it uses.

The dialects share the row format but not every block: YOLOv5's `Detect [nc, anchors]` is an anchor head,
Ultralytics' `Detect [nc]` an anchor-free one, and Ultralytics files scale by `scales:` entries
`[depth, width, max_channels]` chosen by a letter. An explicit `dialect:` key decides. Otherwise the evidence
is weighed: header keys (`scales:` for Ultralytics; `anchors:` for the YOLOv5 family: YOLOv5, YOLOv7, YOLOv9)
weigh more than a block name, because one misspelled row must not turn a whole file into another dialect (its
row gets the error instead); a block that only some dialects declare, and a row whose arguments fit only some
dialects' declarations, count one each. A file with no evidence reads the same in YOLOv5 and Ultralytics
unless a row's block differs; then it is ambiguous and gets a warning that says how to state the dialect.
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


PRIMARY = (YOLOV5, ULTRALYTICS)  # read without evidence for another; others need evidence of their own

# Top-level keys and the dialects they belong to. A header key weighs more than any one block: a file's own
# header is what its author wrote for the tool, a block name may be one misspelled row.
HEADER_EVIDENCE = {
    "scales": frozenset({ULTRALYTICS}),
    "anchors": frozenset({YOLOV5, "yolov7", "yolov9"}),
}
HEADER_WEIGHT = 3
ROW_WEIGHT = 1


@dataclass(frozen=True)
class Evidence:
    """One fact of the file that only some dialects explain."""

    dialects: frozenset[str]
    why: str
    span: Span
    weight: int


def gather(top: dict[str, Any], rows: list[tuple[str, int, Span, tuple[Any, ...]]]) -> tuple[list[Evidence], list[tuple[str, Span]]]:
    """The file's evidence, and the rows whose block means a different declaration in different dialects
    without their arguments telling which."""
    evidence: list[Evidence] = []
    for key, dialects in HEADER_EVIDENCE.items():
        if key in top:
            evidence.append(Evidence(dialects, f"it has `{key}:`", top[key].key_span or top[key].span, HEADER_WEIGHT))
    differing: list[tuple[str, Span]] = []
    # a head row without anchors can mean an anchor head only when the header has an anchor table to fill in;
    # `anchors: 3` (a count, as YOLOv9's anchor-free files carry it) gives an anchor head nothing
    anchor_table = "anchors" in top and isinstance(top["anchors"].value, list)
    global _READINGS
    if _READINGS[0] != registry.state():
        _READINGS = (registry.state(), {})
    known = _READINGS[1]
    for module, n_args, span, written in rows:
        key = (module, n_args, anchor_table, _anchor_kinds(written))
        reading = known.get(key)
        if reading is None:
            reading = known[key] = _reading(module, n_args, anchor_table, written)
        if reading[0] == "differs":
            differing.append((module, span))
        elif reading[0] == "evidence":
            evidence.append(Evidence(reading[1], reading[2], span, ROW_WEIGHT))
    return evidence, differing


_READINGS: tuple[tuple[int, int], dict[tuple[Any, ...], tuple[Any, ...]]] = ((-1, -1), {})  # (registry state, row form -> reading)


def _anchor_kinds(written: tuple[Any, ...]) -> tuple[bool, ...]:
    """What `_fits` reads of the arguments as written: whether each is a plain number."""
    return tuple(isinstance(w, (int, float)) and not isinstance(w, bool) for w in written)


def _reading(module: str, n_args: int, anchor_table: bool, written: tuple[Any, ...]) -> tuple[Any, ...]:
    """What a row of this block, with this many arguments, tells of the dialect: ("evidence", dialects, why),
    ("differs",) when it means different blocks in YOLOv5 and Ultralytics and its form does not tell which, or
    ("none",). A function of the registry and the row's form only, so `gather` keeps it per registry state."""
    own = registry.dialects_of(module)
    shared = registry.lookup(module, None) is not None
    if own and not shared and len(own) < len(registry.DIALECTS):
        names = " and ".join(_title(d) for d in own)
        return ("evidence", frozenset(own), f"`{module}` is a block of {names}")
    readings = {d: registry.lookup(module, d) for d in registry.DIALECTS}
    if any(v is None for v in readings.values()) or len({id(v) for v in readings.values()}) < 2:
        return ("none",)
    fits = frozenset(d for d, decl in readings.items() if decl is not None and _fits(decl, n_args, anchor_table, written))
    if fits and len(fits) < len(readings):
        return ("evidence", fits, f"`{module}` with {n_args} argument{'s' * (n_args != 1)} has the form of {_names(fits)}")
    if readings[YOLOV5] is not readings[ULTRALYTICS]:  # the default readings differ (YOLOv7's Conv alone does not)
        return ("differs",)
    return ("none",)


def detect(top: dict[str, Any], rows: list[tuple[str, int, Span, tuple[Any, ...]]], file: str) -> tuple[str, list[Diagnostic]]:
    """The dialect of a spec from its top-level YNodes and its rows as (module, number of args, module span,
    the arguments as written).

    Every piece of evidence votes, with its weight, for the dialects it fits; the dialect with the most wins.
    Ultralytics and YOLOv5 win ties over the others (which need evidence of their own), in that order. A tie
    between YOLOv5 and Ultralytics with evidence on both sides, or rows that mean different blocks in the two
    with no evidence at all, is ambiguous (YN120, a warning with fixes that state the dialect). Rows that
    contradict the winner are not reported here: each gets its own error on its own row when it is read.
    """
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
    evidence, differing = gather(top, rows)
    score = {d: sum(e.weight for e in evidence if d in e.dialects) for d in registry.DIALECTS}
    best = max(score.values())
    tied = [d for d in registry.DIALECTS if score[d] == best]
    winner = next((d for d in (ULTRALYTICS, YOLOV5) if d in tied), tied[0])
    if best == 0 or (ULTRALYTICS in tied and YOLOV5 in tied and not _separates(evidence, ULTRALYTICS, YOLOV5)):
        # nothing tells YOLOv5 from Ultralytics (a Conv with 7 arguments is evidence only against YOLOv7)
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
                    fixes=_dialect_fixes(top, file, (ULTRALYTICS, YOLOV5)),
                )
            ]
        return YOLOV5, []
    rivals = [d for d in tied if d != winner and d in PRIMARY and _separates(evidence, winner, d)]
    if not rivals:
        return winner, []
    other = rivals[0]
    for_winner = next(e for e in evidence if winner in e.dialects and other not in e.dialects)
    for_other = next(e for e in evidence if other in e.dialects and winner not in e.dialects)
    return winner, [
        Diagnostic(
            "YN120",
            f"the spec mixes dialects: {for_winner.why} ({_title(winner)}) but {for_other.why} ({_title(other)}); reading it as {_title(winner)}",
            for_winner.span,
            severity="warning",
            label=_title(winner),
            labels=(Label(for_other.span, _title(other)),),
            help=f"state the dialect with a top-level `dialect: {winner}` or `dialect: {other}`",
            fixes=_dialect_fixes(top, file, (winner, other)),
        )
    ]


def _separates(evidence: list[Evidence], a: str, b: str) -> bool:
    """Whether some evidence fits one of the two dialects and not the other."""
    return any((a in e.dialects) != (b in e.dialects) for e in evidence)


def _names(dialects: frozenset[str]) -> str:
    return " and ".join(_title(d) for d in registry.DIALECTS if d in dialects)


def _first_key_span(top: dict[str, Any], file: str) -> Span:
    """Where a new top-level key goes: before the first one (an insertion at column 1)."""
    lines = [(v.key_span or v.span).line for v in top.values() if (v.key_span or v.span).line > 0]
    line = min(lines) if lines else 1
    return Span(file, line, 1, line, 1)


def _dialect_fixes(top: dict[str, Any], file: str, dialects: tuple[str, ...]) -> tuple[Fix, ...]:
    at = _first_key_span(top, file)
    return tuple(Fix(f"state `dialect: {d}`", (Edit(at, f"dialect: {d}\n"),), "unsafe") for d in dialects)


def _fits(decl: registry.BlockDecl, n_args: int, has_anchors: bool, written: tuple[Any, ...] = ()) -> bool:
    """Whether a row with `n_args` arguments can mean this block: its required arguments are all given, and an
    anchor head gets its anchors (from the row, or from a top-level anchor table the row can name). A plain
    number where an anchor head's anchors go (`Segment [nc, 32, 256]`: the anchor-free heads' mask count) is
    not counted as that head's form: anchor files name their table there (`[nc, anchors, 32, 256]`)."""
    yaml_args = decl.yaml_args()
    required = sum(1 for a in yaml_args if a.default is registry.REQUIRED)
    if not required <= n_args <= len(yaml_args):
        return False
    names = [a.name for a in yaml_args]
    if "anchors" not in names:
        return True
    i = names.index("anchors")
    if i >= n_args:
        return has_anchors
    given = written[i] if i < len(written) else None
    return not (isinstance(given, (int, float)) and not isinstance(given, bool))


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
