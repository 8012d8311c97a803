"""Reading a spec: file checks, then YAML composed (never constructed by an unsafe loader) into a tree of
`YNode`s that keep the line and column of every value.

Hostile input stops here: size, encoding, python tags, aliases, merge keys and nesting depth are checked
before any value is used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import Diagnostic, Edit, Fix, Label, SourceText, Span
from .limits import Limits

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}


@dataclass
class YNode:
    """A YAML value with its source span. `value` is a scalar, a list of YNode, or a dict str -> YNode."""

    value: Any
    span: Span
    key_span: Span | None = None  # for mapping values: where the key is

    def plain(self) -> Any:
        """The value without positions (lists and dicts converted recursively)."""
        v = self.value
        if isinstance(v, list):
            return [x.plain() for x in v]
        if isinstance(v, dict):
            return {k: x.plain() for k, x in v.items()}
        return v


def read_source(path_or_text: str | os.PathLike[str], limits: Limits) -> tuple[SourceText | None, list[Diagnostic]]:
    """Text of a spec from a path, or the string itself when it holds YAML (has a newline or a colon)."""
    s = os.fspath(path_or_text)
    looks_like_text = isinstance(path_or_text, str) and ("\n" in s or (":" in s and not Path(s).suffix))
    if looks_like_text:
        if len(s.encode("utf-8", "surrogatepass")) > limits.file_bytes:
            return None, [_too_big("<string>", len(s), limits)]
        return SourceText("<string>", s), []
    p = Path(s)
    name = s
    try:
        exists, is_dir, is_file = p.exists(), p.is_dir(), p.is_file()
    except (OSError, ValueError) as e:  # a name the OS cannot even look up (NUL byte, too long)
        return None, [Diagnostic("YN510", f"cannot open {name!r}: {type(e).__name__}", Span.unknown(name), help="check the path")]
    if not exists:
        return None, [Diagnostic("YN510", f"no such file: {name}", Span.unknown(name), help="check the path; specs/ holds the bundled specs")]
    if is_dir:
        return None, [Diagnostic("YN510", f"{name} is a directory, not a spec file", Span.unknown(name), help="name a .yaml file in it")]
    if not is_file:
        return None, [
            Diagnostic("YN510", f"{name} is not a regular file (a device, socket or pipe)", Span.unknown(name), help="name a .yaml spec file")
        ]
    try:
        size = p.stat().st_size
        if size > limits.file_bytes:
            return None, [_too_big(name, size, limits)]
        with open(p, "rb") as f:
            data = f.read(limits.file_bytes + 1)  # bounded even if the file grows while it is read
    except OSError as e:
        return None, [
            Diagnostic("YN510", f"cannot read {name}: {e.strerror or type(e).__name__}", Span.unknown(name), help="check the file's permissions")
        ]
    if len(data) > limits.file_bytes:
        return None, [_too_big(name, len(data), limits)]
    if not data.strip():
        return None, [Diagnostic("YN509", "the spec file is empty", Span(name, 1, 1), help="a spec needs at least a `backbone:` list of rows")]
    if b"\x00" in data:
        i = data.index(b"\x00")
        line = data[:i].count(b"\n") + 1
        col = i - (data.rfind(b"\n", 0, i) + 1) + 1
        return None, [
            Diagnostic(
                "YN508",
                "the file is binary (it holds NUL bytes), not YAML text",
                Span(name, line, col),
                help="name the .yaml spec, not a weights or image file",
            )
        ]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        return None, [Diagnostic("YN508", "the file is not UTF-8 text", Span(name, line, col), help="save the spec as UTF-8")]
    return SourceText(name, text), []


def _too_big(name: str, size: int, limits: Limits) -> Diagnostic:
    return Diagnostic(
        "YN503",
        f"the spec is {size:,} bytes; the limit is {limits.file_bytes:,}",
        Span.unknown(name),
        help="a model spec is a few kB; pass --max-file-bytes to raise the limit if this file is really a spec",
    )


def compose_tree(src: SourceText, limits: Limits) -> tuple[YNode | None, list[Diagnostic]]:
    """Compose the YAML into a YNode tree. Nothing is constructed from tags; python tags are refused."""
    file = src.name
    if not src.text.strip():
        return None, [Diagnostic("YN509", "the spec is empty", Span(file, 1, 1), help="a spec needs at least a `backbone:` list of rows")]
    try:
        root, diags = _Composer(file, limits).compose(src.text)
    except _Stop as stop:
        return None, [Diagnostic(stop.diag.code, stop.diag.message, Span(file, stop.diag.span.line, stop.diag.span.column), help=stop.diag.help)]
    except yaml.MarkedYAMLError as e:
        if "maximum nesting depth" in str(e.problem) and (e.problem_mark or e.context_mark):  # libyaml's own limit (PyYAML >= 6.0.3)
            deep = _too_deep(e.problem_mark or e.context_mark, limits.depth + 1)
            return None, [Diagnostic(deep.code, deep.message, Span(file, deep.span.line, deep.span.column), help=deep.help)]
        return None, [syntax_error(src, e)]
    except yaml.reader.ReaderError as e:
        before = src.text[: e.position]
        line, col = before.count("\n") + 1, e.position - (before.rfind("\n") + 1) + 1
        ch = e.character if isinstance(e.character, int) else 0
        return None, [
            Diagnostic(
                "YN508",
                f"the file holds the control character U+{ch:04X}, which YAML does not allow",
                Span(file, line, col),
                help="remove the character; a spec is plain text",
            )
        ]
    except yaml.YAMLError as e:  # pragma: no cover - any other error of the YAML library
        return None, [Diagnostic("YN101", f"YAML error: {type(e).__name__}", Span(file, 1, 1), help="fix the YAML text")]
    if root is None:  # no document, or a finding that refuses the file
        return None, diags or [Diagnostic("YN509", "the spec is empty", Span(file, 1, 1), help="a spec needs at least a `backbone:` list of rows")]
    return root, diags


def syntax_error(src: SourceText, e: yaml.MarkedYAMLError) -> Diagnostic:
    """A YAML syntax error in the user's terms: a tab named as the cause; an unclosed bracket shown where it
    opened as well as where the parser gave up."""
    file = src.name
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    text = src.line(line) or ""
    tab = _tab_column(text, col)
    if tab is not None:
        at = Span(file, line, tab, line, tab + 1)
        fix = _tab_fix(src, line, tab)
        return Diagnostic(
            "YN101",
            "YAML syntax error: a tab character; YAML indents and separates with spaces, never tabs",
            at,
            label="tab",
            help="replace the tab with spaces" + (" (as the lines beside it are indented)" if fix and fix.applicability == "safe" else ""),
            fixes=(fix,) if fix else (),
        )
    opened = e.context_mark
    if opened is not None and e.context in ("while parsing a flow sequence", "while parsing a flow mapping"):
        bracket, close = ("[", "]") if "sequence" in e.context else ("{", "}")
        o_line, o_col = opened.line + 1, opened.column + 1
        o_text = src.line(o_line) or ""
        if o_col <= len(o_text) and o_text[o_col - 1] == bracket:
            fix = _close_fix(file, o_text, o_line, o_col, bracket, close)
            return Diagnostic(
                "YN101",
                f"YAML syntax error: the `{bracket}` at line {o_line}, column {o_col} is never closed",
                Span(file, line, col),
                label=f"expected `,` or `{close}` before this",
                labels=(Label(Span(file, o_line, o_col, o_line, o_col + 1), f"this `{bracket}` is not closed"),),
                help=f"add the missing `{close}` (count the brackets on line {o_line})",
                fixes=(fix,) if fix else (),
            )
    return Diagnostic(
        "YN101",
        f"YAML syntax error: {e.problem or e.context}",
        Span(file, line, col),
        help="fix the YAML syntax at the caret (indentation, brackets, quotes)",
    )


def _tab_column(text: str, col: int) -> int | None:
    """The column of the tab that broke the parse: at the caret, or in the line's indentation."""
    if 1 <= col <= len(text) and text[col - 1] == "\t":
        return col
    indent = text[: len(text) - len(text.lstrip(" \t"))]
    return indent.index("\t") + 1 if "\t" in indent else None


