"""What the editor shows about one version of a spec: its diagnostics and, per row, the facts the static analysis
gives (channels, stride, spatial size at the editor's input size, repeats after depth scaling, where each `from`
entry points). torch is never imported: these are the facts of `yamlnet validate --static`.

A half-typed file keeps what was known: a row whose facts the current text does not give (a YAML syntax error
elsewhere, an input with an error) shows the last good facts of the same row, found by mapping the lines of the
earlier text onto the current one, and marked `stale`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction

from ..diagnostics import Diagnostic, SourceText, Span, errors
from ..graph.ir import INPUT, IR, Node, PortRef
from ..registry import BlockDecl
from ..spec.limits import DEFAULT_LIMITS, Limits
from ..spec.model import Spec

Size = tuple[int, int]
_SPEC_KEYS = re.compile(r"^(backbone|head)\s*:", re.MULTILINE)


def looks_like_spec(text: str) -> bool:
    """Whether a YAML document is a model spec (it has a top-level `backbone:` or `head:`), so that other YAML
    files an editor opens (CI workflows, configs) get no diagnostics from yamlnet."""
    return bool(_SPEC_KEYS.search(text))


@dataclass(frozen=True)
class PortFacts:
    """One output of a row: its tap name (None for a single output), channels, stride and size."""

    tap: str | None
    channels: int | None
    stride: Fraction | None
    size: Size | None


@dataclass(frozen=True)
class InputFacts:
    """One entry of a row's `from`: its text and span, the row it resolves to (None: unresolved or the image) and
    what arrives through it."""

    text: str
    span: Span
    target: int | None  # position of the row that makes it; None for the model input or an unresolved entry
    port: PortFacts | None
    is_input: bool = False  # the model's input image


@dataclass(frozen=True)
class RowFacts:
    """The facts of one row as the editor shows them."""

    position: int
    index: int  # the number `from` uses for this row
    module: str
    line: int  # 1-based line of the row's start
    span: Span
    number: int  # as written
    n: int  # after depth scaling
    outputs: tuple[PortFacts, ...]
    inputs: tuple[InputFacts, ...]
    head: bool = False
    select: bool = False
    stale: bool = False  # carried over from an earlier version of the text

    @property
    def known(self) -> bool:
        return any(p.channels is not None for p in self.outputs) or (self.head and any(i.port is not None for i in self.inputs))


@dataclass
class Analysis:
    """One version of a document: diagnostics, the rows' facts by position, the dialect and the scale."""

    uri: str
    name: str
    text: str
    version: int | None
    hw: Size
    diagnostics: list[Diagnostic] = field(default_factory=list)
    rows: dict[int, RowFacts] = field(default_factory=dict)
    spec: Spec | None = None
    ir: IR | None = None
    dialect: str = "yolov5"
    scale: str | None = None
    scale_line: int = 0  # the line of `scales:` (0: none)
    scale_values: tuple[float, float, float] | None = None
    is_spec: bool = True

    def row_at_line(self, line: int) -> RowFacts | None:
        """The row that starts on 1-based `line`, or the row whose span covers it."""
        best = None
        for r in self.rows.values():
            end = r.span.end_line or r.line
            if r.line <= line <= end:
                if r.line == line:
                    return r
                best = r
        return best

    def row_by_index(self, index: int) -> RowFacts | None:
        return next((r for r in self.rows.values() if r.index == index), None)


def analyze_text(uri: str, name: str, text: str, version: int | None = None, hw: Size = (640, 640), limits: Limits = DEFAULT_LIMITS) -> Analysis:
    """Static analysis of a document's text, named `name` (a file name decides the scale, `yolo11n.yaml`): what
    `yamlnet validate --static` reports, plus every row's facts."""
    from ..graph.lower import lower
    from ..graph.sizes import check_sizes, propagate
    from ..spec.parse import parse_tree
    from ..spec.source import compose_tree, read_source

    a = Analysis(uri, name, text, version, hw, is_spec=looks_like_spec(text))
    if not a.is_spec:
        return a
    sized, diags = read_source(text if "\n" in text else text + "\n", limits)  # the size limit, as for a file
    if sized is None:
        a.diagnostics = [replace(d, span=replace(d.span, file=name)) for d in diags]
        return a
    src = SourceText(name, text)
    tree, diags = compose_tree(src, limits)
    if tree is None:
        a.diagnostics = diags
        return a
    spec, more = parse_tree(tree, src, limits, scale_name=name)
    diags += more
    if spec is None:
        a.diagnostics = diags
        return a
    ir = lower(spec, limits)
    diags += ir.diagnostics
    if not errors(diags):
        diags += check_sizes(ir, hw, limits)
    a.diagnostics, a.spec, a.ir, a.dialect, a.scale = diags, spec, ir, spec.dialect, spec.scale
    if spec.scales and spec.scale in spec.scales:
        a.scale_line = spec.span_of("scales").line
        d, w, c = spec.scales[spec.scale]
        a.scale_values = (d, w, c)
    sizes = propagate(ir, hw)
    for pos, node in ir.nodes.items():
        a.rows[pos] = _row_facts(ir, node, sizes)
    return a


