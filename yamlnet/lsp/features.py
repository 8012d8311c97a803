"""The answers the language server gives, as lsprotocol values computed from an `Analysis`: diagnostics (with the
catalog's code, a link to docs/diagnostics.md and the secondary labels as related information), inlay hints,
hovers, definitions, code actions (the diagnostics' fixes, and renumbering index comments) and completion.

Positions: yamlnet's spans count characters from 1; LSP counts UTF-16 code units from 0. Conversions go through
`Lines`, so a non-ASCII comment never shifts a caret.
"""

from __future__ import annotations

import functools
from fractions import Fraction

from lsprotocol import types as t

from .. import registry
from ..diagnostics import Diagnostic, Edit, Fix, Span
from ..fix import chosen_fix
from ..graph.bind import signature
from ..graph.checks import range_words
from ..registry import REQUIRED, BlockDecl
from ..spec.comments import RowAt, index_comment
from .cursor import row_cursor
from .facts import Analysis, InputFacts, PortFacts, RowFacts, decl_of, ref_at

SEVERITY = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning, "note": t.DiagnosticSeverity.Information}


class Lines:
    """A document's lines, for converting between yamlnet's character columns and LSP's UTF-16 positions."""

    def __init__(self, text: str):
        self.lines = text.splitlines() or [""]

    def text(self, line0: int) -> str:
        return self.lines[line0] if 0 <= line0 < len(self.lines) else ""

    def to_lsp(self, line: int, column: int) -> t.Position:
        """1-based line and character column -> LSP position."""
        if line < 1:
            return t.Position(0, 0)
        text = self.text(line - 1)
        col = max(column - 1, 0)
        if text.isascii():
            return t.Position(line - 1, col)
        return t.Position(line - 1, len(text[:col].encode("utf-16-le")) // 2)

    def from_lsp(self, pos: t.Position) -> tuple[int, int]:
        """LSP position -> 1-based line and 0-based character offset into the line."""
        text = self.text(pos.line)
        if text.isascii():
            return pos.line + 1, pos.character
        units = 0
        for i, ch in enumerate(text):
            if units >= pos.character:
                return pos.line + 1, i
            units += 2 if ord(ch) > 0xFFFF else 1
        return pos.line + 1, len(text)

    def end_of(self, line: int) -> t.Position:
        return self.to_lsp(line, len(self.text(line - 1)) + 1)

    def range(self, span: Span) -> t.Range:
        start = self.to_lsp(span.line, span.column)
        if span.end_line is not None and span.end_column is not None:
            end = self.to_lsp(span.end_line, span.end_column)
        else:
            end = self.to_lsp(span.line, span.column + 1)
        return t.Range(start, end)


# --- diagnostics --------------------------------------------------------------------------------------------


def message_of(d: Diagnostic) -> str:
    """The diagnostic as one message: what, the text under the caret, notes and the help line."""
    parts = [d.message]
    if d.label:
        parts.append(d.label)
    parts += [f"note: {n}" for n in d.notes]
    if d.help:
        parts.append(f"help: {d.help}")
    return "\n".join(parts)


def lsp_diagnostic(a: Analysis, lines: Lines, d: Diagnostic, docs: str | None) -> t.Diagnostic:
    related = [
        t.DiagnosticRelatedInformation(t.Location(a.uri, lines.range(lb.span)), lb.text or "here") for lb in d.labels if lb.span.file == a.name
    ]
    return t.Diagnostic(
        range=lines.range(d.span),
        message=message_of(d),
        severity=SEVERITY.get(d.severity, t.DiagnosticSeverity.Error),
        code=d.code,
        code_description=t.CodeDescription(href=f"{docs}#{d.code.lower()}") if docs else None,
        source="yamlnet",
        related_information=related or None,
    )


def lsp_diagnostics(a: Analysis, docs: str | None = None) -> list[t.Diagnostic]:
    lines = Lines(a.text)
    return [lsp_diagnostic(a, lines, d, docs) for d in a.diagnostics if d.span.file == a.name or d.span.line <= 0]


# --- inlay hints --------------------------------------------------------------------------------------------


def stride_words(s: Fraction | None) -> str:
    if s is None:
        return "/?"
    return f"/{s.numerator}" if s.denominator == 1 else f"/{s}"


def port_words(p: PortFacts) -> str:
    ch = "?" if p.channels is None else str(p.channels)
    size = f" {p.size[0]}×{p.size[1]}" if p.size else ""
    return f"{ch}ch {stride_words(p.stride)}{size}"


def row_hint(r: RowFacts) -> str:
    """What the end of a row shows: `320ch /8 80×80 n=8` (each tap of a multi-output row; a head's input strides)."""
    if r.head:
        text = "head on " + " ".join(stride_words(i.port.stride) if i.port else "/?" for i in r.inputs)
    elif len(r.outputs) > 1 or (r.outputs and r.outputs[0].tap):
        text = ", ".join(f"{p.tap} {port_words(p)}" for p in r.outputs)
    else:
        text = port_words(r.outputs[0]) if r.outputs else "?"
    if r.number != 1 or r.n != r.number:
        text += f" n={r.n}"
    return text + (" (last good)" if r.stale else "")


def inlay_hints(a: Analysis, first: int = 0, last: int = 1 << 30) -> list[t.InlayHint]:
    """Hints at the end of each row's first line between 0-based lines `first` and `last`, and the scale in use
    at the end of the `scales:` line."""
    lines = Lines(a.text)
    out = []
    for r in sorted(a.rows.values(), key=lambda r: r.line):
        if not (first <= r.line - 1 <= last) or not r.known:
            continue
        out.append(t.InlayHint(position=lines.end_of(r.line), label=f"# {row_hint(r)}", padding_left=True, kind=t.InlayHintKind.Type))
    if a.scale_line and a.scale_values and first <= a.scale_line - 1 <= last:
        d, w, c = a.scale_values
        label = f"# using scale {a.scale}: depth {d:g}, width {w:g}, max {c:g} channels"
        out.append(t.InlayHint(position=lines.end_of(a.scale_line), label=label, padding_left=True))
    return out


# --- hover ---------------------------------------------------------------------------------------------------


def block_markdown(decl: BlockDecl) -> str:
    """A block's declaration as `yamlnet blocks NAME` prints it, in Markdown."""
    dialect = f" [{decl.dialect}]" if decl.dialect else ""
    out = [f"```\n{signature(decl)}{dialect}\n```"]
    if decl.doc:
        out.append(decl.doc)
    args = []
    for arg in decl.args:
        fill = f" (filled: {arg.fill})" if arg.fill else ""
        width = " (width-scaled)" if arg.width else ""
        allowed = range_words(arg)
        allowed = f" ({allowed})" if allowed else ""
        args.append(f"- `{arg.name}`: {arg.type}{width}{fill}{allowed}" + (f" - {arg.doc}" if arg.doc else ""))
    if args:
        out.append("\n".join(args))
    return "\n\n".join(out)


def input_words(a: Analysis, i: InputFacts) -> str:
    if i.is_input:
        return f"`{i.text}` → the input image" + (f": {port_words(i.port)}" if i.port else "")
    if i.target is None:
        return f"`{i.text}` → unresolved (see the diagnostics)"
    target = a.rows.get(i.target)
    what = f"row {target.index} ({target.module})" if target else f"row at position {i.target}"
    tap = f", tap {i.port.tap}" if i.port and i.port.tap else ""
    return f"`{i.text}` → {what}{tap}" + (f": {port_words(i.port)}" if i.port else "")


def _markup(text: str, markdown: bool) -> t.MarkupContent:
    return t.MarkupContent(t.MarkupKind.Markdown if markdown else t.MarkupKind.PlainText, text)


def hover(a: Analysis, pos: t.Position, markdown: bool = True) -> t.Hover | None:
    """On a `from` entry: the row it points at and what arrives; on a row: its inputs, outputs, repeats and the
    block's declaration (Markdown unless the client reads only plain text)."""
    lines = Lines(a.text)
    line, col = lines.from_lsp(pos)
    hit = ref_at(a, line, col + 1)
    if hit is not None:
        r, i = hit
        return t.Hover(_markup(input_words(a, i), markdown), range=lines.range(i.span))
    r = a.row_at_line(line)
    if r is None:
        return None
    # a stale row's position may belong to another row of the current text: its module names its declaration
    decl = (None if r.stale else decl_of(a, r.position)) or registry.lookup(r.module, a.dialect)
    head = f"**layer {r.index}** `{r.module}`" + (" (last good facts: the row does not read now)" if r.stale else "")
    parts = [head]
    if r.inputs:
        parts.append("inputs:\n" + "\n".join(f"- {input_words(a, i)}" for i in r.inputs))
    if r.outputs:
        parts.append("outputs:\n" + "\n".join(f"- {(p.tap + ' ') if p.tap else ''}{port_words(p)}" for p in r.outputs))
    if r.number != 1 or r.n != r.number:
        parts.append(f"repeats: {r.number} written, {r.n} after depth scaling")
    if decl is not None:
        parts.append(block_markdown(decl))
    return t.Hover(_markup("\n\n".join(parts), markdown), range=lines.range(r.span))


# --- definition ---------------------------------------------------------------------------------------------


def definition(a: Analysis, pos: t.Position) -> t.Location | None:
    """From a `from` entry (an index, a name, a tap such as `backbone.P4`) to the row that makes it."""
    lines = Lines(a.text)
    line, col = lines.from_lsp(pos)
    hit = ref_at(a, line, col + 1)
    if hit is None or hit[1].target is None:
        return None
    target = a.rows.get(hit[1].target)
    if target is None:
        return None
    return t.Location(a.uri, lines.range(target.span))


# --- code actions -------------------------------------------------------------------------------------------


def _overlaps(r: t.Range, s: t.Range) -> bool:
    return (r.start.line, r.start.character) <= (s.end.line, s.end.character) and (s.start.line, s.start.character) <= (r.end.line, r.end.character)


def _workspace_edit(a: Analysis, lines: Lines, edits: tuple[Edit, ...]) -> t.WorkspaceEdit:
    return t.WorkspaceEdit(changes={a.uri: [t.TextEdit(lines.range(e.span), e.replacement) for e in edits]})


def code_actions(a: Analysis, rng: t.Range, docs: str | None = None) -> list[t.CodeAction]:
    """The fixes of the diagnostics under `rng` (the one `yamlnet fix` would apply is preferred; guesses say they
    are unsafe) and, on a row, "renumber index comments"."""
    lines = Lines(a.text)
    out: list[t.CodeAction] = []
    for d in a.diagnostics:
        if d.span.file != a.name or not d.fixes or not _overlaps(lines.range(d.span), rng):
            continue
        preferred = chosen_fix(d)
        diag = lsp_diagnostic(a, lines, d, docs)
        for f in d.fixes:
            if f.edits:
                out.append(_fix_action(a, lines, d, f, diag, f is preferred))
    renumber = renumber_action(a, lines)
    if renumber is not None:
        out.append(renumber)
    return out


def _fix_action(a: Analysis, lines: Lines, d: Diagnostic, f: Fix, diag: t.Diagnostic, preferred: bool) -> t.CodeAction:
    title = f"{f.title} ({d.code})" + (" (unsafe: a guess, check it)" if f.applicability == "unsafe" else "")
    return t.CodeAction(title, kind=t.CodeActionKind.QuickFix, diagnostics=[diag], is_preferred=preferred, edit=_workspace_edit(a, lines, f.edits))


def renumber_edits(a: Analysis) -> tuple[Edit, ...]:
    """Edits that set every row's index comment (`# 4`, `# 17 (P3/8-small)`) to the row's index, when the
    commented numbers count upwards as a numbering does; none when they already agree."""
    if a.spec is None or a.spec.source is None:
        return ()
    found = []
    for r in sorted(a.rows.values(), key=lambda r: r.position):
        if r.stale:
            continue
        c = index_comment(a.spec.source, RowAt(r.position, r.index, r.span, r.module))
        if c is not None:
            found.append((r, *c))
    numbers = [n for _, n, _ in found]
    if len(found) < 2 or any(b <= x for x, b in zip(numbers, numbers[1:])):
        return ()
    return tuple(Edit(span, str(r.index)) for r, n, span in found if n != r.index)


def renumber_action(a: Analysis, lines: Lines) -> t.CodeAction | None:
    """ "Renumber index comments", from anywhere in the file. When the comments are stale because a row was inserted
    or removed (YN209), renumbering them alone would hide that absolute references now point at other rows: the
    action is then YN209's own fix (references pointed back at their rows, comments renumbered), and says so when
    that fix is a guess. Otherwise it renumbers the comments to the rows' indices."""
    stale = next((d for d in a.diagnostics if d.code == "YN209" and d.span.file == a.name and d.fixes), None)
    if stale is not None:
        f = chosen_fix(stale) or chosen_fix(stale, unsafe=True)
        if f is None:
            return None
        unsafe = " (unsafe: a guess, check it)" if f.applicability == "unsafe" else ""
        return t.CodeAction(f"renumber index comments: {f.title}{unsafe}", kind=t.CodeActionKind.Source, edit=_workspace_edit(a, lines, f.edits))
    edits = renumber_edits(a)
    if not edits:
        return None
    title = f"renumber {len(edits)} index comment{'s' * (len(edits) != 1)} to the rows' indices"
    return t.CodeAction(title, kind=t.CodeActionKind.Source, edit=_workspace_edit(a, lines, edits))


# --- completion ---------------------------------------------------------------------------------------------


def completion(a: Analysis, pos: t.Position, markdown: bool = True) -> t.CompletionList:
    """Block names (of the spec's dialect) at a row's module; the argument at its position inside args (its
    default, its type and range); earlier rows' indices in `from`."""
    lines = Lines(a.text)
    line, col = lines.from_lsp(pos)
    cur = row_cursor(lines.text(line - 1), col)
    items: list[t.CompletionItem] = []
    if cur is None:
        return t.CompletionList(False, items)
    if cur.item == 2:
        items += _block_items(a.dialect, markdown, len(registry.declarations()))
    elif cur.item == 3 and cur.arg is not None:
        decl = _row_decl(a, line, cur.module)
        items += _arg_items(decl, cur.arg) if decl is not None else []
    elif cur.item == 0:
        here = a.row_at_line(line)
        limit = here.index if here is not None else None
        items.append(t.CompletionItem("-1", kind=t.CompletionItemKind.Reference, detail="the previous row", sort_text="000"))
        for r in sorted(a.rows.values(), key=lambda r: r.index):
            if limit is not None and r.index >= limit:
                break
            detail = f"{r.module}: {row_hint(r)}" if r.known else r.module
            items.append(t.CompletionItem(str(r.index), kind=t.CompletionItemKind.Reference, detail=detail, sort_text=f"{r.index + 1:03d}"))
    return t.CompletionList(False, items)


def prepare_completion(a: Analysis, markdown: bool) -> None:
    """Build the block-name items of the document's dialect ahead of the first completion request."""
    if a.is_spec:
        _block_items(a.dialect, markdown, len(registry.declarations()))


def _row_decl(a: Analysis, line: int, module: str | None) -> BlockDecl | None:
    """The declaration of the row being typed: the module written on the line, else (a mapping row, whose
    `module:` is on another line) the module of the row the line belongs to."""
    if module is None:
        row = a.row_at_line(line)
        module = row.module if row is not None else None
    return registry.lookup(module, a.dialect) if module else None


def signature_help(a: Analysis, pos: t.Position) -> t.SignatureHelp | None:
    """Inside a row's args: the block's arguments (as `yamlnet blocks NAME` names them), the one at the cursor active."""
    lines = Lines(a.text)
    line, col = lines.from_lsp(pos)
    cur = row_cursor(lines.text(line - 1), col)
    if cur is None or cur.item != 3 or cur.arg is None:
        return None
    decl = _row_decl(a, line, cur.module)
    if decl is None:
        return None
    args = decl.yaml_args()
    params = []
    for arg in args:
        allowed = range_words(arg)
        doc = f"{arg.type}" + (" (width-scaled)" if arg.width else "") + (f" ({allowed})" if allowed else "") + (f": {arg.doc}" if arg.doc else "")
        label = arg.name if arg.default is REQUIRED else f"{arg.name}={_yaml_literal(arg.default)}"
        params.append(t.ParameterInformation(label=label, documentation=doc))
    label = f"{decl.name}[{', '.join(p.label for p in params)}]"  # type: ignore[misc]
    active = cur.arg if cur.arg < len(args) else None
    return t.SignatureHelp(
        [t.SignatureInformation(label, documentation=decl.doc or None, parameters=params)], active_signature=0, active_parameter=active
    )


@functools.lru_cache(maxsize=16)
def _block_items(dialect: str, markdown: bool, registered: int) -> list[t.CompletionItem]:
    """The block names a spec of `dialect` may use, with their declarations (`registered`: the number of
    declarations, so a plugin registered later gives a new list)."""
    items = []
    for decl in registry.declarations(dialect):
        if decl.role == "select" and dialect != "ultralytics":
            continue
        doc = _markup(block_markdown(decl), markdown)
        items.append(t.CompletionItem(decl.name, kind=t.CompletionItemKind.Class, detail=signature(decl), documentation=doc))
    return items


def _arg_items(decl: BlockDecl, at: int) -> list[t.CompletionItem]:
    """One item per argument from position `at` on: choosing argument k writes the defaults of the arguments
    before it and k's default (or a placeholder named after it when it has none)."""
    items = []
    args = decl.yaml_args()
    for k in range(at, len(args)):
        before = [_snippet(_yaml_literal(x.default)) for x in args[at:k] if x.default is not REQUIRED]
        if len(before) < k - at:
            break  # a required argument lies between: it cannot be skipped
        arg = args[k]
        value = "${1:" + arg.name + "}" if arg.default is REQUIRED else _snippet(_yaml_literal(arg.default))
        allowed = range_words(arg)
        detail = f"argument {k + 1} of {decl.name}: {arg.type}" + (" (width-scaled)" if arg.width else "") + (f" ({allowed})" if allowed else "")
        label = arg.name if arg.default is REQUIRED else f"{arg.name}={_yaml_literal(arg.default)}"
        items.append(
            t.CompletionItem(
                label,
                kind=t.CompletionItemKind.Field,
                detail=detail,
                documentation=arg.doc or None,
                insert_text=", ".join([*before, value]),
                insert_text_format=t.InsertTextFormat.Snippet,
                sort_text=f"{k:03d}",
                preselect=k == at,
            )
        )
    return items


def _yaml_literal(v: object) -> str:
    """A default as a row writes it: None, True, 3, 'nearest', [5, 9, 13]."""
    if v is None:
        return "None"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_literal(x) for x in v) + "]"
    if isinstance(v, str):
        return repr(v)
    return str(v)


def _snippet(text: str) -> str:
    """Text as a literal inside a snippet (`$`, `}` and `\\` are snippet syntax)."""
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


__all__ = [
    "Lines",
    "block_markdown",
    "code_actions",
    "completion",
    "definition",
    "hover",
    "inlay_hints",
    "lsp_diagnostics",
    "prepare_completion",
    "renumber_edits",
    "row_hint",
    "signature_help",
]
