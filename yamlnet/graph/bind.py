"""Binding a row's YAML arguments to a block's declared arguments: order, types, defaults, width scaling
and the values the compiler fills in (input channels, repeats), following YOLOv5's parse_model rules."""

from __future__ import annotations

import math
from typing import Any

from .. import registry
from ..diagnostics import Diagnostic, Edit, Fix, Span
from ..registry import CHECK_C1, FILL_C1, FILL_C1S, FILL_N, FILL_WEIGHTS, REQUIRED, Arg, BlockDecl
from ..spec.expr import ActivationCall
from ..spec.model import Row, Spec


def make_divisible(x: float, divisor: int = 8) -> int:
    """The smallest multiple of `divisor` that is >= x (YOLOv5's channel rounding)."""
    return int(math.ceil(x / divisor) * divisor)


def scale_depth(n: int, depth_multiple: float) -> int:
    """YOLOv5's depth rule: max(round(n * d), 1) for n > 1; n = 1 stays 1."""
    return max(round(n * depth_multiple), 1) if n > 1 else n


def type_ok(value: Any, type_: str) -> bool:
    kinds = _KINDS.get(type_)
    if kinds is None:
        kinds = _KINDS[type_] = frozenset(t.strip() for t in type_.split("|"))
    if "any" in kinds:
        return True
    if value is None:
        return "none" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds or "float" in kinds
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds
    if isinstance(value, (list, tuple)):
        return "list" in kinds
    return isinstance(value, ActivationCall) and "activation" in kinds


_KINDS: dict[str, frozenset[str]] = {}  # a declared type ("int|none") -> its kinds


def signature(decl: BlockDecl) -> str:
    parts = []
    for a in decl.yaml_args():
        parts.append(a.name if a.default is REQUIRED else f"{a.name}={a.default!r}")
    return f"{decl.name}[{', '.join(parts)}]"


def bind_args(spec: Spec, row: Row, decl: BlockDecl, c_in: list[int] | None, n: int) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """Constructor keyword arguments for one row (before `prepare`), or None with diagnostics.
    `c_in` None: the input channels are unknown (an input has an error); checks that need them stay silent."""
    diags: list[Diagnostic] = []
    yaml_args = decl.yaml_args()
    given = list(row.args)
    if len(given) > len(yaml_args):
        refused = _anchors_to_anchor_free(spec, row, decl)
        if refused is not None:
            return None, [refused]
        extra_span = row.arg_spans[len(yaml_args)] if len(row.arg_spans) > len(yaml_args) else row.args_span
        diags.append(
            Diagnostic(
                "YN106",
                f"{decl.name} takes {_count(len(yaml_args))}, the row gives {len(given)}",
                extra_span,
                label="unexpected argument",
                help=f"the arguments are {signature(decl)}",
            )
        )
        return None, diags
    values: dict[str, Any] = {}
    for i, a in enumerate(yaml_args):
        if i < len(given):
            v = given[i]
            span = row.arg_spans[i] if i < len(row.arg_spans) else row.args_span
            if isinstance(v, ActivationCall) and not type_ok(v, a.type):
                diags.append(_misplaced_activation(decl, row, i, v, span))
                continue
            if not type_ok(v, a.type):
                diags.append(
                    Diagnostic(
                        "YN107",
                        f"{decl.name} argument `{a.name}` must be {_type_words(a.type)}, not {v!r}",
                        span,
                        help=f"the arguments are {signature(decl)}" + (f"; {a.name}: {a.doc}" if a.doc else ""),
                    )
                )
                continue
            values[a.name] = v
        elif a.default is REQUIRED:
            diags.append(Diagnostic("YN106", f"{decl.name} needs argument `{a.name}`", row.args_span, help=f"the arguments are {signature(decl)}"))
        else:
            values[a.name] = a.default
    if diags:
        return None, diags
    bound: dict[str, Any] = {}
    scaling = spec.scaling
    for a in decl.args:
        if a.header_key is not None:
            v = spec.names.get(a.header_key)
            if v is None:
                v = derived_header(spec, row, a.header_key)
            bound[a.name] = a.default if v is None else v
        elif a.fill == FILL_C1:
            bound[a.name] = c_in[0] if c_in else spec.ch
        elif a.fill == FILL_C1S:
            bound[a.name] = list(c_in or [])
        elif a.fill == FILL_N:
            bound[a.name] = n
        elif a.fill == FILL_WEIGHTS:
            bound[a.name] = values.get(a.name, a.default)
        elif a.check == CHECK_C1:
            c1 = c_in[0] if c_in else spec.ch
            v = values.get(a.name)
            if v is not None and c_in is not None and v != c1:
                diags.append(
                    Diagnostic(
                        "YN301",
                        f"{decl.name} says `{a.name}` is {v}, but {c1} channels arrive",
                        arg_span(row, decl, a.name),
                        label=f"{c1} channels arrive here",
                        help=f"write {c1} (or None to take the arriving channels)",
                        fixes=(Fix(f"write {c1}", (Edit(arg_span(row, decl, a.name), str(c1)),)),)
                        if arg_span(row, decl, a.name).end_line == arg_span(row, decl, a.name).line > 0
                        else (),
                    )
                )
            bound[a.name] = c1
        else:
            v = values[a.name]
            if callable(a.width):
                v = a.width(v, scaling)
            elif a.width:
                v = scale_width(spec, v)
            bound[a.name] = v
    if not diags and decl.scale_args is not None:
        bound = decl.scale_args(dict(bound), scaling)
    return (None if diags else bound), diags


