"""The machine-readable output of `yamlnet validate`, `build` and `summary`: one versioned schema.

Every JSON document the command line prints is a `ValidateOutput` or a `ModelOutput` (build and summary share
it), so the same thing has the same field name everywhere: a row is a `Layer` (`index`, `from`, `number`,
`module`, `args`, ...), a problem is a `DiagnosticOut`. The JSON Schema is exported to
`docs/schema/yamlnet-output.schema.json` (`python -m yamlnet.output > docs/schema/yamlnet-output.schema.json`)
and documented in `docs/output-format.md`. `schema_version` follows semantic versioning: a minor version adds
fields, a major version renames or removes them.

Also here: the same diagnostics as SARIF 2.1.0 (code-scanning UIs) and as GitHub workflow annotations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .graph.ir import IR, Node, PortRef

SCHEMA_NAME = "yamlnet-output"
SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://yamlnet.invalid/schema/yamlnet-output-1.schema.json"  # an identifier, not a download location


def _version() -> str:
    from . import __version__

    return str(__version__)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- diagnostics ------------------------------------------------------------------------------------------------


class LabelOut(_Out):
    """A secondary place a diagnostic is about (the other input of a join, the row a reference points to)."""

    file: str
    line: int = Field(ge=0, description="1-based; 0 when the place has no line")
    column: int = Field(ge=0, description="1-based; 0 when the place has no column")
    end_line: int | None = None
    end_column: int | None = Field(default=None, description="exclusive")
    text: str = ""


class EditOut(_Out):
    """Replace the text from line:column to end_line:end_column (exclusive) by `replacement`."""

    file: str
    line: int = Field(ge=0)
    column: int = Field(ge=0)
    end_line: int | None = None
    end_column: int | None = None
    replacement: str


class FixOut(_Out):
    """Edits that resolve a diagnostic, applied together; `yamlnet fix` applies the safe ones."""

    title: str
    applicability: Literal["safe", "unsafe"]
    edits: list[EditOut]


class DiagnosticOut(_Out):
    """One problem: a stable code, where it is (1-based line and column; 0 when it has no place in a file), what
    to write instead (`help`) and, where yamlnet knows it, the edits that fix it."""

    code: str = Field(pattern=r"^YN\d{3}$", description="stable code, see docs/diagnostics.md")
    severity: Literal["error", "warning", "note"]
    message: str
    file: str
    line: int = Field(ge=0)
    column: int = Field(ge=0)
    end_line: int | None = None
    end_column: int | None = Field(default=None, description="exclusive")
    label: str = Field(default="", description="short text shown under the caret")
    notes: list[str] = Field(default_factory=list)
    help: str = ""
    labels: list[LabelOut] = Field(default_factory=list, description="secondary places")
    fixes: list[FixOut] = Field(default_factory=list)

    @classmethod
    def of(cls, d: Diagnostic) -> DiagnosticOut:
        return cls.model_validate(d.to_json())


# --- layers -------------------------------------------------------------------------------------------------------

Number = int | float
Shape = list[int]


class TapOut(_Out):
    """One output of a multi-output row (a backbone's P3, P4, P5)."""

    name: str
    index: int | None = Field(description="the index `from` uses for this tap in the seeds' numbering, else null")
    channels: int | None
    stride: Number | None
    shape: Shape | None = Field(description="[channels, height, width] at imgsz, null when unknown")


class Layer(_Out):
    """One row of the spec: the fields of a mapping-form row (`from`, `number`, `module`, `args`, `name`) as the
    spec wrote them, plus what yamlnet inferred."""

    index: int = Field(description="the number `from` uses for this row (a seeds-numbered backbone in row 0 owns 0..4: its index is 0)")
    position: int = Field(ge=0, description="0-based over backbone + head; the module is model.{position}")
    section: Literal["backbone", "head"]
    name: str | None = Field(description="the row's `name`, when it has one")
    from_: list[int | str] = Field(
        alias="from", description="the row's inputs as written: integers are row indices (negative: relative), strings are names or taps"
    )
    number: int = Field(description="the repeat count as written")
    repeats: int = Field(description="the repeat count after depth scaling")
    module: str
    args: list[Any] = Field(description="the row's arguments as written (expressions evaluated)")
    kwargs: dict[str, Any] = Field(description="the keyword arguments the block is built with (filled and width-scaled); {} when unknown")
    params: int | None = Field(description="parameters of the row; null when unknown")
    gflops: float | None = Field(description="GFLOPs of the row at imgsz (summary); null when not counted")
    channels: int | None = Field(description="output channels; null for heads and where unknown")
    stride: Number | None = Field(description="output stride relative to the input image; null for heads and where unknown")
    output: list[Shape] = Field(description="output shapes without the batch dimension, one per output tensor; [] when unknown")
    taps: list[TapOut] = Field(default_factory=list, description="the outputs of a multi-output row; [] otherwise")
    ok: bool = Field(description="false when a diagnostic made the row unusable")


class ModelOutputPort(_Out):
    """One output of the whole model (for a spec without a head: the taps or the last row)."""

    ref: str = Field(description="`position` or `position.tap`")
    channels: int | None
    stride: Number | None


# --- documents ----------------------------------------------------------------------------------------------------


class _Document(_Out):
    schema_: Literal["yamlnet-output"] = Field(default=SCHEMA_NAME, alias="schema")
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    yamlnet_version: str = Field(default_factory=_version)


class FileReport(_Out):
    """The validation of one file."""

    file: str
    ok: bool = Field(description="no errors (and no warnings under --strict)")
    errors: int = Field(ge=0)
    warnings: int = Field(ge=0)
    diagnostics: list[DiagnosticOut]


class Totals(_Out):
    files: int = Field(ge=0)
    ok: int = Field(ge=0)
    failed: int = Field(ge=0)
    errors: int = Field(ge=0)
    warnings: int = Field(ge=0)


class ValidateOutput(_Document):
    """`yamlnet validate --format json`, for one file or many."""

    command: Literal["validate"] = "validate"
    ok: bool
    imgsz: list[list[int]] = Field(description="the input sizes checked, [height, width] each")
    static: bool
    strict: bool
    files: list[FileReport]
    totals: Totals


class ModelOutput(_Document):
    """`yamlnet build --format json` and `yamlnet summary --format json`. A spec with errors gives ok=false, its
    diagnostics, and the rows that could still be read."""

    command: Literal["build", "summary"]
    file: str
    ok: bool
    errors: int = Field(ge=0)
    warnings: int = Field(ge=0)
    imgsz: list[int] = Field(description="[height, width] of the shapes")
    parameters: int | None = Field(description="all parameters; null when the model could not be measured")
    fused_parameters: int | None = Field(default=None, description="after --fuse (build); null otherwise")
    gflops: float | None = Field(default=None, description="GFLOPs at imgsz as YOLOv5 counts them (summary); null otherwise")
    gflops_torch: float | None = Field(default=None, description="torch.utils.flop_counter alone (summary)")
    flops_convention: str | None = Field(default=None, description="how gflops is counted, see docs/summary.md")
    module_count: int | None = Field(default=None, description="modules in the built model, as YOLOv5's model.info counts 'layers'")
    stride: list[Number] = Field(description="strides of the head's inputs (the model's outputs without a head); [] when unknown")
    outputs: list[ModelOutputPort]
    layers: list[Layer]
    diagnostics: list[DiagnosticOut]


YamlnetOutput = Annotated[ValidateOutput | ModelOutput, Field(discriminator="command")]
_ADAPTER: TypeAdapter[ValidateOutput | ModelOutput] = TypeAdapter(YamlnetOutput)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every document above."""
    schema = _ADAPTER.json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"{SCHEMA_NAME} {SCHEMA_VERSION}",
        "description": "What `yamlnet validate|build|summary --format json` print (docs/output-format.md).",
        **schema,
    }


def parse(document: str | dict[str, Any]) -> ValidateOutput | ModelOutput:
    """Read a document back (checks it against the schema)."""
    data = json.loads(document) if isinstance(document, str) else document
    return _ADAPTER.validate_python(data)


def dumps(doc: BaseModel) -> str:
    return doc.model_dump_json(by_alias=True, indent=2)


# --- building the documents ----------------------------------------------------------------------------------------


def jsonable(v: Any) -> Any:
    """A value as JSON: numbers, strings, booleans, null, lists and objects; anything else as its text."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else float(v)
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    return str(v)


def number(s: Fraction | float | None) -> int | float | None:
    if s is None:
        return None
    f = Fraction(s)
    return int(f) if f.denominator == 1 else float(f)


def _shapes(shape: Any) -> list[Shape]:
    """Output shape(s) from the shape pass (with batch) as a list of shapes without the batch dimension."""
    if isinstance(shape, tuple) and shape and all(isinstance(v, int) for v in shape):
        return [list(shape[1:])]
    if isinstance(shape, (list, tuple)):
        return [s for item in shape if item is not None for s in _shapes(item)]
    return []


def _from(node: Node) -> list[int | str]:
    return [r.index if r.row_name is None and r.tap is None and r.index is not None else r.text for r in node.row.refs]


def layer_of(
    ir: IR,
    node: Node,
    params: dict[int, int] | None = None,
    shapes: dict[int, Any] | None = None,
    port_shape: Callable[[PortRef], tuple[int, ...] | None] | None = None,
    flops: dict[int, int] | None = None,
) -> Layer:
    from .graph.bind import constructor_kwargs
    from .graph.ir import PortRef

    row, decl = node.row, node.decl
    taps = []
    for k, (name, port) in enumerate(node.taps.items()):
        shape = port_shape(PortRef(node.position, name)) if port_shape else None
        if shape is None and shapes and isinstance(shapes.get(node.position), list):
            got = _shapes(shapes[node.position])
            shape = tuple(got[k]) if k < len(got) else None
        seeds_index = int(port.stride).bit_length() - 2 if ir.numbering == "seeds" and port.stride and port.stride.denominator == 1 else None
        taps.append(TapOut(name=name, index=seeds_index, channels=port.channels, stride=number(port.stride), shape=list(shape) if shape else None))
    output = _shapes((shapes or {}).get(node.position))
    if not output and port_shape is not None and decl.role != "head":
        if node.multi:
            output = [t.shape for t in taps if t.shape]
        else:
            s = port_shape(PortRef(node.position))
            output = [list(s)] if s else []
    head = decl.role == "head"
    fl = (flops or {}).get(node.position)
    return Layer(
        index=node.index if not (ir.numbering == "seeds" and node.position == 0) else 0,
        position=node.position,
        section=row.section,
        name=row.name,
        from_=_from(node),
        number=row.number,
        repeats=node.n,
        module=row.module,
        args=jsonable(list(row.args)),
        kwargs=jsonable(constructor_kwargs(decl, node.bound)) if node.bound else {},
        params=(params or {}).get(node.position, 0 if decl.role == "select" else None),
        gflops=None if fl is None else round(fl / 1e9, 6),
        channels=None if head or node.multi else node.out.channels,
        stride=None if head or node.multi else number(node.out.stride),
        output=output,
        taps=taps,
        ok=node.ok,
    )


def model_ports(ir: IR) -> tuple[list[ModelOutputPort], list[int | float]]:
    """The model's outputs and its strides (the head's inputs' strides, else the outputs')."""
    outs = []
    for o in ir.outputs:
        try:
            port = ir.port(o)
        except KeyError:
            continue
        head = o.node in ir.nodes and ir.nodes[o.node].decl.role == "head"  # a head's output is not a feature map
        outs.append(ModelOutputPort(ref=str(o), channels=None if head else port.channels, stride=None if head else number(port.stride)))
    heads = ir.heads()
    strides = [number(s) for s in heads[-1].in_strides] if heads else [o.stride for o in outs]
    return outs, [s for s in strides if s is not None] if all(s is not None for s in strides) else []


def _counts(diags: Sequence[Diagnostic]) -> tuple[int, int]:
    return sum(d.severity == "error" for d in diags), sum(d.severity == "warning" for d in diags)


def model_document(
    command: Literal["build", "summary"],
    file: str,
    ir: IR | None,
    diagnostics: Sequence[Diagnostic],
    imgsz: tuple[int, int],
    params: dict[int, int] | None = None,
    shapes: dict[int, Any] | None = None,
    port_shape: Callable[[PortRef], tuple[int, ...] | None] | None = None,
    parameters: int | None = None,
    flops: dict[int, int] | None = None,
    **extra: Any,
) -> ModelOutput:
    """A build or summary document; for a spec with errors, what could be read (ir may be None)."""
    ne, nw = _counts(diagnostics)
    layers = [layer_of(ir, n, params, shapes, port_shape, flops) for n in ir.nodes.values()] if ir is not None else []
    outputs, strides = model_ports(ir) if ir is not None else ([], [])
    return ModelOutput(
        command=command,
        file=file,
        ok=ne == 0,
        errors=ne,
        warnings=nw,
        imgsz=list(imgsz),
        parameters=parameters,
        stride=strides,
        outputs=outputs,
        layers=layers,
        diagnostics=[DiagnosticOut.of(d) for d in diagnostics],
        **extra,
    )


FileResult = tuple[str, Sequence["Diagnostic"]]


def validate_document(results: Iterable[FileResult], imgsz: Sequence[tuple[int, int]], static: bool, strict: bool) -> ValidateOutput:
    files = []
    for path, diags in results:
        ne, nw = _counts(diags)
        files.append(
            FileReport(file=path, ok=not (ne + (nw if strict else 0)), errors=ne, warnings=nw, diagnostics=[DiagnosticOut.of(d) for d in diags])
        )
    failed = sum(not f.ok for f in files)
    totals = Totals(
        files=len(files),
        ok=len(files) - failed,
        failed=failed,
        errors=sum(f.errors for f in files),
        warnings=sum(f.warnings for f in files),
    )
    return ValidateOutput(ok=failed == 0, imgsz=[list(hw) for hw in imgsz], static=static, strict=strict, files=files, totals=totals)


# --- SARIF 2.1.0 and GitHub annotations ---------------------------------------------------------------------------

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def _region(line: int, column: int, end_line: int | None, end_column: int | None) -> dict[str, int]:
    region = {"startLine": line, "startColumn": max(column, 1)}
    if end_line is not None and end_line >= line:
        region["endLine"] = end_line
        if end_column is not None and (end_line > line or end_column > column):
            region["endColumn"] = end_column
    return region


def _sarif_location(file: str, line: int, column: int, end_line: int | None, end_column: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(file)}
    if line > 0:
        physical["region"] = _region(line, column, end_line, end_column)
    return {"physicalLocation": physical}


def _artifact(file: str) -> dict[str, str]:
    """A SARIF artifactLocation: absolute paths as file URIs, relative ones against the checkout (%SRCROOT%)."""
    from pathlib import PurePath
    from urllib.parse import quote

    p = PurePath(file)
    if p.is_absolute():
        return {"uri": p.as_uri()}
    return {"uri": quote(p.as_posix()), "uriBaseId": "%SRCROOT%"}


def to_sarif(doc: ValidateOutput) -> dict[str, Any]:
    """The diagnostics of a validation as one SARIF 2.1.0 run (rules = the codes that occur)."""
    codes = sorted({d.code for f in doc.files for d in f.diagnostics})
    results = []
    for f in doc.files:
        for d in f.diagnostics:
            text = d.message + (f"\nhelp: {d.help}" if d.help else "")
            result: dict[str, Any] = {
                "ruleId": d.code,
                "ruleIndex": codes.index(d.code),
                "level": _SARIF_LEVEL[d.severity],
                "message": {"text": text},
                "locations": [_sarif_location(d.file, d.line, d.column, d.end_line, d.end_column)],
            }
            if d.labels:
                result["relatedLocations"] = [
                    {"id": i, **_sarif_location(lb.file, lb.line, lb.column, lb.end_line, lb.end_column), "message": {"text": lb.text}}
                    for i, lb in enumerate(d.labels)
                ]
            fixes = [fx for fx in d.fixes if all(e.line > 0 and e.end_line is not None and e.end_column is not None for e in fx.edits)]
            if fixes:
                result["fixes"] = [
                    {
                        "description": {"text": fx.title},
                        "artifactChanges": [
                            {
                                "artifactLocation": _artifact(e.file),
                                "replacements": [
                                    {
                                        "deletedRegion": _region(e.line, e.column, e.end_line, e.end_column),
                                        "insertedContent": {"text": e.replacement},
                                    }
                                ],
                            }
                            for e in fx.edits
                        ],
                    }
                    for fx in fixes
                ]
            results.append(result)
    run = {
        "tool": {
            "driver": {
                "name": "yamlnet",
                "version": doc.yamlnet_version,
                "rules": [{"id": c, "name": c} for c in codes],
            }
        },
        "results": results,
        "artifacts": [{"location": _artifact(f.file)} for f in doc.files],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def to_github(doc: ValidateOutput) -> str:
    """GitHub workflow commands (`::error file=...,line=...::message`), one per diagnostic."""
    lines = []
    for f in doc.files:
        for d in f.diagnostics:
            props = [f"file={_escape_property(d.file)}"]
            if d.line > 0:
                props.append(f"line={d.line}")
                props.append(f"col={max(d.column, 1)}")
                if d.end_line is not None and d.end_line >= d.line:
                    props.append(f"endLine={d.end_line}")
                    if d.end_line == d.line and d.end_column is not None and d.end_column > d.column:
                        props.append(f"endColumn={d.end_column}")
            props.append(f"title={_escape_property(f'{d.code}: {d.message}'[:200])}")
            text = d.message + "".join(f"\nnote: {n}" for n in d.notes) + (f"\nhelp: {d.help}" if d.help else "")
            lines.append(f"::{_GITHUB_LEVEL[d.severity]} {','.join(props)}::{_escape_data(text)}")
    return "\n".join(lines)


__all__ = [
    "SCHEMA_VERSION",
    "DiagnosticOut",
    "EditOut",
    "FileReport",
    "FixOut",
    "Layer",
    "ModelOutput",
    "TapOut",
    "Totals",
    "ValidateOutput",
    "dumps",
    "json_schema",
    "layer_of",
    "model_document",
    "parse",
    "to_github",
    "to_sarif",
    "validate_document",
]


if __name__ == "__main__":  # pragma: no cover - writes the schema: python -m yamlnet.output > docs/schema/yamlnet-output.schema.json
    print(json.dumps(json_schema(), indent=2))
