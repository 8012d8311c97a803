"""Diagnostics: what yamlnet tells a user about a spec, and how it is shown (text with carets, or JSON).

Every user-facing problem is a `Diagnostic` with a stable code (YN1xx spec/syntax, YN2xx references, YN3xx
channels, YN4xx strides/sizes, YN5xx limits/security, YN9xx internal), a message, a primary source span,
secondary labelled spans (the other input of a join, the row a reference points to), notes, a help line and
zero or more fixes: text edits that `yamlnet fix` applies (as ruff's Fix/Edit). Stages collect diagnostics
instead of raising, so all problems of a file are reported at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "note"]
Applicability = Literal["safe", "unsafe"]


@dataclass(frozen=True)
class Span:
    """A region of a source file; line and column are 1-based, end is exclusive (same line or later)."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def __init__(self, file: str, line: int, column: int, end_line: int | None = None, end_column: int | None = None):
        # the frozen dataclass's own __init__ sets each field through object.__setattr__: twice as slow, and the
        # composer makes a Span for every YAML value
        self.__dict__.update(file=file, line=line, column=column, end_line=end_line, end_column=end_column)

    @staticmethod
    def unknown(file: str = "<spec>") -> Span:
        return Span(file, 0, 0)

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column, "end_line": self.end_line, "end_column": self.end_column}


@dataclass(frozen=True)
class Label:
    """A secondary span with a short text: the other place a diagnostic is about."""

    span: Span
    text: str = ""

    def to_json(self) -> dict[str, object]:
        return {**self.span.to_json(), "text": self.text}


@dataclass(frozen=True)
class Edit:
    """Replace the text of `span` (line/column to end_line/end_column, end exclusive) by `replacement`.
    A span whose end equals its start inserts."""

    span: Span
    replacement: str

    def to_json(self) -> dict[str, object]:
        return {**self.span.to_json(), "replacement": self.replacement}


@dataclass(frozen=True)
class Fix:
    """A change that resolves a diagnostic: edits applied together. `safe` fixes keep what the spec meant and
    `yamlnet fix` applies them; `unsafe` ones are a guess (`yamlnet fix --unsafe-fixes`)."""

    title: str
    edits: tuple[Edit, ...]
    applicability: Applicability = "safe"

    def to_json(self) -> dict[str, object]:
        return {"title": self.title, "applicability": self.applicability, "edits": [e.to_json() for e in self.edits]}


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: Severity = "error"
    label: str = ""  # short text printed under the caret
    notes: tuple[str, ...] = ()
    help: str = ""
    labels: tuple[Label, ...] = ()  # secondary spans
    fixes: tuple[Fix, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "label": self.label,
            "notes": list(self.notes),
            "help": self.help,
            "labels": [x.to_json() for x in self.labels],
            "fixes": [f.to_json() for f in self.fixes],
        }


class SpecError(Exception):
    """Raised by the public API when a spec has errors; carries every diagnostic found."""

    def __init__(self, diagnostics: Iterable[Diagnostic], source: SourceText | None = None):
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__(render_text(self.diagnostics, source, color=False))


@dataclass
class SourceText:
    """The text a spec was read from, kept so diagnostics can quote lines."""

    name: str
    text: str
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()

    def line(self, n: int) -> str | None:
        return self.lines[n - 1] if 1 <= n <= len(self.lines) else None


def errors(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.severity == "error"]


_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m"}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"


def _width(sp: Span, text: str) -> int:
    """How many carets a span gets on its first line (to the end of the line when it runs on)."""
    if sp.end_line == sp.line and sp.end_column and sp.end_column > sp.column:
        return sp.end_column - sp.column
    if sp.end_line is not None and sp.end_line > sp.line:
        return max(1, len(text.rstrip()) - sp.column + 1)
    return 1


def _expand(text: str) -> str:
    """A source line as shown: a tab is four spaces (carets are placed by the same rule)."""
    return text.replace("\t", "    ")


