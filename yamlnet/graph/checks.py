"""Static rules over the IR: strides of joins, head ordering and anchors, channel limits, groups and
attention heads that must divide channels, unused rows, weights files."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic
from ..spec.limits import Limits
from .bind import arg_span, signature, type_ok, weights_arg
from .ir import PortRef

if TYPE_CHECKING:
    from ..registry import Arg, BlockDecl
    from ..spec.model import Row
    from .ir import IR, Node


def _fmt(s: Fraction | None) -> str:
    return "?" if s is None else (str(int(s)) if s.denominator == 1 else str(s))


def check_node(ir: IR, node: Node, limits: Limits, diags: list[Diagnostic]) -> None:
    decl, row = node.decl, node.row
    for name, port in [("output", node.out)] + list(node.taps.items()):
        if port.channels is not None and not 1 <= port.channels <= limits.channels:
            diags.append(
                Diagnostic(
                    "YN304",
                    f"{node.label} would have {port.channels:,} channels at its {name}",
                    row.args_span,
                    help=f"channels must be between 1 and {limits.channels:,}; check the channel argument and width_multiple",
                )
            )
            node.ok = False
    if node.ok:
        _check_groups(node, diags)
    if node.ok:
        _check_kept_channels_and_heads(node, diags)
    if decl.inputs == "join":
        _check_join(ir, node, diags)
    if decl.same_channels and node.ok:
        _check_same_channels(ir, node, diags)
    if decl.role == "head" and decl.inputs == "list":
        _check_head(ir, node, diags)


# ---------------------------------------------------------------------------------------------------------
# Argument ranges (YN117): what a declaration states about each argument's values


def check_args(row: Row, decl: BlockDecl) -> list[Diagnostic]:
    """Arguments the row writes that are outside the range their declaration states (`Arg.low`, `Arg.high`,
    `Arg.valid`), each reported at its own place. Arguments of the wrong type are left to the binder."""

    yaml_args = decl.yaml_args()
    given = row.args
    if len(given) > len(yaml_args):
        return []  # the binder reports the extra argument
    ruled = [i for i in _ruled(decl) if i < len(given)]
    if not ruled:
        return []  # no argument the row writes has a range or a rule
    values = {a.name: given[i] if i < len(given) else a.default for i, a in enumerate(yaml_args)}
    diags: list[Diagnostic] = []
    for i in ruled:
        a = yaml_args[i]
        v = given[i]
        if v is None or not type_ok(v, a.type):
            continue
        problem, outside = _range_problem(a, v, values)
        if problem:
            diags.append(
                Diagnostic(
                    "YN117",
                    f"{decl.name} argument `{a.name}` {problem}",
                    arg_span(row, decl, a.name),
                    label=range_words(a) if outside else "",
                    help=f"the arguments are {signature(decl)}" + (f"; {a.name}: {a.doc}" if a.doc else ""),
                )
            )
    return diags


def _ruled(decl: BlockDecl) -> tuple[int, ...]:
    """Positions of the row arguments that have a range or a rule."""
    return decl.kept(  # type: ignore[no-any-return]
        "_ruled",
        lambda: tuple(
            i
            for i, a in enumerate(decl.yaml_args())
            if getattr(a, "low", None) is not None or getattr(a, "high", None) is not None or getattr(a, "valid", None) is not None
        ),
    )


def _numbers(v: Any) -> list[int | float]:
    """The numbers an argument holds (an int, a float, or a list of them such as a kernel [3, 3])."""
    if isinstance(v, bool):
        return []
    if isinstance(v, (int, float)):
        return [v]
    if isinstance(v, (list, tuple)):
        return [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
    return []


def _show(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def range_words(a: Arg) -> str:
    low, high = getattr(a, "low", None), getattr(a, "high", None)
    if low is not None and high is not None:
        return f"allowed: {_show(low)}" if low == high else f"allowed: {_show(low)} to {_show(high)}"
    if low is not None:
        return f"allowed: {_show(low)} or more"
    if high is not None:
        return f"allowed: at most {_show(high)}"
    return ""


def _range_problem(a: Arg, v: Any, values: dict[str, Any]) -> tuple[str, bool]:
    """What is wrong with the value ("" when nothing), and whether it is outside low..high (else: its rule)."""
    low, high = getattr(a, "low", None), getattr(a, "high", None)
    for x in _numbers(v):
        if (low is not None and x < low) or (high is not None and x > high):
            if low is not None and low == high:
                return f"is {_show(x)}; it must be {_show(low)}", True
            if low is not None and x < low:
                return f"is {_show(x)}; it must be >= {_show(low)}", True
            return f"is {_show(x)}; it must be <= {_show(high)}", True  # type: ignore[arg-type]
    valid = getattr(a, "valid", None)
    if valid is not None:
        try:
            return str(valid(v, values) or ""), False
        except Exception:  # a faulty rule must not hide the row's other problems; the shape pass still runs
            return "", False
    return "", False


# ---------------------------------------------------------------------------------------------------------
# Groups and attention heads (YN303)


def _default_groups(c1: int, c2: int, b: Any) -> list[tuple[str, int]]:
    """What `g` splits unless the declaration says otherwise (`BlockDecl.groups`): the input and the output."""
    return [("the input channels", c1), ("the output channels", c2)]


GROUP_ARGS = ("g", "groups")
HEAD_ARGS = ("num_heads", "heads")
DIM_ARGS = ("dim", "embed_dim")


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _check_groups(node: Node, diags: list[Diagnostic]) -> None:
    """Groups and attention heads must divide the channels they split (torch refuses the block otherwise)."""
    try:
        _groups(node, diags)
    except Exception:  # odd argument values: the shape pass reports what torch makes of them
        return


def _groups(node: Node, diags: list[Diagnostic]) -> None:

    decl, b = node.decl, node.bound
    c1 = node.c_in[0] if node.c_in and isinstance(node.c_in[0], int) else None
    c2 = node.out.channels
    if c1 is None or c2 is None:
        return
    for name in GROUP_ARGS:
        g = _int(b.get(name))
        if g is None or g == 1:
            continue
        span = arg_span(node.row, decl, name)
        if g < 1:
            diags.append(
                Diagnostic(
                    "YN117",
                    f"{node.label}: `{name}` is {g}; groups must be >= 1",
                    span,
                    help=f"write `{name}` = 1 (no groups) or a divisor of the channels",
                )
            )
            node.ok = False
            return
        rule = decl.groups or _default_groups
        for what, c in rule(c1, c2, b):
            if c % g:
                ok = _divisors(math.gcd(*(cc for _, cc in rule(c1, c2, b))) if rule(c1, c2, b) else c)
                diags.append(
                    Diagnostic(
                        "YN303",
                        f"{node.label}: {name}={g} does not divide {what} ({c})",
                        span,
                        label=f"{c} channels cannot be split into {g} groups",
                        help=f"use {name} = one of {_list(ok)}"
                        + (" (a divisor of every channel count it splits)" if len(rule(c1, c2, b)) > 1 else ""),
                    )
                )
                node.ok = False
                return
    heads: list[tuple[int, str, int, Any]] = []
    for name in HEAD_ARGS:
        h = _int(b.get(name))
        if h is None:
            continue
        dim = next((_int(b.get(d)) for d in DIM_ARGS if _int(b.get(d)) is not None), None)
        heads.append(
            (
                h,
                f"`{next(d for d in DIM_ARGS if _int(b.get(d)) is not None)}`" if dim is not None else "the output channels",
                dim if dim is not None else c2,
                arg_span(node.row, decl, name),
            )
        )
    for h, what, c, span in heads:
        if h < 1 or c % h:
            diags.append(
                Diagnostic(
                    "YN303",
                    f"{node.label}: {h} attention heads do not divide {what} ({c})",
                    span,
                    label=f"{c} channels cannot be split into {h} heads",
                    help=f"make {what} a multiple of {h}" + (f", e.g. {max(h, c - c % h)} or {c - c % h + h}" if h >= 1 else ""),
                )
            )
            node.ok = False
            return


# ---------------------------------------------------------------------------------------------------------
# Channel rules a block declares (YN301, YN303): output channels equal to the input (`keeps_channels`), and
# divisors its own attention fixes (`heads`: C3TR's four heads, PSA's one head per 64 channels, area
# attention's 32 channels per head, C2fAttn's scaled heads).


def _check_kept_channels_and_heads(node: Node, diags: list[Diagnostic]) -> None:

    decl, b = node.decl, node.bound
    c1 = node.c_in[0] if node.c_in and isinstance(node.c_in[0], int) else None
    c2 = node.out.channels
    if c1 is None or c2 is None:
        return
    span = arg_span(node.row, decl, "c2")
    if decl.keeps_channels and c1 != c2:
        diags.append(
            Diagnostic(
                "YN301",
                f"{node.label} keeps its channels: c2 ({c2} after scaling) must equal the {c1} channels that arrive",
                span,
                label=f"{c1} channels arrive here",
                help=f"write a c2 that scales to {c1}, or make the row before it give {c2} channels",
            )
        )
        node.ok = False
        return
    if decl.heads is None:
        return
    rule = decl.heads
    try:
        rules = rule(c1, c2, b)
    except (TypeError, ValueError, KeyError):
        return
    for d, problem, c in rules:
        if d >= 1 and c % d == 0:
            continue

        def works(v: int) -> bool:
            try:
                return all(dd >= 1 and cc % dd == 0 for dd, _, cc in rule(v if decl.keeps_channels else c1, v, b))
            except (TypeError, ValueError, KeyError):
                return False

        lo = next((v for v in range(c2 - 8, 7, -8) if works(v)), None)
        hi = next((v for v in range(c2 + 8, 64 * c2 + 8, 8) if works(v)), None)
        picks = " or ".join(str(v) for v in (lo, hi) if v is not None)
        diags.append(
            Diagnostic(
                "YN303",
                f"{node.label}: {problem}",
                span,
                label=f"{c} channels cannot be split into {d} " + ("heads" if "head" in problem else "parts"),
                help=f"choose c2 (now {c2} after scaling) so that it works" + (f", e.g. {picks}" if picks else ""),
            )
        )
        node.ok = False
        return


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0] if n > 0 else [1]


def _list(xs: list[int]) -> str:
    return ", ".join(str(x) for x in (xs if len(xs) <= 8 else xs[:4] + ["..."] + xs[-3:]))  # type: ignore[operator]


def _check_join(ir: IR, node: Node, diags: list[Diagnostic]) -> None:
    strides = node.in_strides
    if None in strides or len(set(strides)) <= 1:
        return
    ref = strides[0]
    parts = []
    fixes = []
    for p, s in zip(node.inputs, strides):
        parts.append(f"{_input_name(ir, p)} has stride {_fmt(s)}")
    for p, s in zip(node.inputs[1:], strides[1:]):
        if s == ref or s is None or ref is None:
            continue
        fixes.append(_fix_for(ir, node, p, s, ref))
    diags.append(
        Diagnostic(
            "YN402",
            f"{node.decl.name} joins feature maps of different strides",
            node.row.from_span,
            label="; ".join(parts),
            notes=(f"all inputs of {node.decl.name} must have one spatial size; the first input has stride {_fmt(ref)}",),
            help="; ".join(fixes),
        )
    )
    node.ok = False


def _check_same_channels(ir: IR, node: Node, diags: list[Diagnostic]) -> None:
    """A join that adds its inputs (`same_channels`) needs one channel count (YN309)."""
    chans = node.c_in
    if None in chans or len(set(chans)) <= 1:
        return
    i = next(k for k, c in enumerate(chans) if c != chans[0])
    span = node.input_spans[i] if i < len(node.input_spans) else node.row.from_span
    parts = "; ".join(f"{_input_name(ir, p)} has {c} channels" for p, c in zip(node.inputs, chans))
    diags.append(
        Diagnostic(
            "YN309",
            f"{node.decl.name} adds feature maps of different channel counts",
            span,
            label=f"{chans[i]} channels, the first input has {chans[0]}",
            notes=(parts,),
            help=f"give every input {chans[0]} channels (e.g. a 1x1 Conv to {chans[0]} before it), or join them with Concat",
        )
    )
    node.ok = False


def _input_name(ir: IR, p: object) -> str:

    assert isinstance(p, PortRef)
    if p.node < 0:
        return "the model input"
    n = ir.nodes[p.node]
    if p.tap:
        return f"input {n.index if ir.numbering == 'rows' else _slot(p, ir)} ({n.row.module}.{p.tap})"
    return f"layer {n.index} ({n.row.module})"


def _slot(p: object, ir: IR) -> str:
    port = ir.port(p)  # type: ignore[arg-type]
    if ir.numbering == "seeds" and port.stride is not None and port.stride.denominator == 1:
        return str(int(port.stride).bit_length() - 2)
    return str(ir.nodes[p.node].index)  # type: ignore[attr-defined]


def _fix_for(ir: IR, node: Node, p: object, s: Fraction, ref: Fraction) -> str:
    """A concrete fix for one input with the wrong stride: a tap or an earlier row with the right stride."""

    assert isinstance(p, PortRef)
    if p.node >= 0:
        src = ir.nodes[p.node]
        if src.multi:
            for name, port in src.taps.items():
                if port.stride == ref:
                    if ir.numbering == "seeds":
                        where = f"tap {_slot(PortRef(p.node, name), ir)} ({name}, stride {_fmt(ref)})"
                    else:
                        where = f"`{src.row.name or src.index}.{name}` (stride {_fmt(ref)})"
                    break
            else:
                where = ""
            if where:
                return f"take {where} instead" + _resample_hint(ir, node, s, ref)
    for cand in sorted(ir.nodes.values(), key=lambda n: -n.position):
        if cand.position < node.position and cand.out.stride == ref and all(cand.position != q.node for q in node.inputs) and not cand.multi:
            return f"take layer {cand.index} (stride {_fmt(ref)}) instead" + _resample_hint(ir, node, s, ref)
    return _resample_hint(ir, node, s, ref).removeprefix(", or ")


def _resample_hint(ir: IR, node: Node, s: Fraction, ref: Fraction) -> str:
    first = node.inputs[0]
    label = "the first input" if first.node < 0 else f"layer {ir.nodes[first.node].index}"
    if ref < s:
        return f", or downsample {label} by {_fmt(s / ref)} (or upsample the other input)"
    return f", or upsample by {_fmt(ref / s)} in {label}"


def _check_head(ir: IR, node: Node, diags: list[Diagnostic]) -> None:
    spec = ir.spec
    strides = node.in_strides
    anchors = node.bound.get("anchors")

    nc = node.bound.get("nc")
    if "nc" in node.bound and (_int(nc) is None or nc < 1):
        diags.append(
            Diagnostic(
                "YN117",
                f"{node.decl.name}: the number of classes must be a whole number >= 1, not {nc!r}",
                arg_span(node.row, node.decl, "nc"),
                help="write `nc` (the spec's number of classes) or a number such as 80",
            )
        )
        node.ok = False
    names = [a.name for a in node.decl.yaml_args()]
    raw = node.row.args[names.index("anchors")] if "anchors" in names and names.index("anchors") < len(node.row.args) else None
    if isinstance(raw, (list, tuple)):  # an int is a count of anchors per level (placeholder sizes)
        problem = _anchor_problem(raw)
        if problem:
            diags.append(
                Diagnostic(
                    "YN302",
                    f"{node.decl.name}: {problem}",
                    arg_span(node.row, node.decl, "anchors"),
                    help="anchors are one list per level of w,h pairs, "
                    "e.g. [[10,13, 16,30, 33,23], [30,61, 62,45, 59,119], [116,90, 156,198, 373,326]]",
                )
            )
            node.ok = False
            return
    sets = list(node.decl.level_sets(len(node.inputs))) if node.decl.level_sets is not None else [(0, len(node.inputs))]
    if isinstance(anchors, (list, tuple)) and any(stop - start != len(anchors) for start, stop in sets):
        several = len(sets) > 1
        per = f"{len(sets)} sets of one input per anchor level (each set in the first one's order)" if several else "one input per anchor level"
        diags.append(
            Diagnostic(
                "YN302",
                f"{node.decl.name} has {len(node.inputs)} inputs but {len(anchors)} anchor levels",
                node.row.from_span,
                help=f"give {per} (or one anchor level per {'input of a set' if several else 'input'} in `anchors:`)",
                notes=(f"anchors are defined at line {spec.span_of('anchors').line}",) if "anchors" in spec.spans else (),
            )
        )
        node.ok = False
        if several:
            return
    if node.decl.level_sets is not None:  # several sets of levels (YOLOv9's DualDDetect, DSegment; YOLOv7's IAuxDetect)
        _check_level_sets(ir, node, diags)
        return
    if None in strides:
        return
    for i in range(1, len(strides)):
        if not strides[i] > strides[i - 1]:  # type: ignore[operator]
            order = ", ".join(f"{_input_name(ir, p)}: stride {_fmt(s)}" for p, s in zip(node.inputs, strides))
            span = node.input_spans[i] if i < len(node.input_spans) else node.row.from_span
            diags.append(
                Diagnostic(
                    "YN403",
                    f"{node.decl.name} inputs must go from small to large stride",
                    span,
                    label=f"stride {_fmt(strides[i])} after stride {_fmt(strides[i - 1])}",
                    notes=(order,),
                    help="list the inputs as P3, P4, P5 (strides 8, 16, 32), matching the anchor levels",
                )
            )
            node.ok = False
            return
        if strides[i].denominator != 1:  # type: ignore[union-attr]
            break


def _check_level_sets(ir: IR, node: Node, diags: list[Diagnostic]) -> None:
    """A head whose inputs are sets of levels (`BlockDecl.level_sets`): strides increase within each set (YN403),
    and every later set repeats the first set's strides, since all are decoded on its grid (YN412)."""
    strides = node.in_strides
    if None in strides or node.decl.level_sets is None:
        return
    sets = list(node.decl.level_sets(len(strides)))
    for start, stop in sets:
        for i in range(start + 1, stop):
            if not strides[i] > strides[i - 1]:  # type: ignore[operator]
                span = node.input_spans[i] if i < len(node.input_spans) else node.row.from_span
                order = ", ".join(f"{_input_name(ir, p)}: stride {_fmt(s)}" for p, s in zip(node.inputs[start:stop], strides[start:stop]))
                diags.append(
                    Diagnostic(
                        "YN403",
                        f"{node.decl.name} inputs must go from small to large stride",
                        span,
                        label=f"stride {_fmt(strides[i])} after stride {_fmt(strides[i - 1])}",
                        notes=(f"inputs {start + 1} to {stop} are one set of levels: {order}",),
                        help="list each set of levels as P3, P4, P5 (strides 8, 16, 32)",
                    )
                )
                node.ok = False
                return
    first = strides[sets[0][0] : sets[0][1]] if sets else []
    for k, (start, stop) in enumerate(sets[1:], start=2):
        got = strides[start:stop]
        bad = next((j for j, (a, b) in enumerate(zip(got, first)) if a != b), None)
        if bad is None and len(got) == len(first):
            continue
        i = start + (bad or 0)
        span = node.input_spans[i] if i < len(node.input_spans) else node.row.from_span
        want = ", ".join(_fmt(s) for s in first)
        diags.append(
            Diagnostic(
                "YN412",
                f"{node.decl.name}'s input set {k} has strides {', '.join(_fmt(s) for s in got)}; set 1 has {want}",
                span,
                label=f"stride {_fmt(strides[i])}" + (f" where set 1 has {_fmt(first[bad])}" if bad is not None else ""),
                notes=(f"set {k} is inputs {start + 1} to {stop} of `from`; every set is decoded on the grid of set 1",),
                help=f"give set {k} the same levels as set 1 (strides {want}), in the same order",
            )
        )
        node.ok = False
        return


