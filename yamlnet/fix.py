"""`yamlnet fix`: apply the fixes diagnostics carry as text edits, so comments, quoting and layout stay as the
user wrote them. Only `safe` fixes unless asked for the unsafe ones; a pass that would leave the spec worse
(a YAML syntax error, more errors than before) is not applied.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Fix, SourceText, Span, errors
from .spec.limits import DEFAULT_LIMITS, Limits

# the line breaks PyYAML counts (its marks are in characters of the decoded text)
_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
MAX_PASSES = 10


def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line (index 0 = line 1)."""
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def offset(starts: list[int], text: str, line: int, column: int) -> int:
    """The character offset of a 1-based line and column (clamped to the text)."""
    if line < 1:
        return 0
    if line > len(starts):
        return len(text)
    return min(starts[line - 1] + max(column, 1) - 1, len(text))


def edit_range(text: str, starts: list[int], span: Span) -> tuple[int, int]:
    a = offset(starts, text, span.line, span.column)
    if span.end_line is None or span.end_column is None:
        return a, a
    return a, max(a, offset(starts, text, span.end_line, span.end_column))


def chosen_fix(d: Diagnostic, unsafe: bool = False) -> Fix | None:
    """The fix `yamlnet fix` applies for a diagnostic: its first safe one (or first of any with `unsafe`)."""
    for f in d.fixes:
        if f.edits and (unsafe or f.applicability == "safe"):
            return f
    return None


def apply_fixes(text: str, diags: Iterable[Diagnostic], unsafe: bool = False, file: str | None = None) -> tuple[str, list[tuple[Diagnostic, Fix]]]:
    """Apply one fix per diagnostic; a fix whose edits overlap an already chosen one waits for the next pass.
    Returns the new text and the fixes applied. `file`: only edits on that file (default: any)."""
    starts = line_starts(text)
    taken: list[tuple[int, int]] = []
    planned: list[tuple[int, int, str]] = []
    applied: list[tuple[Diagnostic, Fix]] = []
    for d in diags:
        f = chosen_fix(d, unsafe)
        if f is None or (file is not None and any(e.span.file != file for e in f.edits)):
            continue
        ranges = [(*edit_range(text, starts, e.span), e.replacement) for e in f.edits]
        if any(_overlap(a, b, x, y) for a, b, _ in ranges for x, y in taken) or any(
            _overlap(a, b, x, y) for i, (a, b, _) in enumerate(ranges) for x, y, _ in ranges[i + 1 :]
        ):
            continue
        taken += [(a, b) for a, b, _ in ranges]
        planned += ranges
        applied.append((d, f))
    for a, b, r in sorted(planned, key=lambda t: (t[0], t[1]), reverse=True):
        text = text[:a] + r + text[b:]
    return text, applied


def _overlap(a: int, b: int, x: int, y: int) -> bool:
    if a == b or x == y:  # an insertion conflicts with an edit only strictly inside it, or at the same point
        return (x < a < y) or (a < x < b) or a == x
    return a < y and x < b


def check_text(text: str, name: str, limits: Limits = DEFAULT_LIMITS, overrides: Mapping[str, Any] | None = None) -> list[Diagnostic]:
    """Every static diagnostic of a spec given as text, with spans in `name` (parse, references, channels,
    strides, sizes at 640): what `validate --static` reports. `overrides`: as --scale, --dialect."""
    from .graph.lower import lower
    from .graph.sizes import check_sizes
    from .spec.parse import parse_tree
    from .spec.source import compose_tree

    src = SourceText(name, text)
    tree, diags = compose_tree(src, limits)
    if tree is None:
        return diags
    spec, more = parse_tree(tree, src, limits, overrides=overrides, scale_name=name)
    diags += more
    if spec is None:
        return diags
    ir = lower(spec, limits)
    diags += ir.diagnostics
    return diags + check_sizes(ir, (640, 640), limits) if not errors(diags) else diags