def _anchors_to_anchor_free(spec: Spec, row: Row, decl: BlockDecl) -> Diagnostic | None:
    """YN135: a head without an `anchors` argument (an anchor-free one) given the spec's anchors as the argument
    after its own, as a YOLOv5-era `[nc, anchors]` head row is written. YOLOv9's own parse fails on that row
    too; the fixes are to drop the argument or to read the file as YOLOv5, whose Detect takes anchors."""
    yaml_args = decl.yaml_args()
    k = len(yaml_args)
    if decl.role != "head" or any(a.name == "anchors" for a in decl.args) or spec.anchors is None or len(row.args) != k + 1:
        return None
    if row.args[k] != spec.anchors or k >= len(row.arg_spans) or k == 0:
        return None
    extra, before = row.arg_spans[k], row.arg_spans[k - 1]
    fixes: tuple[Fix, ...] = ()
    if extra.line == before.line == extra.end_line and before.end_column is not None:
        cut = Span(extra.file, before.line, before.end_column, extra.line, extra.end_column)
        fixes = (Fix("remove the anchors argument (an anchor-free head)", (Edit(cut, ""),), "unsafe"),)
    return Diagnostic(
        "YN135",
        f"{decl.name} is anchor-free in the {registry.dialect_title(spec.dialect)} dialect, but the row gives it anchors",
        extra,
        label="anchors",
        notes=(f"{signature(decl)} takes no anchors; `[nc, anchors]` is the argument form of YOLOv5's anchor head",),
        help="read the file as YOLOv5 (`dialect: yolov5`), whose head takes anchors, or remove the anchors argument",
        fixes=fixes,
    )


def derived_header(spec: Spec, row: Row, key: str) -> Any:
    """A header value the compiler derives for `row` when the spec does not state the key: what the blocks of
    the rows before it imply (`BlockDecl.implies`, the nearest row first), else None."""
    for r in reversed(spec.rows[: row.position]):
        d = registry.lookup(r.module, spec.dialect)
        if d is not None:
            for k, v in d.implies:
                if k == key:
                    return v
    return None