def _kind(text: str) -> str:
    """What a line starts: a sequence item, a key, or something else."""
    body = text.lstrip(" \t")
    if body.startswith("-") and (len(body) == 1 or body[1] in " \t"):
        return "item"
    return "key" if re.match(r"^[^\s#\[{'\"][^:#]*:(\s|$)", body) else "other"


def _tab_fix(src: SourceText, line: int, tab: int) -> Fix | None:
    text = src.line(line) or ""
    indent_len = len(text) - len(text.lstrip(" \t"))
    if tab > indent_len:  # a tab between tokens: a space does the same
        return Fix("replace the tab with a space", (Edit(Span(src.name, line, tab, line, tab + 1), " "),))
    kind = _kind(text)
    sibling: str | None = None
    for step in (-1, 1):  # the nearest line above, then below, of the same kind and indented with spaces only
        n = line + step
        while 1 <= n <= len(src.lines):
            other = src.lines[n - 1]
            if other.strip() and not other.lstrip().startswith("#"):
                ind = other[: len(other) - len(other.lstrip(" \t"))]
                if "\t" not in ind and _kind(other) == kind and kind != "other":
                    sibling = ind
                break
            n += step
        if sibling is not None:
            break
    if sibling is None:
        above = next((x for x in reversed(src.lines[: line - 1]) if x.strip() and not x.lstrip().startswith("#")), None)
        if above is None or "\t" in above[: len(above) - len(above.lstrip())] or not above.split(" #")[0].rstrip().endswith(":"):
            return None
        indent = " " * (len(above) - len(above.lstrip()) + 2)
        return Fix(
            f"indent with {len(indent)} spaces, under the line above", (Edit(Span(src.name, line, 1, line, indent_len + 1), indent),), "unsafe"
        )
    return Fix(
        f"indent with {len(sibling)} spaces, as the line {'above' if step < 0 else 'below'}",
        (Edit(Span(src.name, line, 1, line, indent_len + 1), sibling),),
    )


