"""Positioned YAML tree -> typed Spec, with a Diagnostic for everything that does not fit."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic

from .. import registry
from ..diagnostics import Diagnostic, Edit, Fix, SourceText, Span
from .bundled import find_bundled, is_bare, missing
from .comments import RowAt, check_index_comments
from .dialect import choose_scale, unscaled_path
from .dialect import detect as detect_dialect
from .expr import ACTIVATIONS, ExprError, allowed_activation, evaluate, looks_like_code
from .limits import DEFAULT_LIMITS, Limits
from .model import Header, Ref, Row, Spec, checked
from .numbering import SEED_SLOTS, uses_seed_numbering
from .source import YNode, compose_tree, read_source

ROW_KEYS = ("from", "number", "module", "args")
_REF = re.compile(r"^\s*(?:(?P<row>-?\d+|[A-Za-z_][A-Za-z0-9_]*)\s*\.\s*)?(?P<tap>[A-Za-z_][A-Za-z0-9_]*|-?\d+)\s*$")

SECTIONS = ("backbone", "head", "activation")  # top-level keys read apart from the header
_KNOWN_KEYS = frozenset(SECTIONS) | frozenset(Header.model_fields) | {f.alias for f in Header.model_fields.values() if f.alias}
__all__ = ["ACTIVATIONS", "SECTIONS", "load_spec_with_diagnostics", "parse_tree"]


def _words_in_rows(top: dict[str, YNode]) -> set[str]:
    """Every word written in a string of the rows: the names a row may use (also in rows that have errors)."""
    words: set[str] = set()
    stack = [top[s] for s in ("backbone", "head") if s in top]
    while stack:
        node = stack.pop()
        v = node.value
        if isinstance(v, list):
            stack += v
        elif isinstance(v, dict):
            stack += v.values()
        elif isinstance(v, str):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", v))
    return words


def load_spec_with_diagnostics(
    path_or_text: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS, overrides: Mapping[str, Any] | None = None
) -> tuple[Spec | None, list[Diagnostic], SourceText | None]:
    """Read and parse a spec. `overrides` replace top-level keys before anything is read from them (nc, anchors,
    ch, scale, dialect), so every row that uses them sees the new value. A scaled name that is not a file
    (`yolo11n.yaml`) reads the file it stands for (`yolo11.yaml`) with that scale, as Ultralytics does."""
    scale_name = os.fspath(path_or_text)
    if is_bare(scale_name) and not Path(scale_name).exists():  # `yolo11n.yaml`: a bundled spec, as Ultralytics reads it
        bundled = find_bundled(scale_name)
        if bundled is None and _unscaled_file(scale_name) is None:
            return None, [missing(scale_name)], None
        if bundled is not None:
            path_or_text = scale_name = str(bundled)
    unscaled = _unscaled_file(path_or_text)
    src, diags = read_source(unscaled if unscaled is not None else path_or_text, limits)
    if src is None:
        return None, diags, None
    tree, more = compose_tree(src, limits)
    diags += more
    if tree is None:
        return None, diags, src
    spec, more = parse_tree(tree, src, limits, overrides=overrides, scale_name=scale_name)
    return spec, diags + more, src


def _unscaled_file(path_or_text: str | os.PathLike[str]) -> str | None:
    s = os.fspath(path_or_text)
    if "\n" in s or not s.endswith((".yaml", ".yml")):
        return None
    try:
        if Path(s).exists():
            return None
        alt = unscaled_path(s)
        return str(alt) if alt is not None and alt.is_file() else None
    except (OSError, ValueError):
        return None


def _ynode(value: Any, span: Span) -> YNode:
    """A YNode for a value given in Python (an override), with the span every part of it reports."""
    if isinstance(value, (list, tuple)):
        return YNode([_ynode(v, span) for v in value], span, span)
    if isinstance(value, dict):
        return YNode({str(k): _ynode(v, span) for k, v in value.items()}, span, span)
    return YNode(value, span, span)


def parse_tree(
    tree: YNode, src: SourceText, limits: Limits = DEFAULT_LIMITS, overrides: Mapping[str, Any] | None = None, scale_name: str | None = None
) -> tuple[Spec | None, list[Diagnostic]]:
    file = src.name
    diags: list[Diagnostic] = []
    if not isinstance(tree.value, dict):
        return None, [
            Diagnostic(
                "YN102",
                "a spec is a mapping (nc:, backbone:, head: ...)",
                tree.span,
                help="start the file with keys such as `nc: 80` and `backbone:`",
            )
        ]
    top: dict[str, YNode] = dict(tree.value)
    for k, v in (overrides or {}).items():
        if v is not None:  # an override given in Python (build(nc=3), --scale s): reported at the key it replaces
            where = top[k].key_span or top[k].span if k in top else Span(file, 1, 1)
            top[k] = _ynode(v, Span(where.file, where.line, where.column, where.end_line, where.end_column))
    spans = {k: (v.key_span or v.span) for k, v in top.items()}

    # header: everything but the rows and the activation, checked by pydantic
    header_in = {k: v.plain() for k, v in top.items() if k not in SECTIONS}
    for k, v in list(header_in.items()):
        if isinstance(v, str) and looks_like_code(v):
            diags.append(
                Diagnostic(
                    "YN501",
                    f"`{k}` holds Python code; yamlnet never runs code from a spec",
                    top[k].span,
                    help=_header_help(k) if k in Header.model_fields else "write a literal value",
                )
            )
            del header_in[k]
    for k in [k for k, v in header_in.items() if k in Header.model_fields and isinstance(v, str) and looks_like_code(v)]:
        diags.append(Diagnostic("YN501", f"`{k}` is Python code; yamlnet never runs code from a spec", top[k].span, help=_header_help(k)))
        del header_in[k]
    header = Header()
    try:
        header = Header.model_validate(header_in)
    except pydantic.ValidationError as e:
        bad = set()
        for err in e.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            bad.add(key)
            node = top.get(key)
            diags.append(
                Diagnostic(
                    "YN104", f"`{key}`: {err['msg'].removeprefix('Value error, ')}", node.span if node else Span(file, 1, 1), help=_header_help(key)
                )
            )
        header = Header.model_validate({k: v for k, v in header_in.items() if k not in bad})

    names: dict[str, Any] = {k: v for k, v in header_in.items() if _bindable(v)}
    if header.nc is not None:
        names["nc"] = header.nc  # no silent 80 when it is absent: a row that uses `nc` gets YN114

    dialect, more = detect_dialect(top, _row_shapes(top), file)
    diags += more
    scales = header.scales  # None when absent or malformed (then already reported)
    scale, more = choose_scale(
        scales, header.scale, (top["scale"].span if "scale" in top else None), scale_name or file, spans.get("scales", Span(file, 1, 1))
    )
    diags += more
    depth, width, max_channels = header.depth_multiple, header.width_multiple, math.inf
    if scales and scale is not None:
        depth, width, max_channels = scales[scale]
        for key in ("depth_multiple", "width_multiple"):
            if key in top:
                diags.append(
                    Diagnostic(
                        "YN110",
                        f"`{key}` is ignored: the spec has `scales:`, and scale `{scale}` sets depth, width and max_channels",
                        spans[key],
                        severity="warning",
                        help=f"remove `{key}`, or remove `scales:` to use it",
                    )
                )

    activation = None
    if "activation" in top and top["activation"].value is not None:
        node = top["activation"]
        if not isinstance(node.value, str):
            diags.append(
                Diagnostic("YN111", "`activation` must be a string such as nn.SiLU()", node.span, help="write e.g. `activation: nn.LeakyReLU(0.1)`")
            )
        else:
            try:
                activation = allowed_activation(node.value, limits)
            except ExprError as e:
                diags.append(_expr_diag(e, node, "write e.g. `activation: nn.LeakyReLU(0.1)`"))

    sections: dict[str, list[Row]] = {"backbone": [], "head": []}
    if "backbone" not in top:
        diags.append(
            Diagnostic(
                "YN112",
                "the spec has no `backbone:` section",
                Span(file, 1, 1),
                help="add `backbone:` with a list of [from, number, module, args] rows",
            )
        )
    position = 0
    items: list[tuple[int, YNode]] = []
    for section in ("backbone", "head"):
        node = top.get(section)
        if node is None or node.value is None:
            continue
        if not isinstance(node.value, list):
            diags.append(
                Diagnostic("YN103", f"`{section}` must be a list of rows", node.span, help="write each row as `- [from, number, module, args]`")
            )
            continue
        for item in node.value:
            if position >= limits.rows:
                diags.append(
                    Diagnostic(
                        "YN507", f"the spec has more than {limits.rows} rows", item.span, help="raise the limit with --max-rows if this is intended"
                    )
                )
                break
            row = _parse_row(item, position, section, names, limits, diags, dialect)  # type: ignore[arg-type]
            if row is not None:
                sections[section].append(row)
            items.append((position, item))
            position += 1
    diags += _unknown_keys(top, overrides or {})
    diags += _index_comments(src, items, sections["backbone"] + sections["head"], dialect)
    spec = Spec.model_construct(  # every value was checked above: no second validation
        path=file,
        nc=header.nc,
        depth_multiple=depth,
        width_multiple=width,
        anchors=header.anchors,
        activation=activation,
        ch=header.ch,
        dialect=dialect,  # type: ignore[arg-type]
        scale=scale,
        scales=scales,
        max_channels=max_channels,
        backbone=sections["backbone"],
        head=sections["head"],
        names=names,
        source=src,
        spans=spans,
    )
    spec.read_as = {k: getattr(spec, k) for k in ("nc", "anchors", "ch", "scale", "dialect")}
    return spec, diags


def _unknown_keys(top: dict[str, YNode], overrides: Mapping[str, Any]) -> list[Diagnostic]:
    """YN113 for a top-level key the compiler does not know and no expression uses (a typo such as
    `depth_multiplier` would otherwise be a silent spec variable), with the closest known key as a fix."""
    known = _KNOWN_KEYS
    out: list[Diagnostic] = []
    unknown = [k for k in top if k not in known and k not in overrides]
    used = _words_in_rows(top) if unknown else set()  # the rows' words are read only when a key needs them
    for key in unknown:
        node = top[key]
        if key in used:
            continue
        span = node.key_span or node.span
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
        fixes: tuple[Fix, ...] = ()
        hint = "remove it, or use it in a row's arguments; a spec's known keys: " + ", ".join(sorted(known))
        if close:
            hint = f"did you mean `{close[0]}`?"
            if close[0] in top:
                hint += f" (the spec also has `{close[0]}`; remove one of the two)"
            elif span.line > 0:
                ratio = difflib.SequenceMatcher(None, key, close[0]).ratio()
                safe = ratio >= 0.85 or key.lower() == close[0].lower()
                fixes = (Fix(f"rename `{key}` to `{close[0]}`", (Edit(span, close[0]),), "safe" if safe else "unsafe"),)
        out.append(
            Diagnostic(
                "YN113",
                f"unknown top-level key `{key}`, and no row uses it",
                span,
                severity="warning",
                label="not a key yamlnet reads",
                notes=("an unknown key is a name that rows may use in their arguments; this one changes nothing",),
                help=hint,
                fixes=fixes,
            )
        )
    return out


def _index_comments(src: SourceText, items: list[tuple[int, YNode]], rows: list[Row], dialect: str) -> list[Diagnostic]:
    """YN209: index comments (`# 17 (P3/8-small)`) that disagree with the rows' indices (spec/comments.py)."""
    if not items:
        return []
    modules = [_module_name(item) for _, item in items]
    shift = 0
    if items[0][0] == 0:
        if modules[0] is None or registry.lookup(modules[0], dialect) is None:
            return []  # row 0 unreadable: the numbering is unknown
        if uses_seed_numbering(modules, dialect):
            shift = SEED_SLOTS - 1
    at = [RowAt(p, p + (shift if p > 0 else 0), item.span, m or "?") for (p, item), m in zip(items, modules, strict=True)]
    return check_index_comments(src, at, rows, fixed_slots=SEED_SLOTS if shift else 0)


