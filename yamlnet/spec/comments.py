"""Index comments: YOLO YAMLs number their rows in comments (`# 4`, `# 17 (P3/8-small)`, `# 0-P1/2`). When a
row is inserted or removed, the comments keep the old numbers while every later index shifts, and the head's
absolute references (`[[-1, 14], 1, Concat, [1]]`) quietly point at the wrong rows. A comment that disagrees
with its row's index is reported at the first such row, with the references that cross the shift and a fix
that points them back at the rows they were written for and renumbers the comments.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Edit, Fix, Label, SourceText, Span
from .model import Ref, Row

# `# 4`, `# 17 (P3/8-small)`, `# 0-P1/2`, `# 5: on P5`: a number first, then the end, a space or punctuation
_INDEX = re.compile(r"#\s*(\d{1,5})(?=$|[\s\-(:,;])")
_AFTER_ROW = re.compile(r"^\s*,?\s*(?=#)")
MAX_SHIFT = 16  # more than this is not an edit of a numbered file, the numbers mean something else


@dataclass(frozen=True)
class RowAt:
    """A row as the parser met it (also when it was dropped for errors): position, index, where it is."""

    position: int
    index: int  # the number `from` uses for it
    span: Span
    module: str


@dataclass(frozen=True)
class _Comment:
    row: RowAt
    number: int
    span: Span  # the digits


def _comment(src: SourceText, row: RowAt) -> _Comment | None:
    sp = row.span
    if sp.line <= 0 or sp.end_line != sp.line or not sp.end_column:
        return None  # a row over several lines (a block mapping): its comments are not index comments
    text = src.line(sp.line)
    if text is None:
        return None
    rest = text[sp.end_column - 1 :]
    lead = _AFTER_ROW.match(rest)
    if not lead:
        return None
    m = _INDEX.match(rest, lead.end())
    if not m:
        return None
    col = sp.end_column + m.start(1)
    return _Comment(row, int(m.group(1)), Span(sp.file, sp.line, col, sp.line, col + len(m.group(1))))


def index_comment(src: SourceText, row: RowAt) -> tuple[int, Span] | None:
    """The number of a row's index comment (`# 17 (P3/8-small)` -> 17) and the span of its digits, if it has one."""
    c = _comment(src, row)
    return None if c is None else (c.number, c.span)


MAX_CANDIDATES = 12  # ways to place the inserted (or removed) rows that are offered as fixes


def check_index_comments(src: SourceText, rows_at: list[RowAt], rows: list[Row], fixed_slots: int = 0) -> list[Diagnostic]:
    """YN209 when index comments disagree with the rows' indices. `fixed_slots`: indices below it never move
    (the taps of a multi-output row 0 in the seeds' numbering)."""
    comments = [c for c in (_comment(src, r) for r in rows_at) if c is not None]
    if len(comments) < 2:
        return []
    numbers = [c.number for c in comments]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        return []  # not a numbering
    shifts = [c.row.index - c.number for c in comments]
    if any(abs(d) > MAX_SHIFT for d in shifts) or not (0 in shifts or len(set(shifts)) == 1):
        return []  # numbers that are something else (channels, sizes)
    first = next((c for c, d in zip(comments, shifts, strict=True) if d), None)
    if first is None:
        return []

    by_index = {r.index: r for r in rows_at}
    by_position = {r.position: r for r in rows_at}
    refs = [(row, ref) for row in rows for ref in row.refs if ref.index is not None and ref.index >= fixed_slots and ref.row_name is None]
    windows = _windows(comments, [r.index for r in rows_at if r.index >= fixed_slots], fixed_slots)

    def window_of(k: int) -> _Window | None:
        return next((w for w in windows if w.old_lo < k < w.old_hi), None)

    def fixed_new(k: int) -> int:
        """The index now of old index k outside the windows where rows were inserted or removed."""
        i = bisect.bisect_left(numbers, k)
        if i < len(numbers) and numbers[i] == k:
            return comments[i].row.index
        return k + (shifts[i - 1] if i > 0 else 0)

    used = [w for w in windows if any(window_of(ref.index) is w for _, ref in refs)]  # type: ignore[arg-type]
    choices: list[list[dict[int, int | None]]] = [w.placements() for w in used]
    candidates: list[dict[int, int | None]] = [{}]
    for options in choices:
        candidates = [{**c, **o} for c in candidates for o in options]
        if len(candidates) > MAX_CANDIDATES:
            candidates = []
            break

    def new_of(k: int, cand: dict[int, int | None]) -> int | None:
        return cand[k] if k in cand else (None if window_of(k) is not None else fixed_new(k))

    labels: list[Label] = []
    crossing: list[str] = []
    unsure = not candidates
    for row, ref in refs:
        k = ref.index
        assert k is not None
        w = window_of(k)
        here = by_position[row.position].index if row.position in by_position else row.position
        if w is None:
            new = fixed_new(k)
            if new == k:
                continue
            labels.append(Label(ref.span, f"meant {_module_at(by_index, new)}, now index {new}; index {k} is {_module_at(by_index, k)}"))
            crossing.append(f"{ref.text} -> {new} (in row {here})")
            continue
        values = [new_of(k, c) for c in candidates]
        now = sorted({n for n in values if n is not None})
        removed = any(n is None for n in values)
        if now == [k] and not removed:
            continue
        what = f"between the rows commented {w.old_lo} and {w.old_hi}, {'rows were' if abs(len(w.new) - len(w.old)) > 1 else 'a row was'} "
        what += "inserted" if w.inserted else "removed"
        could = " or ".join([f"{n} ({_module_at(by_index, n)})" for n in now] + (["a removed row"] if removed else []))
        labels.append(Label(ref.span, f"{what}: index {k} now means {could or 'one of the rows between them'}; check it by hand"))
        crossing.append(f"{ref.text} -> {' or '.join([str(n) for n in now] + (['removed'] if removed else [])) or '?'} (in row {here})")

    comment_edits = tuple(Edit(c.span, str(c.row.index)) for c, d in zip(comments, shifts, strict=True) if d)
    distinct: dict[tuple[Edit, ...], dict[int, int | None]] = {}  # edits -> the first placement that gives them
    broken = False
    for cand in candidates:
        if any(new_of(ref.index, cand) is None for _, ref in refs):  # type: ignore[arg-type]
            broken = True  # under this placement a reference points at a removed row: nothing to point it at
            continue
        edits = tuple(e for _, ref in refs for e in [_ref_edit(src, ref, new_of(ref.index, cand))] if e is not None)  # type: ignore[arg-type]
        distinct.setdefault(edits, cand)
    certain = len(distinct) == 1 and not broken
    fixes: list[Fix] = []
    for edits, cand in distinct.items():
        n = len(edits)
        title = (f"point {n} reference{'s' * (n != 1)} back at {'its row' if n == 1 else 'their rows'} and " if n else "") + (
            f"renumber {len(comment_edits)} index comment{'s' * (len(comment_edits) != 1)}"
        )
        inserted = [i for w in used for i in w.new_rows(cand)]
        if len(distinct) > 1 and inserted:
            title += ", taking " + ", ".join(f"{i} ({_module_at(by_index, i)})" for i in inserted) + " as the inserted row"
        fixes.append(Fix(title, edits + comment_edits, "safe" if certain else "unsafe"))
    if crossing or not fixes:
        fixes.append(Fix("renumber the index comments only (the references are already right)", comment_edits, "unsafe"))
    unsure = unsure or not certain
    notes = []
    if crossing:
        notes.append("absolute references that cross the shift: " + ", ".join(crossing))
        if unsure:
            notes.append("rows without an index comment leave it open which row was inserted or removed; the fixes are guesses")
    else:
        notes.append("no absolute reference crosses the shift; only the comments are stale")
    d0 = first.row.index - first.number
    way = f"{d0} later" if d0 > 0 else f"{-d0} earlier"
    what = "a row was inserted above it" if d0 > 0 else "a row above it was removed"
    return [
        Diagnostic(
            "YN209",
            f"row {first.row.index} is commented `# {first.number}`: rows from here on sit {way} than their comments say ({what})",
            first.row.span,
            severity="warning",
            label=f"index {first.row.index}, commented {first.number}",
            labels=tuple(labels),
            notes=tuple(notes),
            help="point the references at the rows they were written for and renumber the comments (`yamlnet fix FILE`)"
            if crossing
            else "renumber the comments (`yamlnet fix FILE`)",
            fixes=tuple(fixes),
        )
    ]


