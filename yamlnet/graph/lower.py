"""Spec -> IR: resolve every `from` to a port, bind arguments, and infer channels and strides row by row.

Rows only reference earlier rows, so one pass in order does resolution and inference together: a row's
inputs are already known when it is reached. Numbering follows the seeds' convention when row 0 is a
multi-output block and the spec uses no `Index` rows (row 0 fills indices 0..4, index k = stride 2^(k+1);
later rows are numbered from 5); otherwise row i is index i. Explicit taps (`backbone.P4`, `0.P4`) work in both.
"""

from __future__ import annotations

from typing import Literal

from .. import registry
from ..diagnostics import Diagnostic, Edit, Fix, Span
from ..spec.limits import DEFAULT_LIMITS, Limits
from ..spec.model import Ref, Row, Spec
from ..spec.numbering import SEED_SLOTS, uses_seed_numbering
from .bind import bind_args, scale_depth, weights_arg
from .checks import check_args, check_graph, check_node
from .ir import INPUT, IR, Node, Port, PortRef


def lower(spec: Spec, limits: Limits = DEFAULT_LIMITS) -> IR:
    rows = spec.rows
    diags: list[Diagnostic] = []
    numbering: Literal["seeds", "rows"] = "rows"
    if rows and rows[0].position == 0:
        if uses_seed_numbering([r.module for r in rows], spec.dialect):
            numbering = "seeds"
    elif rows and _seeds_fit_better(rows):  # row 0 has an error (reported); its references tell how the rows count
        numbering = "seeds"
    shift = SEED_SLOTS - 1 if numbering == "seeds" else 0
    ir = IR(spec=spec, nodes={}, numbering=numbering, diagnostics=diags)
    names = {r.name: r.position for r in rows if r.name}
    if rows and rows[0].position != 0:  # row 0 could not be read: what later rows take from it is unknown, not wrong
        unread = _uses_of_unread_row0(rows, numbering, names)
        names.update({ref.row_name: 0 for _, ref in unread if ref.row_name is not None})  # its name (row 0 has no node)
        if unread:
            diags.append(_unread_backbone_note(unread, numbering))
    seen_names: dict[str, Span] = {}
    for r in rows:
        if r.name:
            if r.name in seen_names:
                diags.append(Diagnostic("YN211", f"two rows are named `{r.name}`", r.span, help="give each row its own name"))
            seen_names[r.name] = r.span

    for row in rows:
        decl = registry.lookup(row.module, spec.dialect)
        assert decl is not None  # the parser reported unknown modules and dropped the row
        index = row.position + (shift if row.position > 0 else 0)
        node = Node(position=row.position, index=index, row=row, decl=decl, weights=row.weights)
        ir.nodes[row.position] = node
        for ref in row.refs:
            port = _resolve(ir, node, ref, names, diags)
            if port is None:
                node.ok = False
                continue
            node.inputs.append(port)
            node.input_spans.append(ref.span)
        if node.ok:
            _infer(ir, node, limits, diags)
        elif decl.role != "select":
            # an input is unusable (already reported): its channels and stride are unknown, so only this row's own
            # arguments are checked, never against invented input channels
            more = check_args(row, decl)
            if not more:
                _, more = bind_args(spec, row, decl, None, scale_depth(row.number, spec.depth_multiple))
            diags.extend(more)

    _report_forward_refs(ir, diags)
    _set_outputs(ir)
    complete = [r.position for r in rows] == list(range(len(rows)))  # the parser dropped no row
    if complete and all(n.ok for n in ir.nodes.values()):
        check_graph(ir, diags)
    return ir


def _seeds_fit_better(rows: list[Row]) -> bool:
    """Row 0 could not be read (its error is reported). Whether the other rows' absolute indices make sense
    only in the seeds' numbering (row 0 a multi-output backbone filling indices 0..4): fewer of them point at
    the row itself, at later rows or past the end than in plain numbering."""

    def misses(shift: int) -> int:
        bad = 0
        for r in rows:
            index = r.position + shift
            bad += sum(1 for ref in r.refs if ref.row_name is None and ref.index is not None and ref.index >= index)
        return bad

    return misses(SEED_SLOTS - 1) < misses(0)


