"""`yamlnet schema` (JSON Schemas per dialect from the declarations, docs/schema/model-*.schema.json) and the CLI
side of `yamlnet lsp` (the message without pygls, the pre-commit hook)."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REFERENCE_DIR, ROOT, SPECS, ULTRALYTICS_DIR, require_reference, require_ultralytics

from yamlnet import registry
from yamlnet.api import analyze
from yamlnet.schema import args_schema, model_schema

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a dev dependency (pip install -e '.[dev]')")


@functools.cache
def _validator(dialect: str):
    schema = model_schema(dialect)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(dialect: str, text: str) -> list[str]:
    """Every message, also those of the alternatives of an anyOf (a row is a list or a mapping)."""
    out, todo = [], list(_validator(dialect).iter_errors(yaml.safe_load(text)))
    while todo:
        e = todo.pop()
        out.append(e.message)
        todo += e.context or []
    return out


def _accepted(paths: list[Path]) -> int:
    """Every file yamlnet accepts passes its dialect's schema; returns how many were checked. The rows' arguments
    are checked against each block's own args schema (the definitions the schema's per-module cases point at) and
    the rest of the file against the schema without those cases: the same checks, without evaluating ~100 cases
    per row (0.14 s a file with the Python validator; an editor's validator is much faster)."""
    structure = {d: _structure(d) for d in registry.DIALECTS}  # built per call: the registry may have grown
    args_validators: dict[tuple[str, str], Any] = {}
    n = 0
    for p in paths:
        report = analyze(p)
        if not report.ok or report.ir is None:
            continue
        dialect = report.ir.spec.dialect
        doc = yaml.safe_load(p.read_text())
        errs = [e.message for e in structure[dialect].iter_errors(doc)]
        assert errs == [], f"{p}: {errs[:3]}"
        for row in (doc.get("backbone") or []) + (doc.get("head") or []):
            module, args = (row[2], row[3]) if isinstance(row, list) else (row["module"], row.get("args", []))
            key = (dialect, module)
            if key not in args_validators:
                decl = registry.lookup(module, dialect)
                assert decl is not None
                args_validators[key] = jsonschema.Draft7Validator(args_schema(decl))
            errs = [e.message for e in args_validators[key].iter_errors(args)]
            assert errs == [], f"{p}: {module} {args}: {errs[:3]}"
        n += 1
    return n


def _structure(dialect: str) -> Any:
    schema = model_schema(dialect)
    defs = schema["definitions"]
    assert len(defs["flowRow"].pop("allOf")) == len(defs["mappingRow"].pop("allOf")) == len(registry.declarations(dialect))
    return jsonschema.Draft7Validator(schema)


def test_per_module_cases_point_at_the_args_schemas() -> None:
    """End to end with the whole schema (per-module cases included) on a few files of each row form."""
    for name in ("yolov5s.yaml", "yolo11.yaml", "yolov5-emo-taps.yaml"):
        report = analyze(SPECS / name)
        assert report.ok and report.ir is not None
        assert [e.message for e in _validator(report.ir.spec.dialect).iter_errors(yaml.safe_load((SPECS / name).read_text()))] == []


def test_every_bundled_spec_passes_its_schema() -> None:
    assert _accepted(sorted(SPECS.glob("*.yaml"))) == len(list(SPECS.glob("*.yaml")))


def test_reference_specs_pass_their_schema() -> None:
    require_reference()
    require_ultralytics()
    refs = sorted(REFERENCE_DIR.rglob("*.yaml")) + sorted(ULTRALYTICS_DIR.rglob("*.yaml"))
    assert _accepted(refs) > 50


def test_schema_catches_what_declarations_state() -> None:
    base = "nc: 3\nbackbone:\n  - [-1, 1, {row}]\n"
    assert _errors("yolov5", base.format(row="Conv, [16, 3, 2]")) == []
    assert any("'Cnv' is not one of" in m for m in _errors("yolov5", base.format(row="Cnv, [16, 3, 2]")))
    assert any("is too long" in m for m in _errors("yolov5", base.format(row="Conv, [16, 3, 2, 1, 1, 1, True, 9]")))  # 7 arguments at most
    assert any("0 is less than the minimum of 1" in m for m in _errors("yolov5", base.format(row="Conv, [16, 0, 2]")))  # kernel >= 1
    assert any("should be non-empty" in m for m in _errors("yolov5", base.format(row="Conv, []")))  # c2 has no default
    assert _errors("yolov5", base.format(row="Conv, [nc, 3, 2]")) == []  # an expression is left to yamlnet
    assert any("'C3k2' is not one of" in m for m in _errors("yolov5", base.format(row="C3k2, [64]")))
    assert _errors("ultralytics", base.format(row="C3k2, [64]")) == []
    mapping = "nc: 3\nbackbone:\n  - {name: stem, from: -1, module: Conv, args: [16, 3, 2], extra: 1}\n"
    assert any("'extra' was unexpected" in m for m in _errors("yolov5", mapping))
    assert any("-1 is less than the minimum of 1" in m for m in _errors("yolov5", "nc: -1\nbackbone: []\n"))


def test_committed_schemas_are_current() -> None:
    """Generated in a fresh process: blocks that other tests register in this one must not count."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); from yamlnet import registry; from yamlnet.schema import schema_text; "
        "print(json.dumps({d: schema_text(d) for d in registry.DIALECTS}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for dialect, text in json.loads(out.stdout).items():
        path = ROOT / "docs" / "schema" / f"model-{dialect}.schema.json"
        assert path.read_text() == text, f"regenerate with `yamlnet schema -o docs/schema` ({path.name})"
        assert json.loads(text)["title"] == f"yamlnet model spec ({registry.dialect_title(dialect)} dialect)"


def _cli(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); {prelude}from yamlnet.cli import main; sys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_lsp_without_pygls_says_how_to_install_it() -> None:
    out = _cli("lsp", prelude="sys.modules['pygls'] = None; ")
    assert out.returncode == 2
    assert "pip install 'yamlnet[lsp]'" in out.stderr and "Traceback" not in out.stderr


def test_schema_command() -> None:
    out = _cli("schema", "ultralytics")
    assert out.returncode == 0 and json.loads(out.stdout)["title"] == "yamlnet model spec (Ultralytics dialect)"
    assert "C3k2" in json.loads(out.stdout)["definitions"]["module"]["enum"]
    none = _cli("schema")
    assert none.returncode == 2 and "pass -o DIR" in none.stderr


def test_pre_commit_hook_runs_validate() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [(h["id"], h["language"]) for h in hooks] == [("yamlnet-validate", "python"), ("yamlnet-validate-system", "system")]
    hook = hooks[0]
    assert all(h["entry"] == "yamlnet validate --static" for h in hooks)
    assert re.search(hook["files"], "models/my-yolo.yaml") and not re.search(hook["files"], ".github/workflows/ci.yaml")
    out = _cli(*hook["entry"].split()[1:], str(SPECS / "yolov5s.yaml"))
    assert out.returncode == 0, out.stderr