def _module_name(item: YNode) -> str | None:
    v = item.value
    m = v[2] if isinstance(v, list) and len(v) == 4 else v.get("module") if isinstance(v, dict) else None
    return m.value if m is not None and isinstance(m.value, str) else None


def _expr_diag(e: ExprError, node: YNode, help: str = "") -> Diagnostic:
    """A Diagnostic for an expression error inside a scalar, with the error's suggestion as a fix when the
    scalar is written on one line (its text is where the span says)."""
    sp = node.span
    if e.suggest is not None and sp.line > 0 and sp.end_line == sp.line and isinstance(node.value, str):
        a, b, text, applicability = e.suggest
        where = Span(sp.file, sp.line, sp.column + a - 1, sp.line, sp.column + b - 1)
        fix = Fix(f"replace `{node.value[a - 1 : b - 1]}` with `{text}`", (Edit(where, text),), "safe" if applicability == "safe" else "unsafe")
        return Diagnostic(e.code, e.message, where, help=e.help or help, fixes=(fix,))
    return Diagnostic(e.code, e.message, _col(sp, e.column), help=e.help or help)


def _bindable(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool, list)) or v is None


def _header_help(key: str) -> str:
    return {
        "nc": "nc is the number of classes, a whole number >= 1 (e.g. `nc: 80`)",
        "depth_multiple": "a positive finite number, e.g. 0.33",
        "width_multiple": "a positive finite number, e.g. 0.50",
        "anchors": "a list of levels, each a list of w,h pairs, e.g. `- [10,13, 16,30, 33,23]`, or a number of anchors per level",
        "ch": "the number of input channels, e.g. 3",
    }.get(key, "fix the value's type")


