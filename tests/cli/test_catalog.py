"""The diagnostic catalog (yamlnet/catalog.py): every code the sources emit has an entry with its severity,
entries are complete and in their ranges, the catalog is pure data, and every fix a catalog example's
diagnostic carries, applied, makes that diagnostic go away."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROOT
from diagnostic_cases import CASES, EXTRA, FILE, Case, run_case

from yamlnet.catalog import CATALOG
from yamlnet.fix import apply_fixes, fix_text

CODE = re.compile(r"YN\d{3}")
RANGES = {"1": "spec", "2": "references", "3": "channels", "4": "strides/sizes", "5": "limits/security", "9": "internal"}


def _sources() -> list[Path]:
    """Every module that may emit a diagnostic (the catalog itself names codes as data)."""
    return sorted(
        p for p in [*(ROOT / "yamlnet").rglob("*.py"), *(ROOT / "blocks").rglob("*.py")] if p.name != "catalog.py" or p.parent.name != "yamlnet"
    )


def _emitted() -> list[tuple[str, str, str]]:
    """(code, severity, where) of every Diagnostic(...) / ExprError(...) call with a literal code."""
    out = []
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and CODE.fullmatch(first.value)):
                continue
            sev = next((k.value for k in node.keywords if k.arg == "severity"), None)
            severity = sev.value if isinstance(sev, ast.Constant) else "error" if sev is None else "?"
            out.append((first.value, severity, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return out


def test_every_emitted_code_is_in_the_catalog_with_its_severity() -> None:
    emitted = _emitted()
    assert len(emitted) > 100  # the scan finds the call sites (136 when the catalog was made)
    missing = sorted({f"{code} ({where})" for code, _, where in emitted if code not in CATALOG})
    assert not missing, f"codes without a catalog entry: {missing}"
    wrong = [f"{code} {sev} at {where}, catalog: {CATALOG[code].severities}" for code, sev, where in emitted if sev not in CATALOG[code].severities]
    assert not wrong, wrong
    # and every other mention of a code in the sources (comparisons, docstrings) names a catalog code
    mentioned = {m for p in _sources() for m in re.findall(r"\bYN\d{3}\b", p.read_text())}
    assert mentioned <= set(CATALOG), sorted(mentioned - set(CATALOG))


def test_every_catalog_code_is_emitted_somewhere() -> None:
    assert set(CATALOG) - {code for code, _, _ in _emitted()} == set()


def test_entries_are_complete_and_in_their_ranges() -> None:
    assert len(CATALOG) >= 54
    assert list(CATALOG) == sorted(CATALOG)
    for code, e in CATALOG.items():
        assert e.code == code and re.fullmatch(r"YN[1-59]\d\d", code) and code[2] in RANGES
        assert e.severity in ("error", "warning", "note") and e.other_severity in ("", "error", "warning", "note")
        assert bool(e.other_severity) == bool(e.other_when)
        assert e.title and "\n" not in e.title and len(e.title) <= 120, code
        assert e.explanation.count(". ") >= 1 and e.explanation.endswith((".", ")")), code
        x = e.example
        assert x.via in ("validate", "build") and x.kind in ("file", "bytes", "dir", "missing")
        assert bool(x.yaml) == (x.kind == "file"), code
        assert x.expect == (0, 0) or min(x.expect) >= 1


def test_titles_are_distinct() -> None:
    titles = [e.title for e in CATALOG.values()]
    assert len(titles) == len(set(titles))


def test_the_catalog_is_data_without_torch() -> None:
    code = "import sys, yamlnet.catalog as c; assert 'torch' not in sys.modules, 'torch'; print(len(c.CATALOG))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == len(CATALOG)
    text = (ROOT / "yamlnet" / "catalog.py").read_text()
    assert "import torch" not in text and "def test" not in text


# ---------------------------------------------------------------------------------------------------------
# Fixes: each fix a catalog example's diagnostic carries, applied, makes that diagnostic go away.


def _at(diags: list, case: Case) -> list:
    return [d for d in diags if d.code == case.code and (d.span.line, d.span.column) == case.expect]


# The codes whose catalog examples carry fixes (test_fix_coverage: a fix added or lost shows here).
WITH_FIXES = {
    "YN101", "YN105", "YN109", "YN111", "YN113", "YN114", "YN116", "YN120", "YN121", "YN122", "YN125", "YN135", "YN209", "YN301", "YN406", "YN407",
}
FIXED = [c for c in CASES + EXTRA if c.code in WITH_FIXES and c.kind == "file"]


def _rerun(case: Case, text: str, folder: Path) -> list:
    (folder / FILE).unlink()
    diags, _ = run_case(replace(case, yaml=text), folder)
    return diags


@pytest.mark.parametrize("case", FIXED, ids=[f"{c.code}-{i}" for i, c in enumerate(FIXED)])
def test_each_fix_applied_makes_its_diagnostic_go_away(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    diags, _ = run_case(case, tmp_path)
    [d] = _at(diags, case)[:1]
    assert d.fixes, f"{case.code}: the example's diagnostic carries no fix"
    before = sum(1 for x in diags if x.code == case.code)
    for f in d.fixes:  # each fix alone, safe or unsafe
        text, applied = apply_fixes(case.yaml, [replace(d, fixes=(f,))], unsafe=True)
        assert applied and text != case.yaml, f"{case.code}: fix {f.title!r} changes nothing"
        after = _rerun(case, text, tmp_path)
        assert not _at(after, case), f"{case.code} still reported after {f.title!r}:\n{text}"
        assert sum(1 for x in after if x.code == case.code) < before, f"{case.code} moved elsewhere after {f.title!r}:\n{text}"
    # and as `yamlnet fix` applies them: the safe fixes, or with --unsafe-fixes the unsafe ones as well
    unsafe = all(f.applicability == "unsafe" for f in d.fixes)
    result = fix_text(case.yaml, FILE, unsafe=unsafe)
    assert result.fixed != case.yaml
    assert not [x for x in _rerun(case, result.fixed, tmp_path) if x.code == case.code]


def test_fix_coverage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly the examples of WITH_FIXES carry fixes; the others' diagnostics carry none."""
    monkeypatch.chdir(tmp_path)
    have = set()
    for case in CASES:
        diags, _ = run_case(case, tmp_path)
        for p in tmp_path.iterdir():
            p.rmdir() if p.is_dir() else p.unlink()
        [d] = _at(diags, case)[:1]
        if d.fixes:
            have.add(case.code)
    assert have == WITH_FIXES