def _close_fix(file: str, text: str, line: int, col: int, bracket: str, close: str) -> Fix | None:
    """Close the brackets left open on the line where the unclosed one opened (before a trailing comment);
    none when the bracket opens a list that goes on over the next lines."""
    stack: list[str] = []
    quote, end = "", len(text)
    for i in range(col - 1, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and text[i - 1] in " \t":
            end = i
            break
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    body = text[col - 1 : end].rstrip()
    if not stack or stack[0] != close or len(body) <= 1 or body.endswith(","):
        return None
    pos = col - 1 + len(body) + 1
    return Fix(f"close the `{bracket}` at the end of line {line}", (Edit(Span(file, line, pos, line, pos), "".join(reversed(stack))),), "unsafe")


class _Stop(Exception):
    def __init__(self, diag: Diagnostic):
        self.diag = diag


class _Loader(yaml.SafeLoader):
    """PyYAML's safe composer with a nesting limit (its composer recurses once per level)."""

    def __init__(self, text: str, max_depth: int):
        super().__init__(text)
        self._depth = 0
        self._max_depth = max_depth

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                raise _Stop(_too_deep(self.peek_event().start_mark, self._max_depth))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _too_deep(mark: Any, max_depth: int) -> Diagnostic:
    return Diagnostic(
        "YN505",
        f"the YAML nests deeper than {max_depth - 1} levels",
        Span("", mark.line + 1, mark.column + 1),
        help="flatten the value; specs never need deep nesting",
    )


_CLoader = getattr(yaml, "CSafeLoader", None) if getattr(yaml, "__with_libyaml__", False) else None


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_resolver = yaml.resolver.Resolver()
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> its resolved tag (texts of up to 64 characters)
_VALUES: dict[tuple[str, str], Any] = {}  # (standard tag, text) -> value (ints, floats, bools, nulls of up to 64 characters)
_CACHE_MAX = 50_000  # entries of each cache; cleared when full (specs repeat a few hundred texts)
_ScalarEvent = yaml.ScalarEvent
_SequenceStart, _MappingStart = yaml.SequenceStartEvent, yaml.MappingStartEvent
_SequenceEnd, _MappingEnd = yaml.SequenceEndEvent, yaml.MappingEndEvent
_QUOTES = ("'", '"')
_NO_KEY = object()  # a mapping frame waiting for its next key
_SKIP = object()  # a mapping frame whose next value is read and dropped (a merge key or a key that is not a word)


class _Frame:
    """An open sequence or mapping while the event stream is read."""

    __slots__ = ("anchor", "count0", "inner", "items", "key", "key_text", "mark", "refused", "tag")

    def __init__(self, items: Any, mark: Any, tag: str, anchor: str | None, count0: int, refused: bool):
        self.items = items  # a list, or a dict for a mapping
        self.mark = mark
        self.tag = tag
        self.anchor = anchor
        self.count0 = count0
        self.refused = refused  # an unsupported tag: read, then given as null
        self.inner: dict[str, int] | None = None  # anchors this collection's aliases visit, and how often
        self.key: Any = _NO_KEY
        self.key_text = ""


class _Anchored:
    __slots__ = ("inner", "node", "size", "tag")

    def __init__(self, node: YNode | None, size: int, inner: dict[str, int] | None, tag: str):
        self.node = node  # None while the anchored collection is still open
        self.size = size  # values it expands to
        self.inner = inner
        self.tag = tag


class _Composer:
    """One pass over the YAML event stream (libyaml's when installed, else PyYAML's), building YNodes directly:
    the nesting limit is checked before a level is opened, and aliases are expanded and counted as they are
    used. The first finding that refuses the file is kept while the rest of the stream is still read, so a syntax
    error or a nesting past the limit further down is reported as before (PyYAML composed the whole file first)."""

    def __init__(self, file: str, limits: Limits):
        self.file = file
        self.limits = limits
        self.diags: list[Diagnostic] = []
        self.stop: Diagnostic | None = None
        self.count = 0
        self.anchors: dict[str, _Anchored] = {}
        self.marks: dict[str, Any] = {}
        self.uses: dict[str, int] = {}
        self.stack: list[_Frame] = []
        self.root: YNode | None = None

    def compose(self, text: str) -> tuple[YNode | None, list[Diagnostic]]:
        self.text = text
        try:
            self._read(text)
        except yaml.MarkedYAMLError as e:
            if _CLoader is None or "maximum nesting depth" not in str(e.problem or "") or e.problem_mark is None:
                raise
            # libyaml (PyYAML >= 6.0.3) refuses deep nesting in its scanner, which reads ahead of the events: PyYAML's
            # own composer finds where yamlnet's limit is passed, the same place as without libyaml
            loader = _Loader(text, self.limits.depth + 1)
            try:
                loader.get_single_node()
            except _Stop:
                raise
            except (yaml.YAMLError, RecursionError):
                pass
            finally:
                loader.dispose()
            raise _Stop(_too_deep(e.problem_mark, self.limits.depth + 1)) from None
        if self.stop is not None:
            return None, self.diags + [self.stop]
        return self.root, self.diags

    def _read(self, text: str) -> None:
        stack = self.stack
        depth = self.limits.depth
        docs = 0
        file, nodes, chars = self.file, self.limits.yaml_nodes, self.limits.string_chars
        plain_tags, values = _PLAIN_TAGS, _VALUES
        for ev in yaml.parse(text, Loader=_CLoader or yaml.SafeLoader):
            cls = type(ev)
            if cls is _ScalarEvent:
                if len(stack) > depth:
                    raise _Stop(_too_deep(ev.start_mark, depth + 1))
                # the common case inline (most events): a scalar seen before, without anchor or tag, that is an
                # item of a list or the value of a key; everything else goes through _scalar_event
                if ev.anchor is not None or ev.tag is not None or not stack:
                    self._scalar_event(ev)
                    continue
                f = stack[-1]
                items = f.items
                in_list = type(items) is list
                if not in_list and f.key is _NO_KEY:  # a key: merge keys, duplicates
                    self._scalar_event(ev)
                    continue
                text = ev.value
                if not ev.implicit[0]:
                    value: Any = text
                else:
                    tag = plain_tags.get(text)
                    if tag == _STR:
                        value = text
                    else:
                        value = values.get((tag, text), _NO_KEY)
                        if value is _NO_KEY:
                            self._scalar_event(ev)
                            continue
                if type(value) is str and len(value) > chars:
                    self._scalar_event(ev)
                    continue
                s, e = ev.start_mark, ev.end_mark
                if ev.style in _QUOTES and s.line == e.line and e.column - s.column >= 2:
                    span = Span(file, s.line + 1, s.column + 2, e.line + 1, e.column)
                else:
                    span = Span(file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)
                self.count += 1
                if self.count > nodes and self.stop is None:
                    self._counted_past(span)
                node = YNode(value, span)
                if in_list:
                    items.append(node)
                else:
                    if f.key is not _SKIP:
                        node.key_span = f.key.span
                        items[f.key_text] = node
                    f.key = _NO_KEY
            elif cls is _SequenceStart or cls is _MappingStart:
                if len(stack) > depth:
                    raise _Stop(_too_deep(ev.start_mark, depth + 1))
                if ev.anchor is not None or ev.tag is not None:
                    self._open(ev, cls is _MappingStart)
                    continue
                self.count += 1
                if self.count > nodes and self.stop is None:
                    self._counted_past(self._span(ev.start_mark, ev.start_mark))
                is_map = cls is _MappingStart
                stack.append(_Frame({} if is_map else [], ev.start_mark, _MAP if is_map else _SEQ, None, self.count, False))
            elif cls is _SequenceEnd or cls is _MappingEnd:
                f = stack[-1]
                if f.anchor is not None or f.inner or len(stack) == 1:
                    self._close(ev)
                    continue
                stack.pop()  # the common case: a collection inside another, without anchor or aliases
                s, e = f.mark, ev.end_mark
                self._attach(YNode(None if f.refused else f.items, Span(file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)), f.tag)
            elif cls is yaml.AliasEvent:
                if len(stack) > depth:
                    raise _Stop(_too_deep(ev.start_mark, depth + 1))
                self._alias(ev)
            elif cls is yaml.DocumentStartEvent:
                docs += 1
                if docs > 1:
                    raise yaml.composer.ComposerError(
                        "expected a single document in the stream", self.first_doc, "but found another document", ev.start_mark
                    )
                self.first_doc = ev.start_mark

    def _span(self, s: Any, e: Any, style: Any = None) -> Span:
        if style in ("'", '"') and s.line == e.line and e.column - s.column >= 2:
            return Span(self.file, s.line + 1, s.column + 2, e.line + 1, e.column)  # the text inside the quotes
        return Span(self.file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def _counted(self, span: Span) -> None:
        self.count += 1
        if self.count > self.limits.yaml_nodes and self.stop is None:
            self._counted_past(span)

    def _counted_past(self, span: Span) -> None:
        self.stop = Diagnostic(
            "YN504", f"the YAML expands to more than {self.limits.yaml_nodes:,} values (aliases?)", span, help="remove repeated aliases (*name)"
        )

    def _anchor(self, ev: Any) -> None:
        a = ev.anchor
        if a is None:
            return
        if a in self.marks:
            raise yaml.composer.ComposerError(f"found duplicate anchor {a!r}; first occurrence", self.marks[a], "second occurrence", ev.start_mark)
        self.marks[a] = ev.start_mark

    def _tag_span(self, ev: Any) -> Span:
        """Where a collection's tag is written: the word at the event's start (`!!python/tuple [1]`)."""
        s = ev.start_mark
        line = self.text.split("\n", s.line + 1)[s.line] if self.text else ""
        end = s.column
        while end < len(line) and not line[end].isspace() and line[end] not in "[{,":
            end += 1
        return Span(self.file, s.line + 1, s.column + 1, s.line + 1, max(end, s.column + 1) + 1)

    def _refuse_tag(self, tag: str, span: Span) -> bool:
        """True when the tag is not a standard one: a python tag refuses the file, any other is dropped (null)."""
        if tag.startswith("tag:yaml.org,2002:python/") or "python" in tag:
            if self.stop is None:
                self.stop = Diagnostic(
                    "YN502",
                    f"YAML tag `{_short_tag(tag)}` asks to run Python code; yamlnet never does",
                    span,
                    help="remove the tag; write the value as plain YAML",
                )
        else:
            self.diags.append(
                Diagnostic("YN502", f"unsupported YAML tag `{_short_tag(tag)}`", span, help="remove the tag; specs use plain YAML values")
            )
        return True

    def _scalar_event(self, ev: Any) -> None:
        self._anchor(ev)
        text = ev.value
        tag = ev.tag
        if tag is None or tag == "!":
            if ev.implicit[0]:
                tag = _PLAIN_TAGS.get(text)
                if tag is None:
                    tag = _resolver.resolve(yaml.ScalarNode, text, ev.implicit)
                    if len(text) <= 64:
                        if len(_PLAIN_TAGS) >= _CACHE_MAX:
                            _PLAIN_TAGS.clear()
                        _PLAIN_TAGS[text] = tag
            else:
                tag = _STR
        span = self._span(ev.start_mark, ev.end_mark, ev.style)
        self._counted(span)
        if tag == _STR or (tag == _MERGE and self._key_next()):
            value: Any = text
        elif tag == _TIMESTAMP:
            value = text  # a date-like plain scalar stays text
        elif tag not in _STD_TAGS:
            self._refuse_tag(tag, span)
            value = None
        else:
            key = (tag, text)
            value = _VALUES.get(key, _NO_KEY)
            if value is _NO_KEY:
                value = _scalar(yaml.ScalarNode(tag, text, ev.start_mark, ev.end_mark, ev.style))
                if len(text) <= 64:
                    if len(_VALUES) >= _CACHE_MAX:
                        _VALUES.clear()
                    _VALUES[key] = value
        if isinstance(value, str) and len(value) > self.limits.string_chars:
            self.diags.append(
                Diagnostic(
                    "YN506",
                    f"a string of {len(value):,} characters",
                    span,
                    help=f"strings longer than {self.limits.string_chars} characters are refused",
                )
            )
            value = value[:0]
        node = YNode(value, span)
        if ev.anchor is not None:
            self.anchors[ev.anchor] = _Anchored(node, 1, None, tag)
        self._attach(node, tag)

    def _key_next(self) -> bool:
        return bool(self.stack) and type(self.stack[-1].items) is dict and self.stack[-1].key is _NO_KEY

    def _open(self, ev: Any, is_map: bool) -> None:
        self._anchor(ev)
        tag = ev.tag
        if tag is None or tag == "!":
            tag = _MAP if is_map else _SEQ
        span = self._span(ev.start_mark, ev.start_mark)  # its end is not read yet
        self._counted(span)
        refused = tag not in _STD_TAGS and self._refuse_tag(tag, self._tag_span(ev))
        self.stack.append(_Frame({} if is_map else [], ev.start_mark, tag, ev.anchor, self.count, refused))
        if ev.anchor is not None:
            self.anchors[ev.anchor] = _Anchored(None, 0, None, tag)

    def _close(self, ev: Any) -> None:
        f = self.stack.pop()
        node = YNode(None if f.refused else f.items, self._span(f.mark, ev.end_mark))
        if f.anchor is not None:
            self.anchors[f.anchor] = _Anchored(node, self.count - f.count0 + 1, f.inner, f.tag)
            self.uses[f.anchor] = 0
        if f.inner and self.stack:
            self._visits(f.inner)
        self._attach(node, f.tag)

    def _visits(self, inner: dict[str, int]) -> None:
        """Aliases below the open collection visit these anchors this often (an alias of it visits them again)."""
        top = self.stack[-1]
        if top.inner is None:
            top.inner = {}
        for a, k in inner.items():
            top.inner[a] = top.inner.get(a, 0) + k

    def _alias(self, ev: Any) -> None:
        a = ev.anchor
        target = self.anchors.get(a)
        if target is None:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {a!r}", ev.start_mark)
        span = self._span(ev.start_mark, ev.end_mark)
        if target.node is None:  # an alias inside the collection it names: a structure without end
            if self.stop is None:
                self.stop = Diagnostic(
                    "YN504", f"the alias `*{a}` is used inside the collection it names, which would nest without end", span, help="remove the alias"
                )
            self._attach(YNode(None, span), target.tag)
            return
        self.count += target.size - 1
        self._counted(span)
        if target.tag in (_SEQ, _MAP) or target.inner:
            visits = {a: 1} if target.tag in (_SEQ, _MAP) else {}
            for b, k in (target.inner or {}).items():
                visits[b] = visits.get(b, 0) + k
            for b, k in visits.items():
                self.uses[b] = self.uses.get(b, 0) + k
                if self.uses[b] > self.limits.aliases and self.stop is None:
                    self.stop = Diagnostic(
                        "YN504", "a YAML alias is used too often", span, help=f"more than {self.limits.aliases} uses of one anchor are refused"
                    )
            if self.stack:
                self._visits(visits)
        node = _copy(target.node, top=True) if self.stop is None else YNode(None, target.node.span)
        self._attach(node, target.tag)

    def _attach(self, node: YNode, tag: str) -> None:
        stack = self.stack
        if not stack:
            self.root = node
            return
        f = stack[-1]
        if type(f.items) is list:
            f.items.append(node)
            return
        if f.key is _NO_KEY:  # this node is a key
            v = node.value
            if tag == _MERGE or (v == "<<" and tag != _STR):
                self.diags.append(
                    Diagnostic("YN504", "YAML merge keys (`<<`) are not supported in specs", node.span, help="write the keys out in full")
                )
                f.key = _SKIP
            elif not isinstance(v, (str, int, float, bool)):
                self.diags.append(Diagnostic("YN102", "a mapping key must be a plain word", node.span, help="use a name such as `nc` or `backbone`"))
                f.key = _SKIP
            else:
                ks = str(v)
                if ks in f.items:
                    first = f.items[ks].key_span
                    self.diags.append(
                        Diagnostic(
                            "YN123",
                            f"duplicate key `{ks}`",
                            node.span,
                            labels=(Label(first, "first given here"),) if first is not None else (),
                            help="remove one of the two; YAML would silently keep the last",
                        )
                    )
                f.key, f.key_text = node, ks
            return
        if f.key is not _SKIP:
            node.key_span = f.key.span
            f.items[f.key_text] = node
        f.key = _NO_KEY


def _copy(node: YNode, top: bool = False) -> YNode:
    """A fresh tree for one use of an alias: the uses must not share nodes, and the copy takes the key span of the
    place it is used (set when it is attached), not of the anchor's place."""
    v = node.value
    if type(v) is list:
        v = [_copy(x) for x in v]
    elif type(v) is dict:
        v = {k: _copy(x) for k, x in v.items()}
    return YNode(v, node.span, None if top else node.key_span)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


_constructor = yaml.SafeLoader.__new__(yaml.SafeLoader)
yaml.constructor.SafeConstructor.__init__(_constructor)


def _scalar(node: yaml.ScalarNode) -> Any:
    """A scalar's value by its resolved standard tag (safe constructor; no object construction)."""
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return _constructor.construct_object(node, deep=False)
    except (ValueError, OverflowError, yaml.constructor.ConstructorError):
        return node.value
