"""Hostile input: every case gets a diagnostic from `validate` and is refused by `build` (API and CLI) --
never execution, a crash or a traceback. How long each case takes (no hang) is measured by
benchmarks/bench_hostile.py, not asserted here: wall time depends on the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

import yamlnet
from yamlnet.cli import main as cli_main

MARK = "PWNED_MARKER"  # replaced by a path in the test's folder; the file must never be created


@dataclass(frozen=True)
class Hostile:
    name: str
    codes: tuple[str, ...]  # one of these must be among the errors
    text: str = ""
    data: bytes | None = None
    kind: str = "file"  # "file", "dir", "missing", "fifo"
    static: bool = True  # False: the error comes from the deep shape pass (parameter count: build and --deep)

    def make(self, folder: Path) -> Path:
        path = folder / f"{self.name}.yaml"
        marker = str(folder / "x")
        if self.kind == "dir":
            path.mkdir()
        elif self.kind == "fifo":
            os.mkfifo(path)
        elif self.kind == "file":
            if self.data is not None:
                path.write_bytes(self.data)
            else:
                path.write_text(self.text.replace(MARK, marker))
        return path


ROW = "  - [-1, 1, Conv, [16, 3, 1]]\n"
LAUGHS = (
    "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    + "backbone:\n"
    + ROW
)
CODE = "__import__('os').system('touch PWNED_MARKER')"

CASES = [
    # size and structure
    Hostile("too_big", ("YN503",), "nc: 3\nbackbone:\n" + ROW * 40_000),
    Hostile("billion_laughs", ("YN504",), LAUGHS),
    Hostile("merge_key", ("YN504",), "base: &b {nc: 3}\nx:\n  <<: *b\nbackbone:\n" + ROW),
    Hostile("nesting_flow", ("YN505",), "nc: 3\nbackbone: " + "[" * 50_000 + "]" * 50_000 + "\n"),
    Hostile("nesting_block", ("YN505",), "backbone:\n" + "".join("  " * i + "- \n" for i in range(1, 200))),
    Hostile("rows", ("YN507",), "nc: 3\nbackbone:\n" + ROW * 2_001),
    Hostile("repeats", ("YN507",), "nc: 3\nbackbone:\n  - [-1, 1000000, Conv, [16, 3, 1]]\n"),
    Hostile("channels", ("YN304",), "nc: 3\nbackbone:\n  - [-1, 1, Conv, [100000000, 3, 1]]\n"),
    Hostile("parameters", ("YN507",), "nc: 3\nbackbone:\n  - [-1, 1, Conv, [65536, 3, 1]]\n  - [-1, 1, Conv, [65536, 3, 1]]\n", static=False),
    Hostile(
        "hidden_width",
        ("YN507",),
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, MobileViTBlock, [16, 64, 1, 3, 2, 500000000]]\n",
        static=False,
    ),
    Hostile("long_string", ("YN506",), "nc: 3\nbackbone:\n  - [-1, 1, Conv, ['" + "x" * 20_000 + "', 3]]\n"),
    # expressions
    Hostile("expr_length", ("YN506",), 'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["' + "1+" * 600 + '1", 3]]\n'),
    Hostile("power_tower", ("YN108", "YN506"), "nc: 3\nbackbone:\n  - [-1, 1, Conv, ['9**9**9', 3]]\n"),
    Hostile("string_times_power", ("YN108", "YN506"), "nc: 3\nbackbone:\n  - [-1, 1, Conv, [\"'x' * 10**9\", 3]]\n"),
    Hostile("string_times_big", ("YN506",), "nc: 3\nbackbone:\n  - [-1, 1, Conv, [\"'x' * 1000000000\", 3]]\n"),
    Hostile("list_times_big", ("YN506",), 'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["[0] * 999999999", 3]]\n'),
    Hostile("big_literal", ("YN506",), 'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["' + "9" * 900 + '", 3]]\n'),
    Hostile("big_yaml_int", ("YN506", "YN107"), "nc: 3\nbackbone:\n  - [-1, 1, Conv, [" + "9" * 5000 + ", 3]]\n"),
    Hostile("float_overflow", ("YN506",), 'nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, "1e308 * 10"]]\n'),
    Hostile("nested_expr", ("YN505", "YN506"), 'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["' + "[" * 300 + "]" * 300 + '", 3]]\n'),
    # code in any field
    Hostile("code_module", ("YN501",), f'nc: 3\nbackbone:\n  - [-1, 1, "{CODE}", [16]]\n'),
    Hostile("code_args", ("YN501",), f'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["{CODE}", 3]]\n'),
    Hostile("code_nc", ("YN501",), f'nc: "{CODE}"\nbackbone:\n' + ROW),
    Hostile("code_activation", ("YN501",), f'activation: "{CODE}"\nbackbone:\n' + ROW),
    Hostile("code_from", ("YN501",), f'nc: 3\nbackbone:\n  - ["{CODE}", 1, Conv, [16, 3]]\n'),
    Hostile("code_number", ("YN501",), f'nc: 3\nbackbone:\n  - [-1, "{CODE}", Conv, [16, 3]]\n'),
    Hostile("code_weights", ("YN501",), f'nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, ["{CODE}"]]\n'),
    Hostile("code_lambda", ("YN501",), 'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["(lambda: 16)()", 3]]\n'),
    # YAML tags
    Hostile("python_apply", ("YN502",), "nc: !!python/object/apply:os.system ['touch PWNED_MARKER']\nbackbone:\n" + ROW),
    Hostile("python_name", ("YN502",), "nc: 3\nbackbone:\n  - [-1, 1, !!python/name:os.system , [16]]\n"),
    Hostile("python_new", ("YN502",), "nc: !!python/object/new:subprocess.Popen [['touch', 'PWNED_MARKER']]\nbackbone:\n" + ROW),
    Hostile("local_tag", ("YN502",), "nc: !custom 3\nbackbone:\n" + ROW),
    # encodings and files
    Hostile("binary", ("YN508",), data=bytes(range(256)) * 4),
    Hostile("weights_file", ("YN508",), data=b"PK\x03\x04\x00\x00torch weights"),
    Hostile("latin1", ("YN508",), data="nc: 3\n# café\nbackbone:\n".encode("latin-1") + ROW.encode()),
    Hostile("control_char", ("YN508",), "nc: 3\x1b[31m\nbackbone:\n" + ROW),
    Hostile("empty", ("YN509",), ""),
    Hostile("only_comments", ("YN509",), "# nothing here\n\n"),
    Hostile("directory", ("YN510",), kind="dir"),
    Hostile("missing", ("YN510",), kind="missing"),
    Hostile("fifo", ("YN510",), kind="fifo"),
    # odd YAML
    Hostile("two_documents", ("YN101",), "nc: 3\n---\nnc: 4\n"),
    Hostile("list_key", ("YN102",), "? [a, b]\n: 1\nbackbone:\n" + ROW),
    Hostile("scalar_spec", ("YN102",), "just a string\n"),
    Hostile("undefined_alias", ("YN101",), "nc: *nope\nbackbone:\n" + ROW),
]
IDS = [c.name for c in CASES]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _errors(diags: list[yamlnet.Diagnostic]) -> set[str]:
    return {d.code for d in diags if d.severity == "error"}


@pytest.mark.parametrize("case", [c for c in CASES if not (c.kind == "fifo" and not hasattr(os, "mkfifo"))], ids=IDS)
def test_validate_and_build_refuse(case: Hostile, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    report = yamlnet.validate(path, static=case.static, deep=not case.static)
    assert not report.ok and _errors(report.diagnostics) & set(case.codes), [(d.code, d.message) for d in report.diagnostics]
    with pytest.raises(yamlnet.SpecError) as e:
        yamlnet.build(path)
    assert _errors(e.value.diagnostics) & set(case.codes), [(d.code, d.message) for d in e.value.diagnostics]
    assert not (tmp_path / "x").exists(), "nothing from the spec ran"
    text = str(e.value)  # the rendered diagnostics
    assert "Traceback" not in text and case.codes[0][:2] == "YN"


@pytest.mark.parametrize("command", ["validate", "build"])
@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.name
        in (
            "too_big",
            "billion_laughs",
            "nesting_flow",
            "code_module",
            "python_apply",
            "binary",
            "empty",
            "directory",
            "missing",
            "parameters",
            "power_tower",
        )
    ],
    ids=lambda c: c.name,
)
def test_cli_in_process(case: Hostile, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = case.make(tmp_path)
    args = [command, str(path)] + ((["--static"] if case.static else ["--deep"]) if command == "validate" else [])
    if case.kind == "dir" and command == "validate":  # `validate` takes folders of specs: an empty one is a usage error
        assert cli_main(args) == 2 and "no spec files found" in capsys.readouterr().err
        return
    assert cli_main(args) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    assert any(f"[{c}]" in out.err for c in case.codes), out.err
    assert not (tmp_path / "x").exists()


def test_cli_subprocess_validate_all_and_build_some(tmp_path: Path) -> None:
    files = [str(c.make(tmp_path)) for c in CASES if c.kind in ("file", "missing") and c.static]
    r = subprocess.run(
        [sys.executable, "-m", "yamlnet.cli", "validate", "--static", "-j", "2", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stdout.count(": FAILED") == len(files), r.stdout
    assert f"{len(files)} files: 0 ok, {len(files)} failed" in r.stdout
    assert "YN901" not in r.stderr  # every failure is a spec diagnostic, none an internal error
    for name in ("python_apply.yaml", "code_args.yaml", "billion_laughs.yaml"):
        r = subprocess.run(
            [sys.executable, "-m", "yamlnet.cli", "build", name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert r.returncode == 1 and "Traceback" not in r.stderr and "nothing built" in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()


def test_cli_usage_errors_are_exit_2_without_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    for args in (["validate", str(empty)], ["build"], ["nonsense"], ["validate", "x.yaml", "--max-file-bytes", "lots"]):
        r = subprocess.run(
            [sys.executable, "-m", "yamlnet.cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)


def test_limits_can_be_raised() -> None:
    from yamlnet.spec.limits import Limits

    text = "nc: 3\nbackbone:\n" + ROW * 30
    assert not yamlnet.validate(text, static=True, limits=Limits(rows=20)).ok
    assert yamlnet.validate(text, static=True, limits=Limits(rows=40)).ok
    assert cli_main(["validate", "--static", "--max-rows", "20", str(ROOT / "specs" / "yolov5s.yaml")]) == 1