def _uses_of_unread_row0(rows: list[Row], numbering: str, names: dict[str, int]) -> list[tuple[Row, Ref]]:
    """References that take an output of a row 0 that could not be read, as of a multi-output block: indices
    0..4 in the seeds' numbering, and taps of a row name no readable row has (`backbone.P4`: row 0's name)."""
    uses = []
    for r in rows:
        for ref in r.refs:
            if ref.row_name is None and numbering == "seeds" and ref.index is not None and 0 <= ref.index < SEED_SLOTS:
                uses.append((r, ref))
            elif ref.row_name is not None and ref.tap is not None and ref.row_name not in names:
                uses.append((r, ref))
    return uses


def _unread_backbone_note(uses: list[tuple[Row, Ref]], numbering: str) -> Diagnostic:
    """One note for the rows that take outputs of an unreadable row 0 (they stay silent): how a block with
    several outputs declares them."""
    shift = SEED_SLOTS - 1 if numbering == "seeds" else 0
    listed = ", ".join(f"`{ref.text}` in layer {r.position + shift}" for r, ref in uses[:4]) + (", ..." if len(uses) > 4 else "")
    by_index = any(ref.row_name is None for _, ref in uses)
    return Diagnostic(
        "YN210",
        "later rows take outputs of row 0, whose module is not known" + (": indices 0..4 are its outputs" if by_index else ""),
        uses[0][1].span,
        severity="note",
        label="an output of row 0",
        notes=(f"read as outputs of a multi-output block in row 0{' (rows after it are numbered from 5)' if by_index else ''}: {listed}",),
        help="if row 0's block has several outputs, register it from Python with its taps: `yamlnet.block(..., taps=lambda args: "
        "[TapDecl('P3', 128, 8), TapDecl('P4', 256, 16), TapDecl('P5', 512, 32)])` (docs/spec-reference.md, multi-output blocks); "
        "then `row.P4` names a tap and index k takes the output at stride 2^(k+1)",
    )


def _forward(ir: IR, node: Node, target: int, ref: Ref, what: str) -> None:
    """Remember a reference to a later row; reported after all rows are read (as a cycle if it closes one)."""
    ir.forward_refs.append((target, node.position, ref, what))


def _report_forward_refs(ir: IR, diags: list[Diagnostic]) -> None:
    forward = ir.forward_refs
    if not forward:
        return
    import networkx as nx  # only needed to name a cycle

    names = {n.row.name: pos for pos, n in ir.nodes.items() if n.row.name}
    shift = SEED_SLOTS - 1 if ir.numbering == "seeds" else 0
    g = nx.DiGraph()
    for pos, node in ir.nodes.items():  # every reference as written, valid or not
        for ref in node.row.refs:
            if ref.row_name is not None:
                src: int | None = names.get(ref.row_name)
            elif pos == 0 and ref.index == -1:
                src = None
            else:
                assert ref.index is not None
                idx = node.index + ref.index if ref.index < 0 else ref.index
                src = 0 if shift and idx < SEED_SLOTS else idx - shift
            if src is not None and src in ir.nodes:
                g.add_edge(src, pos)
    for src, dst, ref, what in forward:
        node = ir.nodes[dst]
        try:
            cycle = nx.find_cycle(g, source=dst)
        except nx.NetworkXNoCycle:
            cycle = []
        if cycle and any(e[:2] == (src, dst) for e in cycle):
            path = " -> ".join(ir.nodes[e[0]].label if e[0] in ir.nodes else str(e[0]) for e in cycle) + f" -> {ir.nodes[cycle[0][0]].label}"
            diags.append(
                Diagnostic(
                    "YN204",
                    f"{node.label} is part of a cycle",
                    ref.span,
                    label=f"takes its input from {what}",
                    notes=(f"cycle: {path}",),
                    help="a network is a chain of rows in order; make this row take an earlier row's output",
                )
            )
        else:
            diags.append(
                Diagnostic(
                    "YN202",
                    f"{node.label} takes its input from {what}, which comes later",
                    ref.span,
                    help="a row can only use rows above it (YOLOv5 runs rows in order); move the row or change `from`",
                )
            )


def _index_help(ir: IR) -> str:
    n = len(ir.spec.rows)
    last = n - 1 + (SEED_SLOTS - 1 if ir.numbering == "seeds" else 0)
    if ir.numbering == "seeds":
        return f"valid indices are 0..4 (the taps of row 0) and 5..{last}; -1 is the previous row"
    return f"valid indices are 0..{last}; -1 is the previous row"


