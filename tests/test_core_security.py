"""DESIGN decision 1 (fixed): nothing from a spec is ever executed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

import yamlnet

SOURCES = sorted(p for d in ("yamlnet", "blocks") for p in (ROOT / d).rglob("*.py"))


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return ""


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_execution_primitives(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    bad = []
    for call in _calls(tree):
        name = _name(call.func)
        kwargs = {k.arg: k.value for k in call.keywords}
        if name in ("eval", "exec", "compile", "__import__", "ast.literal_eval", "literal_eval"):
            bad.append(name)
        if name.endswith("yaml.load") or name in ("yaml.unsafe_load", "yaml.full_load", "pickle.load", "pickle.loads", "marshal.loads"):
            bad.append(name)
        if name == "torch.load":
            w = kwargs.get("weights_only")
            if not (isinstance(w, ast.Constant) and w.value is True):
                bad.append("torch.load without weights_only=True")
        if name in ("importlib.import_module", "import_module") and path.name not in ("registry.py",):
            bad.append(name)
    assert not bad, f"{path}: {bad}"


def test_registry_imports_only_registered_implementations() -> None:
    """The one import_module call takes names from declarations, never from a spec."""
    text = (ROOT / "yamlnet" / "registry.py").read_text()
    assert text.count("import_module(") == 2  # blocks.<pkg>.decl discovery and load_impl(decl)


HOSTILE = {
    "module": "backbone:\n  - [-1, 1, \"__import__('os').system('touch {m}')\", []]\n",
    "args": "backbone:\n  - [-1, 1, Conv, [\"__import__('os').system('touch {m}')\", 3]]\n",
    "nc": "nc: \"__import__('os').system('touch {m}')\"\nbackbone:\n  - [-1, 1, Conv, [nc, 3]]\n",
    "activation": "activation: \"__import__('os').system('touch {m}')\"\nbackbone:\n  - [-1, 1, Conv, [16, 3]]\n",
    "python_tag": "nc: !!python/object/apply:os.system ['touch {m}']\nbackbone:\n  - [-1, 1, Conv, [16, 3]]\n",
    "from": "backbone:\n  - [\"__import__('os').system('touch {m}')\", 1, Conv, [16, 3]]\n",
}


@pytest.mark.parametrize("field", sorted(HOSTILE))
def test_code_in_a_spec_is_diagnosed_and_never_runs(field: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    spec = tmp_path / "hostile.yaml"
    spec.write_text(HOSTILE[field].format(m=marker))
    report = yamlnet.validate(spec)
    assert not report.ok
    assert {d.code for d in report.errors} & {"YN501", "YN502"}, [d.code for d in report.diagnostics]
    with pytest.raises(yamlnet.SpecError):
        yamlnet.build(spec)
    assert not marker.exists()