@dataclass
class FixResult:
    path: str
    original: str
    fixed: str
    applied: list[tuple[Diagnostic, Fix]] = field(default_factory=list)
    remaining: list[Diagnostic] = field(default_factory=list)
    refused: list[Diagnostic] = field(default_factory=list)  # diagnostics whose fix made the spec worse
    source_diags: list[Diagnostic] = field(default_factory=list)  # the file could not be read
    bom: bool = False

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True), self.fixed.splitlines(keepends=True), fromfile=f"a/{self.path}", tofile=f"b/{self.path}"
            )
        )


def fix_text(text: str, name: str, unsafe: bool = False, limits: Limits = DEFAULT_LIMITS, overrides: Mapping[str, Any] | None = None) -> FixResult:
    """Apply fixes pass by pass until none is left (at most MAX_PASSES)."""
    result = FixResult(name, text, text)

    def check(text: str) -> list[Diagnostic]:
        return _check(text, name, limits, overrides)

    diags = check(text)
    for _ in range(MAX_PASSES):
        diags = [_best_alternative(result.fixed, d, name, unsafe, limits, overrides) for d in diags]
        new, applied = apply_fixes(result.fixed, diags, unsafe, file=name)
        if not applied:
            break
        after = check(new)
        if _worse(diags, after):
            # try the fixes one at a time, keep those that do not make things worse
            kept = False
            for d, f in applied:
                one, ok = apply_fixes(result.fixed, [replace(d, fixes=(f,))], unsafe=True, file=name)
                if not ok:
                    continue
                one_after = check(one)
                if _worse(diags, one_after):
                    result.refused.append(d)
                    continue
                result.fixed, diags, kept = one, one_after, True
                result.applied.append((d, f))
                break
            if not kept:
                break
            continue
        result.fixed, diags = new, after
        result.applied += applied
    result.remaining = diags
    return result


def _best_alternative(text: str, d: Diagnostic, name: str, unsafe: bool, limits: Limits, overrides: Mapping[str, Any] | None = None) -> Diagnostic:
    """When a diagnostic offers several fixes that may be applied (guesses, such as which row was inserted),
    keep the one after which the spec has the fewest errors, then the fewest warnings (ties: the first)."""
    eligible = [f for f in d.fixes if f.edits and (unsafe or f.applicability == "safe")]
    if len(eligible) < 2:
        return d
    scored = []
    for i, f in enumerate(eligible):
        one, ok = apply_fixes(text, [replace(d, fixes=(f,))], unsafe=True, file=name)
        after = _check(one, name, limits, overrides) if ok else []
        scored.append((len(errors(after)), sum(x.severity == "warning" for x in after), i, f))
    best = min(scored, key=lambda t: t[:3])[3]
    return replace(d, fixes=(best,))


def _check(text: str, name: str, limits: Limits, overrides: Mapping[str, Any] | None) -> list[Diagnostic]:
    return check_text(text, name, limits, overrides)  # looked up at call time (tests replace check_text)


def _worse(before: list[Diagnostic], after: list[Diagnostic]) -> bool:
    syntax = any(d.code == "YN101" for d in after) and not any(d.code == "YN101" for d in before)
    return syntax or len(errors(after)) > len(errors(before))


def fix_file(
    path: str | os.PathLike[str],
    unsafe: bool = False,
    write: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    overrides: Mapping[str, Any] | None = None,
) -> FixResult:
    """Fix a spec file in place (unless `write` is false): same encoding, byte order mark and line breaks."""
    from .spec.source import read_source

    name = os.fspath(path)
    src, diags = read_source(Path(name), limits)
    if src is None:
        return FixResult(name, "", "", source_diags=diags, remaining=diags)
    with open(name, "rb") as f:
        bom = f.read(3) == codecs.BOM_UTF8
    result = fix_text(src.text, name, unsafe, limits, overrides)
    result.bom = bom
    if write and result.changed:
        _write(name, result.fixed, bom)
    return result


def _write(name: str, text: str, bom: bool) -> None:
    """Replace the file atomically, keeping its permissions."""
    p = Path(name)
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, p.stat().st_mode & 0o7777)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["MAX_PASSES", "FixResult", "apply_fixes", "check_text", "chosen_fix", "fix_file", "fix_text", "line_starts"]