def _resolve(ir: IR, node: Node, ref: Ref, names: dict[str, int], diags: list[Diagnostic]) -> PortRef | None:
    spec = ir.spec
    rows = spec.rows
    position: int
    slot_stride: int | None = None
    if ref.row_name is not None:
        if ref.row_name not in names:
            if ref.tap is None and ref.row_name.startswith("P") and ref.row_name[1:].isdigit():
                diags.append(
                    Diagnostic(
                        "YN208",
                        f"`{ref.text}` names a tap but not the row that has it",
                        ref.span,
                        help=f"write `<row>.{ref.row_name}`, e.g. `backbone.{ref.row_name}` or `0.{ref.row_name}`",
                    )
                )
                return None
            known = ", ".join(sorted(names)) or "none (give a row `name:` to reference it)"
            diags.append(Diagnostic("YN208", f"no row is named `{ref.row_name}`", ref.span, help=f"named rows: {known}"))
            return None
        position = names[ref.row_name]
        if position == node.position:
            diags.append(
                Diagnostic("YN203", f"{node.label} takes its input from itself", ref.span, help="a row can only use rows above it; change `from`")
            )
            return None
        if position > node.position:
            _forward(ir, node, position, ref, f"row `{ref.row_name}`")
            return None
    else:
        assert ref.index is not None
        if node.position == 0 and ref.index == -1 and ref.tap is None:
            return PortRef(INPUT)
        target = node.index + ref.index if ref.index < 0 else ref.index
        if target == node.index:
            diags.append(
                Diagnostic(
                    "YN203", f"{node.label} takes its input from itself", ref.span, help="use -1 for the previous row, or the index of an earlier row"
                )
            )
            return None
        if target < 0:
            diags.append(Diagnostic("YN201", f"`from: {ref.index}` points before the first row", ref.span, help=_index_help(ir)))
            return None
        if target > node.index:
            last = len(rows) - 1 + (SEED_SLOTS - 1 if ir.numbering == "seeds" else 0)
            if target > last:
                diags.append(Diagnostic("YN201", f"`from: {ref.index}` is out of range", ref.span, help=_index_help(ir)))
            else:
                _forward(ir, node, target - (SEED_SLOTS - 1 if ir.numbering == "seeds" else 0), ref, f"layer {target}")
            return None
        if ir.numbering == "seeds" and target < SEED_SLOTS:
            position = 0
            if ref.tap is None:
                slot_stride = 2 ** (target + 1)
        else:
            position = target - (SEED_SLOTS - 1 if ir.numbering == "seeds" else 0)
    src = ir.nodes.get(position)
    if src is None or not src.ok:
        return None  # the source row already has an error
    if not src.multi:
        if ref.tap is not None:
            diags.append(
                Diagnostic(
                    "YN205",
                    f"{src.label} has one output; it has no tap `{ref.tap}`",
                    ref.span,
                    help=f"write `{ref.text.split('.')[0]}` without a tap",
                )
            )
            return None
        return PortRef(position)
    taps = src.taps
    listing = ", ".join(f"{k} ({p.channels} ch, stride {p.stride})" for k, p in taps.items())
    if slot_stride is not None:
        for name, port in taps.items():
            if port.stride == slot_stride:
                return PortRef(position, name)
        k = slot_stride.bit_length() - 2
        diags.append(
            Diagnostic(
                "YN205",
                f"index {k} is the P{k + 1} slot (stride {slot_stride}) of {src.label}, which has no such tap",
                ref.span,
                label=f"{src.row.module} has taps {', '.join(taps)}",
                help=f"its taps are {listing}; by index: "
                + ", ".join(f"{int(p.stride).bit_length() - 2} = {k2}" for k2, p in taps.items() if p.stride),
            )
        )
        return None
    if ref.tap is None:
        if node.decl.role == "select":
            return PortRef(position)  # a selection row (Index) picks one of the outputs itself
        k = picked_output(node, ref)
        if k is not None:  # the row's pick argument (CBFuse's idx) names the output by position
            if 0 <= k < len(taps):
                return PortRef(position, list(taps)[k])
            diags.append(
                Diagnostic(
                    "YN205",
                    f"{node.label} takes output {k} of {src.label}, which has {len(taps)} outputs",
                    ref.span,
                    help=f"pick one of 0..{len(taps) - 1}: " + ", ".join(f"{i} = {t}" for i, t in enumerate(taps)),
                )
            )
            return None
        last = list(taps)[-1]
        diags.append(
            Diagnostic(
                "YN205",
                f"{src.label} has several outputs; name the tap to use",
                ref.span,
                help=f"write e.g. `{src.row.name or src.index}.{last}`; its taps are {listing}",
            )
        )
        return None
    if ref.tap not in taps:
        diags.append(Diagnostic("YN205", f"{src.label} has no tap `{ref.tap}`", ref.span, help=f"its taps are {listing}"))
        return None
    return PortRef(position, ref.tap)