def _col(span: Span, column: int) -> Span:
    """A span inside a scalar: column offset within the text (quotes are not counted exactly)."""
    if span.line <= 0:
        return span
    return Span(span.file, span.line, span.column + max(column - 1, 0), span.line, span.column + max(column - 1, 0) + 1)


def _row_shapes(top: dict[str, YNode]) -> list[tuple[str, int, Span, tuple[Any, ...]]]:
    """(module, number of args, module span, the args as written) of every well-formed row: the evidence for the dialect."""
    out: list[tuple[str, int, Span, tuple[Any, ...]]] = []
    for section in ("backbone", "head"):
        node = top.get(section)
        if node is None or not isinstance(node.value, list):
            continue
        for item in node.value:
            v = item.value
            if isinstance(v, list) and len(v) == 4:
                m, a = v[2], v[3]
            elif isinstance(v, dict) and "module" in v:
                m, a = v["module"], v.get("args", YNode([], item.span))
            else:
                continue
            if isinstance(m.value, str):
                written = tuple(x.value for x in a.value) if isinstance(a.value, list) else ()
                out.append((m.value, len(written), m.span, written))
    return out


def _parse_row(
    item: YNode, position: int, section: str, names: dict[str, Any], limits: Limits, diags: list[Diagnostic], dialect: str = "yolov5"
) -> Row | None:
    name: str | None = None
    weights: str | None = None
    if isinstance(item.value, list):
        if len(item.value) != 4:
            diags.append(
                Diagnostic(
                    "YN103",
                    f"a row has 4 items [from, number, module, args]; this one has {len(item.value)}",
                    item.span,
                    help="write the row as [from, number, module, args], e.g. [-1, 1, Conv, [64, 3, 2]]",
                )
            )
            return None
        f_node, n_node, m_node, a_node = item.value
    elif isinstance(item.value, dict):
        d = item.value
        unknown = [k for k in d if k not in (*ROW_KEYS, "name", "n", "weights")]
        for k in unknown:
            known = [x for x in (*ROW_KEYS, "name", "n", "weights") if x not in d]
            close = difflib.get_close_matches(k, known, n=1, cutoff=0.7)
            key = YNode(k, d[k].key_span or d[k].span)
            diags.append(
                Diagnostic(
                    "YN103",
                    f"unknown row key `{k}`",
                    key.span,
                    help=(f"did you mean `{close[0]}`? " if close else "") + "a row's keys: name, from, number (or n), module, args, weights",
                    fixes=_replace_fix(key, close[0], "safe" if sorted(k) == sorted(close[0]) else "unsafe") if close else (),
                )
            )
        if "module" not in d:
            diags.append(Diagnostic("YN103", "the row has no `module`", item.span, help="add `module: Conv` (or another block)"))
            return None
        f_node = d.get("from", YNode(-1, item.span))
        n_node = d.get("number", d.get("n", YNode(1, item.span)))
        m_node = d["module"]
        a_node = d.get("args", YNode([], item.span))
        if "name" in d:
            nm = d["name"].value
            if not isinstance(nm, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", nm):
                diags.append(Diagnostic("YN103", "a row name is a word (letters, digits, _)", d["name"].span, help="e.g. `name: backbone`"))
            else:
                name = nm
        if "weights" in d:
            w = d["weights"].value
            if w not in (None, False):
                if not isinstance(w, str):
                    diags.append(Diagnostic("YN107", "`weights` is a file path", d["weights"].span, help="e.g. `weights: emo_1m.pth`"))
                else:
                    weights = w
    else:
        diags.append(
            Diagnostic("YN103", "a row is a list [from, number, module, args] or a mapping", item.span, help="e.g. `- [-1, 1, Conv, [64, 3, 2]]`")
        )
        return None

    ok = True
    refs = _parse_from(f_node, diags)
    if refs is None:
        ok = False

    number = n_node.value
    if isinstance(number, str):
        try:
            number = evaluate(number, names, limits)
        except ExprError as e:
            diags.append(_expr_diag(e, n_node))
            ok = False
    # 0 is accepted (YN125, a warning in lowering): both references build such a row, as one copy or with n = 0
    if ok and (not isinstance(number, int) or isinstance(number, bool) or number < 0):
        diags.append(
            Diagnostic(
                "YN116",
                f"`number` must be a whole number >= 1, not {number!r}",
                n_node.span,
                help="number is how often the block repeats (scaled by depth_multiple), e.g. 3",
                fixes=(Fix("repeat the block once", (Edit(n_node.span, "1"),), "unsafe"),)
                if n_node.span.line > 0 and n_node.span.end_line == n_node.span.line
                else (),
            )
        )
        ok = False
    elif ok and number > limits.repeats:
        diags.append(
            Diagnostic("YN507", f"a block repeated {number:,} times", n_node.span, help=f"the limit is {limits.repeats}; raise it with --max-repeats")
        )
        ok = False

    module = m_node.value
    if not isinstance(module, str):
        diags.append(
            Diagnostic("YN103", f"`module` must be a block name, not {type(module).__name__}", m_node.span, help="e.g. Conv, C3, nn.Upsample")
        )
        return None
    if re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_.]*(\s+[A-Za-z0-9_.]+)+\s*", module):  # words with spaces: a typo, not code
        joined = re.sub(r"\s+", "", module)
        found = registry.lookup(joined, dialect) is not None
        close = [joined] if found else difflib.get_close_matches(joined, registry.names(dialect), n=1, cutoff=0.6)
        diags.append(
            Diagnostic(
                "YN105",
                f"unknown module `{module}`",
                m_node.span,
                label="a block name has no spaces",
                help=f"did you mean `{close[0]}`?" if close else "see `yamlnet blocks` for the registered names",
                fixes=_replace_fix(m_node, close[0], "safe" if found else "unsafe") if close else (),
            )
        )
        return None
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", module):
        code = "YN501" if ("(" in module or "__" in module or " " in module.strip()) else "YN105"
        diags.append(
            Diagnostic(
                code,
                "the module is Python code, not a block name; yamlnet never runs code from a spec"
                if code == "YN501"
                else f"`{module}` is not a block name",
                m_node.span,
                help="name a registered block such as Conv or C3; custom blocks are registered from Python",
            )
        )
        return None
    if registry.lookup(module, dialect) is None:
        known = registry.names(dialect)
        close = difflib.get_close_matches(module, known, n=3, cutoff=0.6)
        if not close:
            lowered = {n.lower(): n for n in known}
            close = [lowered[module.lower()]] if module.lower() in lowered else []
        elsewhere = [d for d in registry.dialects_of(module) if d != dialect]
        if elsewhere:
            other = registry.dialect_title(elsewhere[0])
            this = registry.dialect_title(dialect)
            text = f"`{module}` is a{'n' * (other[0] in 'AEIOU')} {other} block, but this spec reads as {this}"
            hint = f"add a top-level `dialect: {elsewhere[0]}` if the file is written for {other}"
            if close:
                hint = f"did you mean {' or '.join(f'`{c}`' for c in close)}? If the file is written for {other}, add `dialect: {elsewhere[0]}`"
        else:
            text = f"unknown module `{module}`"
            hint = (
                f"did you mean {' or '.join(f'`{c}`' for c in close)}?"
                if close
                else "see `yamlnet blocks` for the registered names; custom blocks are registered from Python (docs/spec-reference.md)"
            )
        fixes: tuple[Fix, ...] = ()
        if close:
            similar = close[0].lower() == module.lower() or difflib.SequenceMatcher(None, module, close[0]).ratio() >= 0.9
            safe = not elsewhere and len(close) == 1 and similar
            fixes = tuple(f for c in close for f in _replace_fix(m_node, c, "safe" if safe else "unsafe"))
        diags.append(Diagnostic("YN105", text, m_node.span, label="not a registered block", help=hint, fixes=fixes))
        ok = False

    args: list[Any] = []
    arg_spans: list[Span] = []
    if a_node.value is None:
        a_items: list[YNode] = []
    elif isinstance(a_node.value, list):
        a_items = a_node.value
    else:
        diags.append(Diagnostic("YN103", "`args` must be a list", a_node.span, help="e.g. [64, 3, 2]; [] for none"))
        return None
    for a in a_items:
        try:
            if "nc" not in names and _mentions_nc(a):
                raise _ArgError(_missing_nc(a, module))
            args.append(_resolve_arg(a, names, limits))
        except ExprError as e:
            diags.append(_expr_diag(e, a))
            ok = False
        except _ArgError as e:
            diags.append(e.diag)
            ok = False
        arg_spans.append(a.span)
    if not ok or refs is None:
        return None
    return checked(
        Row,  # every value was checked above
        position=position,
        section=section,
        name=name,
        refs=refs,
        number=number,
        module=module,
        args=args,
        weights=weights,  # type: ignore[arg-type]
        span=item.span,
        from_span=f_node.span,
        number_span=n_node.span,
        module_span=m_node.span,
        args_span=a_node.span,
        arg_spans=arg_spans,
    )


