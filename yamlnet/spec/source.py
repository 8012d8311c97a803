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


def _span(file: str, node: yaml.Node) -> Span:
    s, e = node.start_mark, node.end_mark
    if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"') and s.line == e.line and e.column - s.column >= 2:
        return Span(file, s.line + 1, s.column + 2, e.line + 1, e.column)  # the text inside the quotes
    return Span(file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)


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
        root = _compose(src.text, limits)
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
    except RecursionError:  # pragma: no cover - the composer's depth limit comes first
        return None, [
            Diagnostic("YN505", "the YAML nests too deeply", Span(file, 1, 1), help=f"nesting deeper than {limits.depth} levels is refused")
        ]
    if root is None:
        return None, [Diagnostic("YN509", "the spec is empty", Span(file, 1, 1), help="a spec needs at least a `backbone:` list of rows")]
    diags: list[Diagnostic] = []
    seen: dict[int, int] = {}
    count = [0]

    def walk(node: yaml.Node, depth: int) -> YNode:
        span = _span(file, node)
        count[0] += 1
        if depth > limits.depth:
            raise _Stop(
                Diagnostic(
                    "YN505", f"the YAML nests deeper than {limits.depth} levels", span, help="flatten the value; specs never need deep nesting"
                )
            )
        if count[0] > limits.yaml_nodes:
            raise _Stop(
                Diagnostic(
                    "YN504", f"the YAML expands to more than {limits.yaml_nodes:,} values (aliases?)", span, help="remove repeated aliases (*name)"
                )
            )
        if id(node) in seen:
            seen[id(node)] += 1
            if seen[id(node)] > limits.aliases:
                raise _Stop(
                    Diagnostic("YN504", "a YAML alias is used too often", span, help=f"more than {limits.aliases} uses of one anchor are refused")
                )
        elif isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            seen[id(node)] = 0
        if node.tag == _TIMESTAMP and isinstance(node, yaml.ScalarNode):
            return YNode(node.value, span)  # a date-like plain scalar stays text
        if node.tag not in _STD_TAGS:
            if node.tag.startswith("tag:yaml.org,2002:python/") or "python" in node.tag:
                raise _Stop(
                    Diagnostic(
                        "YN502",
                        f"YAML tag `{_short_tag(node.tag)}` asks to run Python code; yamlnet never does",
                        span,
                        help="remove the tag; write the value as plain YAML",
                    )
                )
            diags.append(
                Diagnostic("YN502", f"unsupported YAML tag `{_short_tag(node.tag)}`", span, help="remove the tag; specs use plain YAML values")
            )
            return YNode(None, span)
        if isinstance(node, yaml.ScalarNode):
            value = _scalar(node)
            if isinstance(value, str) and len(value) > limits.string_chars:
                diags.append(
                    Diagnostic(
                        "YN506",
                        f"a string of {len(value):,} characters",
                        span,
                        help=f"strings longer than {limits.string_chars} characters are refused",
                    )
                )
                value = value[:0]
            return YNode(value, span)
        if isinstance(node, yaml.SequenceNode):
            return YNode([walk(x, depth + 1) for x in node.value], span)
        out: dict[str, YNode] = {}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge" or (isinstance(k, yaml.ScalarNode) and k.value == "<<" and k.tag != "tag:yaml.org,2002:str"):
                diags.append(
                    Diagnostic("YN504", "YAML merge keys (`<<`) are not supported in specs", _span(file, k), help="write the keys out in full")
                )
                continue
            key = walk(k, depth + 1)
            if not isinstance(key.value, (str, int, float, bool)) or isinstance(key.value, bool) and False:
                diags.append(Diagnostic("YN102", "a mapping key must be a plain word", key.span, help="use a name such as `nc` or `backbone`"))
                continue
            ks = str(key.value)
            if ks in out:
                first = out[ks].key_span
                diags.append(
                    Diagnostic(
                        "YN123",
                        f"duplicate key `{ks}`",
                        key.span,
                        labels=(Label(first, "first given here"),) if first is not None else (),
                        help="remove one of the two; YAML would silently keep the last",
                    )
                )
            child = walk(v, depth + 1)
            child.key_span = key.span
            out[ks] = child
        return YNode(out, span)

    try:
        tree = walk(root, 0)
    except _Stop as stop:
        return None, diags + [stop.diag]
    except RecursionError:
        return None, [Diagnostic("YN505", "the YAML nests too deeply", Span(file, 1, 1), help="flatten the value")]
    return tree, diags


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
_NODE_EVENTS = (yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)


def _check_depth(text: str, max_depth: int) -> None:
    """The nesting limit, from libyaml's event stream (iterative), before its composer (recursive in C) runs.
    The libyaml bundled with newer PyYAML wheels (6.0.4) refuses deep nesting itself, in its scanner, which reads
    ahead of the events: that refusal is the same limit, so it is reported as YN505 too, whatever PyYAML is installed."""
    open_ = 0
    try:
        for ev in yaml.parse(text, Loader=_CLoader):
            if isinstance(ev, _NODE_EVENTS):
                if open_ + 1 > max_depth:
                    raise _Stop(_too_deep(ev.start_mark, max_depth))
                if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                    open_ += 1
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                open_ -= 1
    except yaml.MarkedYAMLError as e:
        if "maximum nesting depth" not in str(e.problem or "") or e.problem_mark is None:
            raise
        loader = _Loader(text, max_depth)  # PyYAML's own composer stops at yamlnet's limit: the same place as without libyaml
        try:
            loader.get_single_node()
        except _Stop:
            raise
        except (yaml.YAMLError, RecursionError):
            pass
        finally:
            loader.dispose()
        raise _Stop(_too_deep(e.problem_mark, max_depth)) from None


def _compose(text: str, limits: Limits) -> yaml.Node | None:
    """Compose with libyaml when it is there (ten times faster), else with PyYAML's composer; both safe."""
    if _CLoader is not None:
        _check_depth(text, limits.depth + 1)
        return yaml.compose(text, Loader=_CLoader)  # type: ignore[no-any-return]
    loader = _Loader(text, limits.depth + 1)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


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