def _port(ir: IR, ref: PortRef, sizes: dict[PortRef, Size]) -> PortFacts | None:
    try:
        p = ir.port(ref)
    except KeyError:
        return None
    return PortFacts(ref.tap, p.channels, p.stride, sizes.get(ref))


def _row_facts(ir: IR, node: Node, sizes: dict[PortRef, Size]) -> RowFacts:
    row = node.row
    outputs: tuple[PortFacts, ...]
    if node.taps:
        outputs = tuple(PortFacts(t, p.channels, p.stride, sizes.get(PortRef(node.position, t))) for t, p in node.taps.items())
    elif node.decl.role == "head":
        outputs = ()
    else:
        outputs = (PortFacts(None, node.out.channels, node.out.stride, sizes.get(PortRef(node.position))),)
    resolved = dict(zip(node.input_spans, node.inputs))
    inputs = []
    for ref in row.refs:
        port = resolved.get(ref.span)
        if port is None:
            inputs.append(InputFacts(ref.text, ref.span, None, None))
        elif port.node == INPUT:
            inputs.append(InputFacts(ref.text, ref.span, None, _port(ir, port, sizes), is_input=True))
        else:
            inputs.append(InputFacts(ref.text, ref.span, port.node, _port(ir, port, sizes)))
    return RowFacts(
        position=node.position,
        index=node.index,
        module=row.module,
        line=row.span.line,
        span=row.span,
        number=row.number,
        n=node.n,
        outputs=outputs,
        inputs=tuple(inputs),
        head=node.decl.role == "head",
        select=node.decl.role == "select",
    )


def decl_of(a: Analysis, position: int) -> BlockDecl | None:
    """The declaration a row of the analysed spec names (None for a row that was not read)."""
    if a.ir is None or position not in a.ir.nodes:
        return None
    return a.ir.nodes[position].decl


def ref_at(a: Analysis, line: int, column: int) -> tuple[RowFacts, InputFacts] | None:
    """The `from` entry under a 1-based line and column (its span), with its row."""
    for r in a.rows.values():
        for i in r.inputs:
            sp = i.span
            if sp.line == line and sp.column <= column <= (sp.end_column or sp.column + len(i.text)):
                return r, i
    return None


def internal_error(name: str, e: BaseException) -> Diagnostic:
    """A failure of the analysis itself, reported as the CLI reports one (YN901), at the top of the file."""
    return Diagnostic(
        "YN901",
        f"internal error while analysing: {type(e).__name__}: {e}"[:500],
        Span(name, 1, 1),
        help="this is a bug in yamlnet or in a block; please report it with the spec that caused it",
    )


# --- keeping the last good facts --------------------------------------------------------------------------


def line_map(old: str, new: str) -> dict[int, int]:
    """1-based lines of `old` mapped onto the lines of `new` that are the same line, unchanged or edited in
    place (a block of lines replaced by as many lines maps line by line)."""
    a, b = old.splitlines(), new.splitlines()
    out: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                out[i1 + k + 1] = j1 + k + 1
    return out


def carry_over(previous: Analysis | None, current: Analysis) -> Analysis:
    """`current` with the last good facts of `previous` for the rows it knows nothing about: rows of the same
    line (after mapping the old text's lines onto the new one) whose facts are unknown now, or that the current
    text does not yield at all (a YAML syntax error). Carried rows are marked stale."""
    if previous is None or not previous.rows or not current.is_spec:
        return current
    lines = line_map(previous.text, current.text)
    by_line = {r.line: r for r in current.rows.values()}
    for old in previous.rows.values():
        if not old.known or old.line not in lines:
            continue
        new_line = lines[old.line]
        now = by_line.get(new_line)
        if now is not None and now.known:
            continue
        if now is None and old.position in current.rows:
            continue  # the current text has another row at this position: it is not the same row
        delta = new_line - old.line
        sp = old.span
        moved = replace(sp, line=new_line, end_line=None if sp.end_line is None else sp.end_line + delta)
        inputs = tuple(
            replace(i, span=replace(i.span, line=i.span.line + delta, end_line=None if i.span.end_line is None else i.span.end_line + delta))
            for i in old.inputs
        )
        position = now.position if now is not None else old.position
        current.rows[position] = replace(old, line=new_line, span=moved, inputs=inputs, stale=True, position=position)
    if current.scale_line == 0 and previous.scale_line in lines and current.spec is None:
        current.scale_line, current.scale, current.scale_values = lines[previous.scale_line], previous.scale, previous.scale_values
    return current


__all__ = [
    "Analysis",
    "InputFacts",
    "PortFacts",
    "RowFacts",
    "analyze_text",
    "carry_over",
    "decl_of",
    "internal_error",
    "line_map",
    "looks_like_spec",
    "ref_at",
]