def render_one(d: Diagnostic, source: SourceText | None = None, color: bool = False) -> str:
    """One diagnostic as a compiler prints it: header, location, source lines with the primary caret (^) and
    the secondary labels (-), notes, help and fixes."""

    def c(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    def shown(span: Span) -> bool:
        return source is not None and source.name == span.file and span.line > 0 and source.line(span.line) is not None

    sev = _COLORS.get(d.severity, "")
    out = [c(sev, f"{d.severity}[{d.code}]") + c(_BOLD, f": {d.message}")]
    sp = d.span
    where = sp.file if sp.line <= 0 else f"{sp.file}:{sp.line}:{sp.column}"
    marks: list[tuple[Span, str, str, bool]] = []  # span, marker, text, primary
    if shown(sp):
        marks.append((sp, "^", d.label, True))
    loose = [lb for lb in d.labels if not shown(lb.span)]
    marks += [(lb.span, "-", lb.text, False) for lb in d.labels if shown(lb.span)]
    lines = sorted({m[0].line for m in marks})
    gutter = " " * max([len(str(sp.line)), 2] + [len(str(n)) for n in lines])
    bar = c(_BLUE, "|")
    out.append(f"{gutter}{c(_BLUE, '-->')} {where}")
    if not shown(sp) and d.label:
        out.append(f"{gutter} {c(_BLUE, '=')} {d.label}")
    if marks:
        assert source is not None
        out.append(f"{gutter} {bar}")
        previous = 0
        for n in lines:
            text = source.line(n) or ""
            if previous and n > previous + 1:
                out.append(c(_BLUE, "..."))
            out.append(f"{str(n).rjust(len(gutter))} {bar} {_expand(text.rstrip())}")
            for span, marker, label, primary in sorted((m for m in marks if m[0].line == n), key=lambda m: (not m[3], m[0].column)):
                start = len(_expand(text[: span.column - 1]))
                width = len(_expand(text[: span.column - 1 + _width(span, text)])) - start
                underline = " " * start + marker * max(width, 1) + (f" {label}" if label else "")
                out.append(f"{gutter} {bar} {c(sev if primary else _BLUE, underline)}")
            previous = n
    for lb in loose:
        at = lb.span.file if lb.span.line <= 0 else f"{lb.span.file}:{lb.span.line}:{lb.span.column}"
        out.append(f"{gutter} {c(_BLUE, '=')} note: {at}: {lb.text}")
    for note in d.notes:
        out.append(f"{gutter} {c(_BLUE, '=')} note: {note}")
    if d.help:
        out.append(f"{gutter} {c(_BLUE, '=')} {c(_BOLD, 'help')}: {d.help}")
    for f in d.fixes:
        unsafe = " (unsafe: `yamlnet fix --unsafe-fixes` applies it)" if f.applicability == "unsafe" else ""
        out.append(f"{gutter} {c(_BLUE, '=')} {c(_BOLD, 'fix')}: {f.title}{unsafe}")
    return "\n".join(out)


def render_text(diags: Iterable[Diagnostic], source: SourceText | None = None, color: bool = False) -> str:
    return "\n\n".join(render_one(d, source, color) for d in diags)


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diags], indent=2)


def summary_line(diags: list[Diagnostic]) -> str:
    ne = sum(d.severity == "error" for d in diags)
    nw = sum(d.severity == "warning" for d in diags)
    parts = []
    if ne:
        parts.append(f"{ne} error{'s' * (ne != 1)}")
    if nw:
        parts.append(f"{nw} warning{'s' * (nw != 1)}")
    return ", ".join(parts) if parts else "no problems"


__all__ = [
    "Applicability",
    "Diagnostic",
    "Edit",
    "Fix",
    "Label",
    "Severity",
    "SourceText",
    "Span",
    "SpecError",
    "errors",
    "render_json",
    "render_one",
    "render_text",
    "summary_line",
]
