"""JSON Schemas for model YAMLs, one per dialect, generated from the block declarations and the header model, so
that an editor's YAML extension offers block names, argument counts and basic type and range checks without
yamlnet running (`yamlnet schema`, docs/schema/model-<dialect>.schema.json, docs/editor.md).

The schema is looser than yamlnet, never stricter: every argument may also be an expression string (`nc`,
`anchors`, `None`), and only what a declaration states is checked (argument count, literal types, declared
ranges). A file that passes it can still fail `yamlnet validate`; a file yamlnet accepts always passes it.
Draft-07, the draft YAML language servers read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import registry
from .registry import REQUIRED, Arg, BlockDecl

SCHEMA_VERSION = "http://json-schema.org/draft-07/schema#"
_LITERAL = {"int": "integer", "float": "number", "bool": "boolean", "str": "string", "list": "array", "none": "null"}


def _number_range(arg: Arg, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    if arg.low is not None:
        out["minimum"] = arg.low
    if arg.high is not None:
        out["maximum"] = arg.high
    return out


def arg_schema(arg: Arg) -> dict[str, Any]:
    """What one argument may be: its declared types (a number within the declared range; a list whose numbers
    are), or an expression string."""
    kinds = [k.strip() for k in arg.type.split("|")]
    if "any" in kinds:
        return {"description": _describe(arg)}
    options: list[dict[str, Any]] = []
    for k in kinds:
        if k in ("int", "float"):
            options.append(_number_range(arg, _LITERAL[k]))
        elif k == "list":
            number = {"anyOf": [_number_range(arg, "number"), {"not": {"type": "number"}}]} if arg.low is not None or arg.high is not None else {}
            options.append({"type": "array", "items": number} if number else {"type": "array"})
        elif k in _LITERAL:
            options.append({"type": _LITERAL[k]})
    if not any(o.get("type") == "string" for o in options):
        options.append({"type": "string"})  # an expression (nc, anchors, None, 2*nc) or an activation
    return {"anyOf": options, "description": _describe(arg)}


def _describe(arg: Arg) -> str:
    from .graph.checks import range_words

    words = [arg.type + (" (width-scaled)" if arg.width else "")]
    if arg.default is not REQUIRED:
        words.append(f"default {arg.default!r}")
    allowed = range_words(arg)
    if allowed:
        words.append(allowed)
    return f"{arg.name}: " + ", ".join(words) + (f". {arg.doc}" if arg.doc else "")


def args_schema(decl: BlockDecl) -> dict[str, Any]:
    """The args list of a block: its arguments by position, at most as many as it takes, at least up to the last
    one without a default."""
    args = decl.yaml_args()
    required = max((i + 1 for i, a in enumerate(args) if a.default is REQUIRED), default=0)
    out: dict[str, Any] = {"type": "array", "maxItems": len(args), "description": _signature(decl)}
    if args:  # draft-07 wants a non-empty list of item schemas
        out["items"] = [arg_schema(a) for a in args]
    if required:
        out["minItems"] = required
    return out


def _signature(decl: BlockDecl) -> str:
    from .graph.bind import signature

    return signature(decl) + (f": {decl.doc.splitlines()[0]}" if decl.doc else "")


def _header_properties() -> dict[str, Any]:
    from .spec.model import Header

    props = Header.model_json_schema()["properties"]
    for p in props.values():
        p.pop("title", None)
        p.pop("default", None)
    return dict(props)


def model_schema(dialect: str) -> dict[str, Any]:
    """The JSON Schema of a model YAML in `dialect`, from every block the registry declares for it."""
    if dialect not in registry.DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; yamlnet reads {', '.join(registry.DIALECTS)}")
    decls = [d for d in registry.declarations(dialect)]
    title = registry.dialect_title(dialect)
    module = {"type": "string", "enum": [d.name for d in decls], "description": "a registered block (`yamlnet blocks` lists them)"}
    ref = {"anyOf": [{"type": "integer"}, {"type": "string", "description": "a row name, or a tap: backbone.P4, 0.P4"}]}
    defs: dict[str, Any] = {
        "from": {
            "description": "the input row(s): -1 the previous row, an absolute index, a row name, a tap (backbone.P4)",
            "anyOf": [ref, {"type": "array", "items": ref, "minItems": 1}],
        },
        "number": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string"}], "description": "repeats, before depth scaling"},
        "module": module,
        "args": {"type": "array", "description": "the block's arguments (`yamlnet blocks NAME`)"},
    }
    flow_cases, map_cases = [], []
    for d in decls:
        key = f"args:{d.name}" if d.dialect is None else f"args:{d.name}:{d.dialect}"
        defs[key] = args_schema(d)
        target = {"$ref": f"#/definitions/{_pointer(key)}"}
        flow_cases.append({"if": {"items": [{}, {}, {"const": d.name}]}, "then": {"items": [{}, {}, {}, target]}})
        map_cases.append({"if": {"properties": {"module": {"const": d.name}}, "required": ["module"]}, "then": {"properties": {"args": target}}})
    defs["flowRow"] = {
        "type": "array",
        "description": "[from, number, module, args]",
        "items": [{"$ref": "#/definitions/from"}, {"$ref": "#/definitions/number"}, {"$ref": "#/definitions/module"}, {"$ref": "#/definitions/args"}],
        "minItems": 4,
        "maxItems": 4,
        "allOf": flow_cases,
    }
    defs["mappingRow"] = {
        "type": "object",
        "description": "a row as a mapping, with an optional name for references (backbone.P4)",
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "from": {"$ref": "#/definitions/from"},
            "number": {"$ref": "#/definitions/number"},
            "n": {"$ref": "#/definitions/number"},
            "module": {"$ref": "#/definitions/module"},
            "args": {"$ref": "#/definitions/args"},
            "weights": {"type": ["string", "boolean", "null"], "description": "a local checkpoint file (loaded with weights_only=True)"},
        },
        "required": ["module"],
        "additionalProperties": False,
        "allOf": map_cases,
    }
    defs["rows"] = {"type": "array", "items": {"anyOf": [{"$ref": "#/definitions/flowRow"}, {"$ref": "#/definitions/mappingRow"}]}}
    props = _header_properties()
    props["activation"] = {"type": "string", "description": "the default activation, e.g. nn.SiLU() or nn.LeakyReLU(0.1)"}
    props["backbone"] = {"$ref": "#/definitions/rows"}
    props["head"] = {"anyOf": [{"$ref": "#/definitions/rows"}, {"type": "null"}]}
    return {
        "$schema": SCHEMA_VERSION,
        "$id": f"yamlnet:model-{dialect}.schema.json",
        "title": f"yamlnet model spec ({title} dialect)",
        "description": "generated by `yamlnet schema` from the block declarations; `yamlnet validate` checks much more",
        "type": "object",
        "properties": props,
        "required": ["backbone"],
        "additionalProperties": True,  # other top-level keys are names that rows may use (yamlnet warns on unused ones)
        "definitions": defs,
    }


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def schema_text(dialect: str) -> str:
    return json.dumps(model_schema(dialect), indent=1, sort_keys=False) + "\n"


def write_schemas(folder: str | os.PathLike[str]) -> list[Path]:
    """Write model-<dialect>.schema.json for every dialect the registry knows; returns the files written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dialect in registry.DIALECTS:
        p = out / f"model-{dialect}.schema.json"
        p.write_text(schema_text(dialect), encoding="utf-8")
        written.append(p)
    return written


__all__ = ["arg_schema", "args_schema", "model_schema", "schema_text", "write_schemas"]
