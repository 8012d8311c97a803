"""Where the cursor is inside a row, read from the line's text alone (the file may not parse while it is typed):
which item of `[from, number, module, args]` and which argument, so completion can offer block names, indices
and argument values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

ITEMS = ("from", "number", "module", "args")
_KEY = re.compile(r"^\s*(?:-\s+)?(from|number|n|module|args)\s*:\s*")
_FLOW_KEY = re.compile(r"[{,]\s*(from|number|n|module|args)\s*:\s*")  # a key inside `{name: x, module: Conv, ...}`
_FLOW_MODULE = re.compile(r"[{,]\s*module\s*:\s*([A-Za-z_][\w.]*)")


@dataclass(frozen=True)
class RowCursor:
    """`item`: 0 from, 1 number, 2 module, 3 args; `arg`: the argument's position inside args (None outside);
    `module`: the module name written on the line, when there is one; `prefix`: the word typed so far."""

    item: int
    arg: int | None
    module: str | None
    prefix: str


def _strip_comment(text: str) -> str:
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def _split_items(body: str) -> list[str]:
    """The depth-1 items of a flow row `[a, b, c, [d, e]]` (without the outer bracket), as written so far."""
    items, depth, cur = [], 0, []
    for ch in body:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth < 0:
                break
        if ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    items.append("".join(cur))
    return items


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    found = list(matches)
    return found[-1] if found else None


def _closed(text: str) -> bool:
    """Whether the bracket that opens `text` is closed inside it."""
    depth = 0
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if depth == 0:
            return True
    return False


def row_cursor(line: str, column: int) -> RowCursor | None:
    """The cursor at 0-based `column` of `line` (characters), or None when it is not inside a row."""
    before = _strip_comment(line[:column])
    if len(before) < column:
        return None  # inside a comment
    prefix = re.search(r"[A-Za-z0-9_.\-]*$", before).group()  # type: ignore[union-attr]
    key = _KEY.match(before)
    flow = None if key else _last(_FLOW_KEY.finditer(before)) if "{" in before else None
    if key or flow:  # a mapping row: `module: Co`, `args: [64, 3`, or `{from: -1, module: Conv, args: [64, `
        m = key or flow
        assert m is not None
        item = ITEMS.index("number" if m.group(1) == "n" else m.group(1))
        rest = before[m.end() :]
        arg = None
        if item == 3:
            if not rest.startswith("[") or _closed(rest):
                return None
            arg = len(_split_items(rest[1:])) - 1
        elif "," in rest:
            return None  # past this key's value
        module = _FLOW_MODULE.search(_strip_comment(line)) if flow else None
        return RowCursor(item, arg, module.group(1) if module else None, prefix)
    start = before.find("[")
    if start < 0:
        return None
    if _closed(before[start:]):
        return None  # after the row
    items = _split_items(before[start + 1 :])
    item = len(items) - 1
    if item > 3:
        return None
    module = None
    whole = _split_items(_strip_comment(line)[start + 1 :])
    if len(whole) > 2:
        module = whole[2].strip() or None
    arg = None
    if item == 3:
        last = items[3].lstrip()
        if not last.startswith("["):
            return RowCursor(3, None, module, prefix)
        arg = len(_split_items(last[1:])) - 1
    if item == 0 and items[0].lstrip().startswith("["):  # [[-1, 6], ...]: a list of inputs
        return RowCursor(0, None, module, prefix)
    return RowCursor(item, arg, module, prefix)


__all__ = ["ITEMS", "RowCursor", "row_cursor"]