def _pick_arg(decl: registry.BlockDecl) -> int | None:
    """Position among the YAML arguments of the block's pick argument (`Arg.check == CHECK_PICK`), if any."""
    return next((j for j, a in enumerate(decl.yaml_args()) if a.check == registry.CHECK_PICK), None)


def picked_output(node: Node, ref: Ref) -> int | None:
    """Which output of a multi-output input the row's pick argument (CBFuse's idx) names for `ref`, if it does."""
    j = _pick_arg(node.decl)
    if j is None or j >= len(node.row.args):
        return None
    picks = node.row.args[j]
    i = next((i for i, r in enumerate(node.row.refs) if r is ref), None)
    if i is None or not isinstance(picks, (list, tuple)) or i >= len(picks):
        return None
    k = picks[i]
    return k if isinstance(k, int) and not isinstance(k, bool) else None


def _infer(ir: IR, node: Node, limits: Limits, diags: list[Diagnostic]) -> None:
    spec, row, decl = ir.spec, node.row, node.decl
    if decl.role == "select":
        _infer_index(ir, node, diags)
        return
    ports = [ir.port(p) for p in node.inputs]
    if any(p.channels is None for p in ports):
        node.ok = False
        return
    node.c_in = [p.channels for p in ports]
    node.in_strides = [p.stride for p in ports]
    if decl.inputs == "one" and len(ports) != 1:
        diags.append(
            Diagnostic(
                "YN212",
                f"{decl.name} takes one input; `from` lists {len(ports)}",
                row.from_span,
                help="give one row index, or use Concat to join several",
            )
        )
        node.ok = False
        return
    n = scale_depth(row.number, spec.depth_multiple)
    if n > 1 and decl.repeat == "none":
        diags.append(Diagnostic("YN124", f"{decl.name} cannot be repeated (number is {row.number})", row.number_span, help="set number to 1"))
        node.ok = False
        return
    node.n = n
    if row.number == 0:
        diags.append(_zero_repeats(node))
    c_in = [int(c) for c in node.c_in if c is not None]
    more = check_args(row, decl)  # arguments outside their declared ranges, each at its own place
    if more:
        diags.extend(more)
        node.ok = False
        return
    bound, more = bind_args(spec, row, decl, c_in, n)
    diags.extend(more)
    if bound is None:
        node.ok = False
        return
    if decl.prepare is not None:
        try:
            bound = decl.prepare(bound, len(ports))
        except (ValueError, TypeError) as e:
            diags.append(
                Diagnostic("YN118", f"{decl.name}: {e}", row.args_span, help="check the arguments against the block's reference (`yamlnet blocks`)")
            )
            node.ok = False
            return
    node.bound = bound
    if node.weights is None:
        w = weights_arg(decl, bound)
        node.weights = w if isinstance(w, str) and w else None
    # a block that picks outputs of its inputs (CBFuse) brings them all to its last input's size
    stride_in = (node.in_strides[-1] if _pick_arg(decl) is not None else node.in_strides[0]) if node.in_strides else registry.ONE
    try:
        if decl.taps is not None:
            for t in decl.taps_of(bound):
                node.taps[t.name] = Port(t.channels, None if stride_in is None else stride_in * t.stride)
            last = list(node.taps.values())[-1] if node.taps else Port(None, None)
            node.out = Port(last.channels, last.stride)
        else:
            c_out = decl.out_channels(c_in if decl.inputs != "one" else c_in[0], bound) if decl.out_channels else None
            s = decl.stride_of(bound)
            if n > 1 and decl.repeat == "sequential":
                if c_out is not None and decl.inputs == "one" and c_out != c_in[0]:
                    diags.append(
                        Diagnostic(
                            "YN301",
                            f"{decl.name} is repeated {n} times, but it turns {c_in[0]} channels into {c_out}",
                            row.number_span,
                            label=f"copy 2 would receive {c_out} channels, built for {c_in[0]}",
                            notes=("YOLOv5 repeats a block as n identical copies, so each copy must keep the channel count",),
                            help=f"set number to 1 and add a row, or make the block keep {c_in[0]} channels",
                        )
                    )
                    node.ok = False
                    return
                s = s**n  # every copy applies the block's stride
            # most rows keep the stride: no Fraction arithmetic for them
            node.out = Port(c_out, None if stride_in is None else stride_in if (s is registry.ONE or s == 1) else stride_in * s)
    except (ValueError, TypeError, KeyError, ZeroDivisionError) as e:
        diags.append(
            Diagnostic(
                "YN118",
                f"{decl.name}: cannot work out its output from these arguments ({e})",
                row.args_span,
                help="check the arguments against the block's reference (`yamlnet blocks`)",
            )
        )
        node.ok = False
        return
    except Exception as e:  # a faulty declaration (a bug in a block, not in the spec): reported on the row, no traceback
        diags.append(
            Diagnostic(
                "YN901",
                f"the declaration of {decl.name} failed: {type(e).__name__}: {e}"[:300],
                row.span,
                help=f"this is a bug in the block's declaration ({decl.source or decl.impl}); please report it",
            )
        )
        node.ok = False
        return
    check_node(ir, node, limits, diags)


