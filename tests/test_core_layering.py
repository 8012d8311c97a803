"""Issue 8: blocks own their knowledge. The compiler (yamlnet/) decides nothing by a block's name: rules that
depend on a block (selection rows, group and attention rules, anchors, strides, fusion, text inputs, header
values a block implies) are hooks of its declaration in blocks/. Prose may name blocks as examples (help
texts, the diagnostics catalog's bad specs); code may not compare with them."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

from yamlnet import registry

CORE = ROOT / "yamlnet"
EXAMPLES = {CORE / "catalog.py"}  # bad-spec examples are YAML text


def _block_names() -> set[str]:
    return {d.name for d in registry.declarations() if d.impl.startswith("blocks.")}


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_no_block_name_is_a_string_in_the_compiler() -> None:
    names = _block_names()
    assert {"Conv", "Index", "Detect", "C3k2", "EMO_1M", "TimmBackbone"} <= names  # the registry is loaded
    found = []
    for path in sorted(CORE.rglob("*.py")):
        if path in EXAMPLES:
            continue
        for line, text in _code_strings(path):
            if text in names:
                found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert not found, "the compiler decides by block name; make it a declaration hook:\n" + "\n".join(found)


def test_the_compiler_imports_nothing_from_blocks_at_import_time() -> None:
    """DESIGN: yamlnet/ imports nothing from blocks/ at import time (the registry loads the declarations lazily)."""
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "blocks":
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "blocks" for a in node.names):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} imports blocks")
