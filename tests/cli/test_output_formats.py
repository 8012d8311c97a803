"""One JSON schema for validate (one file or many), build and summary; SARIF 2.1.0 and GitHub annotations."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from yamlnet import output
from yamlnet.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "schema" / "yamlnet-output.schema.json"
YOLOV5S = ROOT / "specs" / "yolov5s.yaml"
# yolov5s with row 12 joining row 4 (stride 8) instead of row 6 (stride 16): YN402 at 30:6
BAD_JOIN = ("[[-1, 6], 1, Concat, [1]],                     # 12", "[[-1, 4], 1, Concat, [1]],                     # 12")


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


@pytest.fixture
def bad_join(tmp_path: Path) -> Path:
    text = YOLOV5S.read_text()
    assert BAD_JOIN[0] in text
    p = tmp_path / "bad_join.yaml"
    p.write_text(text.replace(*BAD_JOIN))
    return p


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    return rc, capsys.readouterr().out


def _check(doc: dict, schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    output.parse(doc)  # and the pydantic models read it back


def test_schema_file_is_current() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == output.json_schema(), (
        "regenerate: python -m yamlnet.output > docs/schema/yamlnet-output.schema.json"
    )
    assert output.json_schema()["title"] == "yamlnet-output 1.0"


def test_validate_json_one_file_and_many_have_one_shape(capsys: pytest.CaptureFixture[str], bad_join: Path, schema: dict) -> None:
    rc, text = _run(capsys, "validate", "--static", str(bad_join), "--format", "json")
    one = json.loads(text)
    _check(one, schema)
    assert rc == 1 and one["command"] == "validate" and one["schema_version"] == "1.0" and not one["ok"]
    [f] = one["files"]
    [d] = f["diagnostics"]
    assert (d["code"], d["severity"], d["line"], d["column"], d["end_line"], d["end_column"]) == ("YN402", "error", 30, 6, 30, 13)
    assert d["help"] == "take layer 6 (stride 16) instead, or upsample by 2 in layer 11"
    rc, text = _run(capsys, "validate", "--static", "-j", "1", str(bad_join), str(YOLOV5S), "--format", "json")
    many = json.loads(text)
    _check(many, schema)
    assert rc == 1 and [(Path(f["file"]).name, f["ok"], f["errors"]) for f in many["files"]] == [
        ("bad_join.yaml", False, 1),
        ("yolov5s.yaml", True, 0),
    ]
    assert many["totals"] == {"files": 2, "ok": 1, "failed": 1, "errors": 1, "warnings": 0}
    assert set(one) == set(many) and set(one["files"][0]) == set(many["files"][1])


def test_build_json_with_errors_prints_the_diagnostics(capsys: pytest.CaptureFixture[str], bad_join: Path, schema: dict) -> None:
    rc, text = _run(capsys, "build", str(bad_join), "--format", "json")
    doc = json.loads(text)
    _check(doc, schema)
    assert rc == 1 and doc["command"] == "build" and doc["ok"] is False and doc["parameters"] is None
    assert [(d["code"], d["line"], d["column"]) for d in doc["diagnostics"]] == [("YN402", 30, 6)]
    assert len(doc["layers"]) == 25 and doc["layers"][12]["ok"] is False and doc["layers"][11]["channels"] == 256


def test_build_and_summary_use_the_same_fields(capsys: pytest.CaptureFixture[str], schema: dict) -> None:
    rc, text = _run(capsys, "build", str(YOLOV5S), "--format", "json")
    build = json.loads(text)
    _check(build, schema)
    rc2, text = _run(capsys, "summary", str(YOLOV5S), "--format", "json")
    summary = json.loads(text)
    _check(summary, schema)
    assert rc == rc2 == 0
    assert set(build) == set(summary) and build["parameters"] == summary["parameters"] == 7_235_389
    assert build["module_count"] == summary["module_count"] == 214 and build["stride"] == summary["stride"] == [8, 16, 32]
    for b, s in zip(build["layers"], summary["layers"], strict=True):
        assert set(b) == set(s)
        assert b | {"gflops": None} == s | {"gflops": None}, b["position"]
    row0 = build["layers"][0]
    assert (row0["index"], row0["from"], row0["module"], row0["args"], row0["output"]) == (0, [-1], "Conv", [64, 6, 2, 2], [[32, 320, 320]])
    assert summary["layers"][24]["from"] == [17, 20, 23] and summary["layers"][24]["output"][0] == [25200, 85]


def test_taps_and_seeds_numbering_in_json(capsys: pytest.CaptureFixture[str], schema: dict) -> None:
    rc, text = _run(capsys, "build", str(ROOT / "specs" / "yolov5-emo.yaml"), "--format", "json")
    doc = json.loads(text)
    _check(doc, schema)
    row0 = doc["layers"][0]
    assert row0["index"] == 0 and row0["channels"] is None
    assert [(t["name"], t["index"], t["channels"], t["stride"], t["shape"]) for t in row0["taps"]] == [
        ("P1", 0, 24, 2, [24, 320, 320]),
        ("P2", 1, 32, 4, [32, 160, 160]),
        ("P3", 2, 48, 8, [48, 80, 80]),
        ("P4", 3, 80, 16, [80, 40, 40]),
        ("P5", 4, 168, 32, [168, 20, 20]),
    ]
    assert doc["layers"][1]["index"] == 5


def test_sarif(capsys: pytest.CaptureFixture[str], bad_join: Path) -> None:
    rc, text = _run(capsys, "validate", "--static", str(bad_join), "--format", "sarif")
    sarif = json.loads(text)
    assert rc == 1 and sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    [run] = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "yamlnet" and run["tool"]["driver"]["rules"] == [{"id": "YN402", "name": "YN402"}]
    [res] = run["results"]
    assert (res["ruleId"], res["ruleIndex"], res["level"]) == ("YN402", 0, "error")
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == bad_join.as_uri()
    assert loc["region"] == {"startLine": 30, "startColumn": 6, "endLine": 30, "endColumn": 13}
    assert res["message"]["text"].startswith("Concat joins feature maps of different strides\nhelp: take layer 6")


def test_sarif_relative_paths_and_fixes() -> None:
    where = {"file": "specs/a b.yaml", "line": 4, "column": 20, "end_line": 4, "end_column": 21}
    fix = output.FixOut(title="write 3", applicability="safe", edits=[output.EditOut(**where, replacement="3")])
    d = output.DiagnosticOut(code="YN301", severity="error", message="stated channels differ", **where, fixes=[fix])
    report = output.FileReport(file="specs/a b.yaml", ok=False, errors=1, warnings=0, diagnostics=[d])
    totals = output.Totals(files=1, ok=0, failed=1, errors=1, warnings=0)
    sarif = output.to_sarif(output.ValidateOutput(ok=False, imgsz=[[640, 640]], static=True, strict=False, files=[report], totals=totals))
    [res] = sarif["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "specs/a%20b.yaml", "uriBaseId": "%SRCROOT%"}
    [change] = res["fixes"][0]["artifactChanges"]
    assert change["replacements"] == [
        {"deletedRegion": {"startLine": 4, "startColumn": 20, "endLine": 4, "endColumn": 21}, "insertedContent": {"text": "3"}}
    ]


def test_github_annotations(capsys: pytest.CaptureFixture[str], bad_join: Path) -> None:
    rc, text = _run(capsys, "validate", "--static", str(bad_join), "--format", "github")
    assert rc == 1
    [line] = text.strip().splitlines()
    assert line.startswith(
        f"::error file={bad_join},line=30,col=6,endLine=30,endColumn=13,title=YN402%3A Concat joins feature maps of different strides::"
    )
    assert line.endswith("%0Ahelp: take layer 6 (stride 16) instead, or upsample by 2 in layer 11")
    assert "\n" not in line.split("::", 2)[2]


# --- docs/output-format.md is true ------------------------------------------------------------------------------

DOC = ROOT / "docs" / "output-format.md"
DOC_TABLES = {
    "ValidateOutput": output.ValidateOutput,
    "FileReport": output.FileReport,
    "Totals": output.Totals,
    "ModelOutput": output.ModelOutput,
    "Layer": output.Layer,
    "TapOut": output.TapOut,
    "ModelOutputPort": output.ModelOutputPort,
    "Diagnostic": output.DiagnosticOut,
    "Label": output.LabelOut,
    "Fix": output.FixOut,
    "Edit": output.EditOut,
}


def _doc_sections() -> dict[str, str]:
    parts = DOC.read_text().split("\n### ")
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def _blocks(kind: str) -> list[str]:
    text = DOC.read_text()
    return [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith(kind)]


def test_doc_tables_list_every_field() -> None:
    sections = _doc_sections()
    for title, model in DOC_TABLES.items():
        rows = [line for line in sections[title].split("\n\n## ")[0].splitlines() if line.startswith("| `")]
        documented = [line.split("`")[1] for line in rows]
        fields = [f.alias or name for name, f in model.model_fields.items()]
        assert documented == fields, title


def test_doc_examples_are_real_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-yolo.yaml").write_text(YOLOV5S.read_text().replace(*BAD_JOIN))
    console = _blocks("console")
    shown = next(b for b in console if b.startswith("$ yamlnet validate --static my-yolo.yaml --format json"))
    rc, text = _run(capsys, "validate", "--static", "my-yolo.yaml", "--format", "json")
    assert rc == 1 and json.loads(shown.split("\n", 1)[1]) == json.loads(text)
    shown = next(b for b in console if b.startswith("$ yamlnet validate --static my-yolo.yaml --format github"))
    rc, text = _run(capsys, "validate", "--static", "my-yolo.yaml", "--format", "github")
    assert shown.split("\n", 1)[1].strip() == text.strip()
    [row] = _blocks("json")
    rc, text = _run(capsys, "summary", str(YOLOV5S), "--format", "json")
    assert json.loads(row) == json.loads(text)["layers"][4]
