"""Diagnostics: what yamlnet tells a user about a spec, and how it is shown (text with carets, or JSON).

Every user-facing problem is a `Diagnostic` with a stable code (YN1xx spec/syntax, YN2xx references, YN3xx
channels, YN4xx strides/sizes, YN5xx limits/security, YN9xx internal), a message, a source span, notes and
a help line. Stages collect diagnostics instead of raising, so all problems of a file are reported at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Span:
    """A region of a source file; line and column are 1-based, end is exclusive (same line or later)."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    @staticmethod
    def unknown(file: str = "<spec>") -> Span:
        return Span(file, 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: Severity = "error"
    label: str = ""  # short text printed under the caret
    notes: tuple[str, ...] = ()
    help: str = ""

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


def render_one(d: Diagnostic, source: SourceText | None = None, color: bool = False) -> str:
    """One diagnostic as a compiler prints it: header, location, source line, caret, notes, help."""

    def c(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    out = [c(_COLORS.get(d.severity, ""), f"{d.severity}[{d.code}]") + c(_BOLD, f": {d.message}")]
    sp = d.span
    where = sp.file if sp.line <= 0 else f"{sp.file}:{sp.line}:{sp.column}"
    gutter = " " * max(len(str(sp.line)), 2)
    out.append(f"{gutter}{c(_BLUE, '-->')} {where}")
    text = source.line(sp.line) if source is not None and source.name == sp.file else None
    if text is not None and sp.line > 0:
        width = 1
        if sp.end_line == sp.line and sp.end_column and sp.end_column > sp.column:
            width = sp.end_column - sp.column
        elif sp.end_line is None or sp.end_line > sp.line:
            width = max(1, len(text.rstrip()) - sp.column + 1) if sp.end_line else 1
        out.append(f"{gutter} {c(_BLUE, '|')}")
        out.append(f"{str(sp.line).rjust(len(gutter))} {c(_BLUE, '|')} {text.rstrip()}")
        caret = " " * (sp.column - 1) + "^" * width
        label = f" {d.label}" if d.label else ""
        out.append(f"{gutter} {c(_BLUE, '|')} {c(_COLORS.get(d.severity, ''), caret + label)}")
    elif d.label:
        out.append(f"{gutter} {c(_BLUE, '=')} {d.label}")
    for note in d.notes:
        out.append(f"{gutter} {c(_BLUE, '=')} note: {note}")
    if d.help:
        out.append(f"{gutter} {c(_BLUE, '=')} {c(_BOLD, 'help')}: {d.help}")
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
    "Diagnostic",
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