def _zero_repeats(node: Node) -> Diagnostic:
    """`number: 0`: what both references build (depth `max(round(n * d), 1) if n > 1 else n` keeps 0), YN125."""
    row, decl = node.row, node.decl
    copies = decl.repeat != "arg"
    built = "built once, as with number 1" if copies else f"built with n = 0: {decl.name} gets no inner blocks"
    span = row.number_span
    fixes = ()
    if span.line > 0 and span.end_line == span.line:
        title = "write number 1 (the same model)" if copies else "write number 1 (adds one inner block)"
        fixes = (Fix(title, (Edit(span, "1"),), "safe" if copies else "unsafe"),)
    return Diagnostic(
        "YN125",
        f"{node.label} has number 0; it is {built}",
        span,
        severity="warning",
        notes=("YOLOv5 and Ultralytics scale depth as max(round(n * depth_multiple), 1) only for n > 1, so 0 stays 0",),
        help="write 1" + ("" if copies else f", or remove the row if {decl.name} is not wanted"),
        fixes=fixes,
    )


def _infer_index(ir: IR, node: Node, diags: list[Diagnostic]) -> None:
    """Ultralytics' `Index` row: [c, k] picks output k of a multi-output row; c is checked, not trusted."""
    row = node.row
    if len(node.inputs) != 1 or not ir.nodes.get(node.inputs[0].node) or not ir.nodes[node.inputs[0].node].multi:
        diags.append(
            Diagnostic(
                "YN212",
                "Index takes one multi-output row as its input",
                row.from_span,
                help="e.g. `[0, 1, Index, [128, 1]]` after a backbone in row 0",
            )
        )
        node.ok = False
        return
    src = ir.nodes[node.inputs[0].node]
    if len(row.args) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in row.args):
        diags.append(
            Diagnostic(
                "YN106",
                "Index takes [channels, k]: the channels expected and the output to pick",
                row.args_span,
                help="e.g. `[0, 1, Index, [128, 1]]`",
            )
        )
        node.ok = False
        return
    c, k = row.args
    taps = list(src.taps.items())
    if not -len(taps) <= k < len(taps):
        listing = ", ".join(f"{i} = {n} ({p.channels} ch, stride {p.stride})" for i, (n, p) in enumerate(taps))
        diags.append(
            Diagnostic("YN205", f"{src.label} has {len(taps)} outputs; there is no output {k}", row.arg_spans[1], help=f"its outputs are {listing}")
        )
        node.ok = False
        return
    name, port = taps[k]
    node.inputs[0] = PortRef(src.position, name)
    node.c_in, node.in_strides = [port.channels], [port.stride]
    node.bound = {"index": k}
    node.out = Port(port.channels, port.stride)
    if c != port.channels:
        diags.append(
            Diagnostic(
                "YN305",
                f"Index says output {k} has {c} channels; {src.label}'s {name} has {port.channels}",
                row.arg_spans[0],
                help=f"write [{port.channels}, {k}]",
            )
        )


def _set_outputs(ir: IR) -> None:
    heads = ir.heads()
    if heads:
        ir.outputs = [PortRef(heads[-1].position)]
        return
    if not ir.nodes:
        return
    last = ir.nodes[max(ir.nodes)]
    if last.multi:
        ir.outputs = [PortRef(last.position, t) for t in last.taps]
    else:
        ir.outputs = [PortRef(last.position)]