def _misplaced_activation(decl: BlockDecl, row: Row, i: int, v: ActivationCall, span: Span) -> Diagnostic:
    """An activation written where another argument goes (YOLOv7's Conv takes `act` sixth, YOLOv5's seventh,
    after the dilation): say where it goes, and offer the defaults of the arguments between as a fix."""
    yaml_args = decl.yaml_args()
    a = yaml_args[i]
    later = [j for j in range(i + 1, len(yaml_args)) if "activation" in yaml_args[j].type.split("|")]
    if not later:
        return Diagnostic(
            "YN107",
            f"{decl.name} takes no activation; argument `{a.name}` is {_type_words(a.type)}, not {v}",
            span,
            help=f"the arguments are {signature(decl)}; the spec's `activation:` sets the default activation of every layer",
        )
    j = later[0]
    gap = yaml_args[i:j]
    fixable = span.line > 0 and span.end_line == span.line and all(g.default is not REQUIRED for g in gap) and i + 1 == len(row.args)
    fixes = (
        (
            Fix(
                f"insert {', '.join(f'{g.name}={g.default!r}' for g in gap)} before the activation",
                (Edit(Span(span.file, span.line, span.column, span.line, span.column), "".join(f"{g.default!r}, " for g in gap)),),
            ),
        )
        if fixable
        else ()
    )
    return Diagnostic(
        "YN107",
        f"an activation where {decl.name}'s argument `{a.name}` goes; `{yaml_args[j].name}` is argument {j + 1}",
        span,
        label=f"`{a.name}` is {_type_words(a.type)}",
        help=f"the arguments are {signature(decl)}; a file written for YOLOv7, whose Conv takes the activation sixth, states `dialect: yolov7`",
        fixes=fixes,
    )


def scale_width(spec: Spec, v: Any) -> Any:
    """A width-scaled channel count under the spec's dialect. YOLOv5: make_divisible(v * width, 8), a count equal
    to na * (nc + 5) (a layer feeding the anchor head) left as is. Ultralytics: make_divisible(min(v,
    max_channels) * width, 8), a count equal to nc left as is."""
    if not isinstance(v, int) or isinstance(v, bool):
        return v
    if spec.dialect == "ultralytics":
        return v if v == (spec.nc or 80) else make_divisible(min(v, spec.max_channels) * spec.width_multiple, 8)
    return v if v == _outputs_per_level(spec) else make_divisible(v * spec.width_multiple, 8)


def constructor_kwargs(decl: BlockDecl, bound: dict[str, Any]) -> dict[str, Any]:
    return {a.name: bound[a.name] for a in decl.args if a.to_constructor and a.name in bound}


def weights_arg(decl: BlockDecl, bound: dict[str, Any]) -> Any:
    for a in decl.args:
        if a.fill == FILL_WEIGHTS:
            return bound.get(a.name)
    return None


def _outputs_per_level(spec: Spec) -> int:
    """YOLOv5 leaves a channel count equal to na * (nc + 5) unscaled (a layer that feeds a head directly)."""
    a = spec.anchors
    na = (len(a[0]) // 2) if isinstance(a, list) and a else (a if isinstance(a, int) else 0)
    return na * ((spec.nc or 80) + 5) if na else -1


def _count(k: int) -> str:
    return f"{k} argument{'s' * (k != 1)}"


def _type_words(t: str) -> str:
    words = {
        "int": "a whole number",
        "float": "a number",
        "bool": "True or False",
        "str": "a string",
        "list": "a list",
        "none": "None",
        "any": "any value",
    }
    return " or ".join(words.get(x.strip(), x) for x in t.split("|"))


def arg_span(row: Row, decl: BlockDecl, name: str) -> Span:
    """Where an argument is written in the row (the args list when it takes its default)."""
    for i, a in enumerate(decl.yaml_args()):
        if a.name == name and i < len(row.arg_spans):
            return row.arg_spans[i]
    return row.args_span


__all__ = [
    "Arg",
    "arg_span",
    "bind_args",
    "constructor_kwargs",
    "make_divisible",
    "scale_depth",
    "scale_width",
    "signature",
    "type_ok",
    "weights_arg",
]