# Text-guided models: a row whose block updates the text embeddings (`text_io="update"`, ImagePoolingAttn) is used
# by the later rows that read them (`text_io="in"`, C2fAttn) through the model's text input, not through `from`.


def check_graph(ir: IR, diags: list[Diagnostic]) -> None:
    """Rules over the whole graph: rows whose output nothing uses, weights files that are missing."""
    outputs = {o.node for o in ir.outputs}
    used = {p.node for n in ir.nodes.values() for p in n.inputs}  # one pass: rows x consumers is quadratic at the row limit
    readers = [pos for pos, n in ir.nodes.items() if n.decl.text_io == "in"]
    used |= {pos for pos, n in ir.nodes.items() if n.decl.text_io == "update" and readers and readers[-1] > pos}
    for pos, node in ir.nodes.items():
        if pos in outputs or not node.ok:
            continue
        if pos not in used:
            diags.append(
                Diagnostic(
                    "YN206",
                    f"nothing uses the output of {node.label}",
                    node.row.span,
                    severity="warning",
                    help="reference it from a later row's `from`, or remove the row",
                )
            )
    check_weights(ir, diags)


def _anchor_problem(anchors: Any) -> str:
    """Why a head's anchors are malformed ("" when they are fine)."""
    if not anchors:
        return "no anchor levels"
    sizes = set()
    for i, level in enumerate(anchors):
        if not isinstance(level, (list, tuple)) or not level:
            return f"anchor level {i} is not a list of w,h pairs"
        if len(level) % 2:
            return f"anchor level {i} has {len(level)} numbers; w,h pairs need an even count"
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 for v in level):
            return f"anchor level {i} holds a value that is not a positive number"
        sizes.add(len(level))
    if len(sizes) > 1:
        return "the anchor levels have different numbers of anchors"
    return ""


def check_weights(ir: IR, diags: list[Diagnostic]) -> None:
    """A weights file a row names must exist (it is loaded at build time, never at validation)."""
    for node in ir.nodes.values():
        w = node.weights
        if not isinstance(w, str) or not w:
            continue
        if not ir.spec.resolve_path(w).is_file():
            span = node.row.span
            if weights_arg(node.decl, node.bound) == w:
                span = arg_span(node.row, node.decl, next(a.name for a in node.decl.args if a.fill == "weights"))
            diags.append(
                Diagnostic(
                    "YN511",
                    f"{node.label}: weights file `{w}` not found",
                    span,
                    severity="warning",
                    help="give the path of a state_dict file (relative to the spec or the working directory), or False for none; "
                    "`yamlnet build` fails without it",
                )
            )