def _replace_fix(node: YNode, text: str, applicability: str) -> tuple[Fix, ...]:
    """Replace a one-line scalar by `text` (a did-you-mean)."""
    sp = node.span
    if sp.line <= 0 or sp.end_line != sp.line:
        return ()
    return (Fix(f"replace `{node.value}` with `{text}`", (Edit(sp, text),), "safe" if applicability == "safe" else "unsafe"),)


def _mentions_nc(node: YNode) -> bool:
    v = node.value
    if isinstance(v, list):
        return any(_mentions_nc(x) for x in v)
    return isinstance(v, str) and re.search(r"(?<![\w'\"])nc(?![\w'\"])", v) is not None


def _missing_nc(node: YNode, module: str) -> Diagnostic:
    return Diagnostic(
        "YN114",
        f"`{module}` uses `nc`, but the spec has no `nc:`",
        node.span,
        label="the number of classes is not given",
        notes=("yamlnet does not assume 80 classes: a model for the wrong number of classes builds and trains without a word",),
        help="add `nc: 80` (your number of classes) at the top of the file, or pass nc= (build(..., nc=3))",
        fixes=(Fix("add `nc: 80` at the top (80: COCO's classes; write yours)", (Edit(Span(node.span.file, 1, 1, 1, 1), "nc: 80\n"),), "unsafe"),)
        if node.span.line > 0
        else (),
    )


