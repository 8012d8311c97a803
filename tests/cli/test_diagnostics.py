"""The catalog's bad spec per diagnostic code (yamlnet/catalog.py, run by tests/diagnostic_cases.py) and the
extra cases: the code, the line, the column and the severity; every code the sources can emit has a case;
docs/diagnostics.md is generated from the catalog. (tests/cli/test_catalog.py: severities, entries, fixes.)"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from diagnostic_cases import CASES, EXTRA, Case, run_case

ALL = CASES + EXTRA


def _id(case: Case) -> str:
    return f"{case.code}-{re.sub(r'[^a-z0-9]+', '-', case.title.lower())[:40].strip('-')}"


@pytest.mark.parametrize("case", ALL, ids=[_id(c) for c in ALL])
def test_case_gives_code_at_line_and_column(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    diags, _ = run_case(case, tmp_path)
    hits = [d for d in diags if d.code == case.code]
    assert hits, f"{case.code} not reported; got {[(d.code, d.message) for d in diags]}"
    first = hits[0]
    assert (first.span.line, first.span.column) == case.expect, first
    assert first.severity == case.severity
    assert first.help, "every diagnostic says how to fix it"
    if case.expect != (0, 0):
        assert first.span.file == "my-yolo.yaml"


def test_every_code_in_the_sources_has_a_case() -> None:
    emitted = set()
    for path in [*(ROOT / "yamlnet").rglob("*.py"), *(ROOT / "blocks").rglob("*.py")]:
        emitted |= set(re.findall(r"\"(YN\d{3})\"", path.read_text()))
    documented = [c.code for c in CASES]
    assert len(documented) == len(set(documented)), "one documented case per code"
    assert emitted <= set(documented), f"codes without a case: {sorted(emitted - set(documented))}"


def test_codes_are_in_their_ranges() -> None:
    ranges = {"1": "spec", "2": "references", "3": "channels", "4": "strides/sizes", "5": "limits/security", "9": "internal"}
    for c in ALL:
        assert re.fullmatch(r"YN[1-59]\d\d", c.code) and c.code[2] in ranges


def test_docs_are_generated_from_the_cases() -> None:
    import yaml

    if not yaml.__with_libyaml__:  # YAML syntax messages (YN101) are libyaml's in the generated page
        pytest.skip("PyYAML without libyaml words its syntax errors differently")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import diagnostics_doc
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    expected = diagnostics_doc.generate()
    current = (ROOT / "docs" / "diagnostics.md").read_text()
    assert current == expected, "docs/diagnostics.md is out of date: run python scripts/diagnostics_doc.py"
    for c in CASES:
        assert f"## {c.code}" in current