@dataclass(frozen=True)
class _Window:
    """Between two commented rows whose shifts differ: old indices old_lo < k < old_hi became the rows `new`."""

    old_lo: int
    old_hi: int
    new: tuple[int, ...]  # indices of the rows now between the two

    @property
    def old(self) -> tuple[int, ...]:
        return tuple(range(self.old_lo + 1, self.old_hi))

    @property
    def inserted(self) -> bool:
        return len(self.new) > len(self.old)

    def placements(self) -> list[dict[int, int | None]]:
        """Every order-keeping way the old rows map onto the rows now there (None: removed)."""
        old, new = self.old, self.new
        if len(new) >= len(old):
            return [dict(zip(old, pick, strict=True)) for pick in itertools.combinations(new, len(old))]
        out: list[dict[int, int | None]] = []
        for kept in itertools.combinations(old, len(new)):
            m: dict[int, int | None] = dict.fromkeys(old)
            m.update(zip(kept, new, strict=True))
            out.append(m)
        return out

    def new_rows(self, cand: dict[int, int | None]) -> list[int]:
        taken = {v for k, v in cand.items() if self.old_lo < k < self.old_hi}
        return [i for i in self.new if i not in taken]


def _windows(comments: list[_Comment], indices: list[int], fixed_slots: int) -> list[_Window]:
    out = []
    anchors = [(fixed_slots - 1, fixed_slots - 1)] + [(c.number, c.row.index) for c in comments if c.row.index >= fixed_slots]
    for (ca, ia), (cb, ib) in zip(anchors, anchors[1:], strict=False):
        if ia - ca != ib - cb:
            out.append(_Window(ca, cb, tuple(i for i in indices if ia < i < ib)))
    return out


def _ref_edit(src: SourceText, ref: Ref, new: int | None) -> Edit | None:
    """Replace the number of an absolute reference (`14`, `'14'`, `14.P4`) by `new`."""
    if new is None or new == ref.index or ref.span.end_line != ref.span.line or not ref.span.end_column:
        return None
    text = src.line(ref.span.line) or ""
    m = re.match(r"\s*\d+", text[ref.span.column - 1 : ref.span.end_column - 1])
    if m is None:
        return None
    digits = m.group().lstrip()
    start = ref.span.column + len(m.group()) - len(digits)
    return Edit(Span(ref.span.file, ref.span.line, start, ref.span.line, start + len(digits)), str(new))


def _module_at(by_index: dict[int, RowAt], k: int) -> str:
    r = by_index.get(k)
    return f"`{r.module}`" if r else f"index {k}"