class _ArgError(Exception):
    def __init__(self, diag: Diagnostic):
        self.diag = diag


def _resolve_arg(node: YNode, names: dict[str, Any], limits: Limits) -> Any:
    v = node.value
    if isinstance(v, str):
        return evaluate(v, names, limits)
    if isinstance(v, list):
        return [_resolve_arg(x, names, limits) for x in v]
    if isinstance(v, dict):
        raise _ArgError(Diagnostic("YN107", "an argument cannot be a mapping", node.span, help="write arguments as a list of values"))
    if isinstance(v, float) and v != v:
        raise _ArgError(Diagnostic("YN119", "an argument is not a number (nan)", node.span, help="write a finite number"))
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > limits.value_abs:
        raise _ArgError(
            Diagnostic("YN506", f"the argument {v:.3g} is beyond the limit of {limits.value_abs:.3g}", node.span, help="specs use small numbers")
        )
    return v


def _parse_from(node: YNode, diags: list[Diagnostic]) -> list[Ref] | None:
    items = node.value if isinstance(node.value, list) else [node]
    if isinstance(node.value, list) and not node.value:
        diags.append(Diagnostic("YN207", "`from` is an empty list", node.span, help="name at least one input, e.g. -1 for the previous row"))
        return None
    refs: list[Ref] = []
    for it in items:
        v = it.value
        if isinstance(v, int) and not isinstance(v, bool):
            refs.append(checked(Ref, index=v, text=str(v), span=it.span))
            continue
        if isinstance(v, str):
            m = _REF.match(v)
            if m:
                row, tap = m.group("row"), m.group("tap")
                if row is None:
                    if re.match(r"^-?\d+$", tap):
                        refs.append(checked(Ref, index=int(tap), text=v, span=it.span))
                    else:
                        refs.append(checked(Ref, row_name=tap, text=v, span=it.span))
                    continue
                if re.match(r"^-?\d+$", row):
                    refs.append(checked(Ref, index=int(row), tap=tap, text=v, span=it.span))
                else:
                    refs.append(checked(Ref, row_name=row, tap=tap, text=v, span=it.span))
                continue
            code = "YN501" if ("(" in v or "__" in v) else "YN207"
            diags.append(
                Diagnostic(code, f"cannot read `from` entry `{v}`", it.span, help="use a row index (-1, 6), a row name, or a tap (backbone.P4, 0.P4)")
            )
            return None
        diags.append(
            Diagnostic(
                "YN207",
                f"`from` entries are row indices or tap names, not {type(v).__name__}",
                it.span,
                help="use a row index (-1, 6), a row name, or a tap (backbone.P4, 0.P4)",
            )
        )
        return None
    return refs
