"""Validation (issue 4): strides, sizes, groups, numbers, the meta-device shape pass, the CLI's output and
exit codes, `--static` without torch, and no weight memory for yolov5x6."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, SPECS
from torch import nn

import yamlnet
from yamlnet.registry import FILL_C1, Arg, out_arg
from yamlnet.spec.limits import DEFAULT_LIMITS, Limits

FIXTURES = ROOT / "tests" / "fixtures"
MOBILEVIT = FIXTURES / "mobilevit_seed.yaml"
EFFICIENTVIT = FIXTURES / "efficientvit_seed.yaml"


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yamlnet.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def codes(report: yamlnet.Report) -> list[str]:
    return [d.code for d in report.diagnostics]


# --- strides ------------------------------------------------------------------------------------------------


def test_design_example_concat_of_stride_8_and_16_names_the_tap(tmp_path: Path) -> None:
    """DESIGN.md: the seed EfficientViT spec with `[-1, 3]` (P4) where the upsample gives stride 8."""
    text = EFFICIENTVIT.read_text().replace("[[-1, 2], 1, Concat, [1]]", "[[-1, 3], 1, Concat, [1]]")
    spec = tmp_path / "evit.yaml"
    spec.write_text(text)
    report = yamlnet.validate(spec, static=True)
    [d] = report.errors
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "# 12 cat backbone P3" in t)
    assert (d.code, d.span.line, d.span.column) == ("YN402", line, text.splitlines()[line - 1].index("[-1, 3]") + 1)
    assert d.span.end_column == d.span.column + len("[-1, 3]")  # the caret covers the row's `from`
    assert "layer 11 (nn.Upsample) has stride 8" in d.label and "input 3 (EfficientViT_M0.P4) has stride 16" in d.label
    assert "take tap 2 (P3, stride 8) instead" in d.help
    assert yamlnet.validate(EFFICIENTVIT, static=True).ok  # the seed's own `[-1, 2]` is right


def test_strided_and_upsampling_layers_change_the_stride_as_declared() -> None:
    spec = """
nc: 3
backbone:
  - [-1, 1, Focus, [16, 3]]                    # 0: /2
  - [-1, 1, Conv, [32, 3, 2]]                  # 1: /4
  - [-1, 1, nn.MaxPool2d, [2]]                 # 2: /8 (stride = kernel_size)
  - [-1, 1, Contract, [2]]                     # 3: /16, channels x4
  - [-1, 1, Expand, [2]]                       # 4: /8, channels /4
  - [-1, 1, nn.Upsample, [None, 2, 'nearest']] # 5: /4
  - [-1, 1, nn.ConvTranspose2d, [16, 2, 2]]    # 6: /2 (as YOLOv5 writes it: [c2, k, s])
  - [-1, 1, DWConvTranspose2d, [16, 2, 2]]     # 7: /1
  - [-1, 1, nn.Upsample, [None, 2]]            # 8: 1/2
"""
    report = yamlnet.validate(spec, imgsz=64)
    assert report.ok, report.render()
    strides = [report.ir.nodes[i].out.stride for i in range(9)]
    assert strides == [2, 4, 8, 16, 8, 4, 2, 1, Fraction(1, 2)]
    assert [report.ir.nodes[i].out.channels for i in (3, 4)] == [128, 32]
    got = report.shapes["64x64"]
    assert [got[i][2] for i in range(9)] == [32, 16, 8, 4, 8, 16, 32, 64, 128]


def test_detect_takes_increasing_strides_one_anchor_set_per_level() -> None:
    ir = yamlnet.analyze(SPECS / "yolov5s.yaml").ir
    head = ir.heads()[0]
    assert head.in_strides == [8, 16, 32] and len(head.bound["anchors"]) == 3


# --- sizes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "imgsz, note",
    [("672", "size 672: the nearest sizes that work are 640 and 704"), ("352x640", "height 352: the nearest sizes that work are 320 and 384")],
)
def test_mobilevit_seed_patch_divisibility(imgsz: str, note: str) -> None:
    report = yamlnet.validate(MOBILEVIT, imgsz=imgsz, static=True)
    [d] = report.errors
    assert d.code == "YN404" and d.span.line == 21  # layer 9, the MobileViT block at stride 32 (patch 2)
    assert "layer 9 (MobileViTBlock)" in d.message and "not a multiple of 2" in d.message
    assert note in d.notes
    assert "multiple of 64" in d.help


def test_mobilevit_seed_passes_at_640_and_640x384_with_the_shape_pass() -> None:
    report = yamlnet.validate(MOBILEVIT, imgsz=[640, "640x384"])
    assert report.ok and not report.diagnostics, report.render()
    assert report.shapes["640x384"][9] == (1, 48, 20, 12)  # 96 x width 0.5 channels at stride 32
    assert report.shapes["640x640"][24] is None  # a head's output is not a feature map: only the deep pass runs it
    deep = yamlnet.validate(MOBILEVIT, imgsz=[640, "640x384"], deep=True)
    assert deep.ok and not deep.diagnostics, deep.render()
    assert deep.shapes["640x384"][9] == (1, 48, 20, 12)
    assert deep.shapes["640x640"][24][0] == (1, 3 * (80 * 80 + 40 * 40 + 20 * 20), 6)
    for size, rows in report.shapes.items():  # the declarations give what running every block gives
        assert {p: s for p, s in rows.items() if s is not None} == {p: s for p, s in deep.shapes[size].items() if p in rows and rows[p] is not None}


def test_join_sizes_that_drift_apart_at_odd_input_sizes() -> None:
    report = yamlnet.validate(SPECS / "yolov5s.yaml", imgsz=100, static=True)
    [d] = report.errors
    assert d.code == "YN404" and "the inputs of layer 12 (Concat) arrive with different sizes" in d.message
    text = (SPECS / "yolov5s.yaml").read_text().splitlines()
    assert text[d.span.line - 1][d.span.column - 1 :].startswith("[-1, 6]")
    assert "size 100: the nearest sizes that work are 96 and 128" in d.notes
    assert yamlnet.validate(SPECS / "yolov5s.yaml", imgsz=[640, "640x384", 320]).ok


def test_imgsz_outside_limits() -> None:
    assert "YN507" in codes(yamlnet.validate(SPECS / "yolov5s.yaml", imgsz=100_000, static=True))


# --- groups and heads, numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, ok",
    [
        ("[-1, 1, Conv, [64, 3, 1, None, 16]]", True),  # 32 -> 64 in 16 groups
        ("[-1, 1, Conv, [64, 3, 1, None, 3]]", False),  # 3 divides neither
        ("[-1, 1, GhostConv, [64, 3, 1, 32]]", True),  # 32 and 64 / 2
        ("[-1, 1, Focus, [128, 3, 1, None, 128]]", True),  # 4 x 32 = 128 after space-to-depth
        ("[-1, 1, C3, [64, True, 32]]", True),  # hidden 32
        ("[-1, 1, C3, [64, True, 64]]", False),  # hidden 32
        ("[-1, 1, C3TR, [64]]", True),  # 4 heads, hidden 32
        ("[-1, 1, C3TR, [64, True, 1, 0.3]]", False),  # hidden 19
        ("[-1, 1, nn.Conv2d, [32, 64, 3, 1, 1, 1, 32]]", True),
        ("[-1, 1, nn.Conv2d, [32, 48, 3, 1, 1, 1, 64]]", False),
    ],
)
def test_groups_and_heads_must_divide_channels(row: str, ok: bool) -> None:
    spec = f"nc: 3\nbackbone:\n  - [-1, 1, Conv, [32, 3, 2]]\n  - {row}\n"
    report = yamlnet.validate(spec, imgsz=64, static=not ok)
    assert report.ok == ok, report.render()
    if not ok:
        assert codes(report) == ["YN303"] and report.errors[0].span.line == 4


@pytest.mark.parametrize(
    "header",
    [
        "nc: 0",
        "nc: -3",
        "nc: 2.5",
        "nc: true",
        "depth_multiple: 0",
        "depth_multiple: -0.5",
        "depth_multiple: .nan",
        "width_multiple: .inf",
        "width_multiple: 0",
        "anchors: [[10, 13, 16]]",
        "anchors: [[10, -13]]",
        "anchors: [[]]",
        "anchors: [[10, 13], [10, 13, 16, 30]]",
        "anchors: 0",
        "anchors: [[10, .nan]]",
        "ch: 0",
    ],
)
def test_numbers_in_the_header(header: str) -> None:
    report = yamlnet.validate(f"{header}\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", static=True)
    assert codes(report) == ["YN104"] and report.errors[0].span.line == 1, report.render()


@pytest.mark.parametrize(
    "args, code",
    [("[nc, [[10, 13, 16]]]", "YN302"), ("[nc, [[10, 13], [10, 13, 16, 30]]]", "YN302"), ("[0, anchors]", "YN117"), ("[nc, [[10, 13]]]", "YN302")],
)
def test_detect_arguments(args: str, code: str) -> None:
    spec = (
        "nc: 3\nanchors: [[10, 13], [30, 61]]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n"
        f"head:\n  - [[0, 1], 1, Detect, {args}]\n"
    )
    report = yamlnet.validate(spec, static=True)
    assert codes(report) == [code] and report.errors[0].span.line == 7, report.render()


def test_repeats_and_parameters_have_limits_a_flag_can_raise() -> None:
    spec = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 2000, Conv, [16, 3, 1]]\n"
    assert codes(yamlnet.validate(spec, static=True)) == ["YN507"]
    big = Limits(repeats=5000)
    assert yamlnet.validate(spec, static=True, limits=big).ok
    small = Limits(params=1_000_000)
    # issue 14: validate applies build's limit too, from the declared counts (nothing built), static or not
    for kw in ({"static": True}, {}, {"deep": True}):
        [d] = yamlnet.validate(SPECS / "yolov5s.yaml", limits=small, **kw).errors
        assert d.code == "YN507" and "has 7,235,389 parameters" in d.message, kw
    with pytest.raises(yamlnet.SpecError) as e:
        yamlnet.build(SPECS / "yolov5s.yaml", limits=small)
    assert [x.code for x in e.value.diagnostics] == ["YN507"]
    assert yamlnet.validate(SPECS / "yolov5s.yaml").ok


# --- the shape pass -------------------------------------------------------------------------------------------


@yamlnet.block(name="FailsToBuild", args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int")), out_channels=out_arg("c2"))
class FailsToBuild(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        raise ValueError(f"c2={c2} is not supported")


@yamlnet.block(name="FailsToRun", args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int")), out_channels=out_arg("c2"))
class FailsToRun(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.c2 = c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise IndexError("list index out of range")


@yamlnet.block(name="HalvesSecretly", args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int")), out_channels=out_arg("c2"))
class HalvesSecretly(nn.Module):
    """Declared with stride 1 (the default) but downsamples by 2."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_construction_errors_become_diagnostics_on_every_failing_row() -> None:
    spec = "nc: 3\nbackbone:\n  - [-1, 1, FailsToBuild, [8]]\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, FailsToBuild, [4]]\n"
    report = yamlnet.validate(spec, imgsz=64)
    assert [(d.code, d.span.line) for d in report.errors] == [("YN405", 3), ("YN405", 5)]
    assert "ValueError: c2=8 is not supported" in report.errors[0].message
    with pytest.raises(yamlnet.SpecError) as e:
        yamlnet.build(spec)
    assert [d.code for d in e.value.diagnostics] == ["YN405", "YN405"]


def test_a_forward_error_is_a_diagnostic_on_the_row() -> None:
    report = yamlnet.validate("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, FailsToRun, [8]]\n", imgsz=64)
    [d] = report.errors
    assert (d.code, d.span.line) == ("YN405", 4) and "IndexError: list index out of range" in d.message


def test_a_stride_the_declaration_does_not_state_is_reported() -> None:
    report = yamlnet.validate("nc: 3\nbackbone:\n  - [-1, 1, HalvesSecretly, [8]]\n", imgsz=64)
    [d] = report.errors
    assert d.code == "YN306" and "stride 1" in d.message and "64 rows into 32" in d.message


SHAPE_SPECS = ["yolov5s.yaml", "yolov5n6.yaml", "yolov5-efficientvit-taps.yaml"]


@pytest.mark.parametrize("path", [SPECS / n for n in SHAPE_SPECS] + [MOBILEVIT, EFFICIENTVIT], ids=lambda p: p.name)
def test_shape_pass_agrees_with_the_compiled_graph_on_meta(path: Path) -> None:
    """The shape pass takes shortcuts (shape functions instead of meta kernels); the compiled fx graph run on
    meta tensors must give the same output shape for every row."""
    from yamlnet.compile.shapes import shape_pass

    report = yamlnet.analyze(path)
    assert report.ok
    hw = (320, 256)
    fast, diags = shape_pass(report.ir, hw)
    assert not diags
    model = yamlnet.build(path, device="meta").eval()
    seen: dict[int, Any] = {}
    for pos, node in report.ir.nodes.items():
        if node.decl.name != "Index":
            model.get_submodule(f"model.{pos}").register_forward_hook(lambda m, i, o, pos=pos: seen.__setitem__(pos, _shapes(o)))
    with torch.no_grad():
        model(torch.empty(1, 3, *hw, device="meta"))
    assert {p: fast[p] for p in seen} == seen


def _shapes(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return tuple(o.shape)
    return [_shapes(x) for x in o]


# --- the CLI ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("specs")
    files = {
        "error": "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, C33, [32]]\n",
        "warning": "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-2, 1, Conv, [64, 3, 2]]\n",
        "ok": "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
    }
    out = {}
    for k, v in files.items():
        out[k] = d / f"{k}.yaml"
        out[k].write_text(v)
    return out


def test_cli_json_has_the_fields_and_exit_codes(bad_files: dict[str, Path]) -> None:
    r = run_cli("validate", "--static", str(bad_files["error"]), "--format", "json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    [f] = json.loads(r.stdout)["files"]
    [d] = f["diagnostics"]
    assert {"code", "severity", "message", "line", "column", "help"} <= set(d)
    assert (d["code"], d["severity"], d["line"], d["column"]) == ("YN105", "error", 4, 13)
    r = run_cli("validate", "--static", str(bad_files["ok"]), "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["files"][0]["diagnostics"] == []


def test_cli_warnings_fail_only_with_strict(bad_files: dict[str, Path]) -> None:
    r = run_cli("validate", "--static", str(bad_files["warning"]))
    assert r.returncode == 0 and "warning[YN206]" in r.stderr and "ok (0 errors, 1 warning)" in r.stdout
    r = run_cli("validate", "--static", "--strict", str(bad_files["warning"]))
    assert r.returncode == 1 and "FAILED" in r.stdout


def test_cli_many_files_in_parallel_with_a_summary(bad_files: dict[str, Path]) -> None:
    folder = bad_files["ok"].parent
    r = run_cli("validate", "--static", "-j", "2", str(folder), "--format", "json")
    assert r.returncode == 1
    got = {Path(x["file"]).stem: (x["ok"], x["errors"], x["warnings"]) for x in json.loads(r.stdout)["files"]}
    assert got == {"error": (False, 1, 0), "warning": (True, 0, 1), "ok": (True, 0, 0)}
    r = run_cli("validate", "--static", str(folder))
    assert r.returncode == 1
    assert r.stdout.strip().splitlines()[-1] == "3 files: 2 ok, 1 failed (1 errors, 1 warnings)"
    assert "\x1b[" not in r.stderr + r.stdout  # not a terminal: no colour


def test_cli_pool_prints_what_one_process_prints(bad_files: dict[str, Path], tmp_path: Path) -> None:
    """From 64 files --static uses the process pool, whose workers render their files' diagnostics (quoting the
    source lines): the text must be the one a single process prints, file by file in order."""
    folder = tmp_path / "many"
    folder.mkdir()
    kinds = sorted(bad_files)
    for i in range(70):
        k = kinds[i % len(kinds)]
        (folder / f"{i:03d}-{k}.yaml").write_text(bad_files[k].read_text() + f"# copy {i}\n")
    pool, serial = run_cli("validate", "--static", str(folder)), run_cli("validate", "--static", "-j", "1", str(folder))
    assert pool.returncode == serial.returncode == 1
    assert pool.stdout == serial.stdout and pool.stderr == serial.stderr
    assert pool.stdout.strip().splitlines()[-1] == "70 files: 46 ok, 24 failed (24 errors, 23 warnings)"
    assert pool.stderr.count("error[YN105]") == 24 and " 4 |   - [-1, 1, C33, [32]]" in pool.stderr  # the line is quoted


def test_cli_usage_errors_exit_2(bad_files: dict[str, Path]) -> None:
    for args in (
        ["validate"],
        ["validate", str(bad_files["ok"]), "--imgsz", "0"],
        ["validate", str(bad_files["ok"]), "--max-rows", "-1"],
        ["validate", str(bad_files["ok"]), "--format", "xml"],
        ["validate", str(bad_files["ok"]), "-j", "x"],
    ):
        r = run_cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_cli_colour_only_on_a_terminal(bad_files: dict[str, Path]) -> None:
    import pty

    def on_tty(env: dict[str, str]) -> str:
        out = []
        pid, fd = pty.fork()
        if pid == 0:  # the child: stdout and stderr are the terminal
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "yamlnet.cli", "validate", "--static", str(bad_files["error"])], {**os.environ, **env})
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out.append(chunk)
        os.waitpid(pid, 0)
        return b"".join(out).decode()

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[1;31merror[YN105]" in on_tty({**env, "TERM": "xterm"})
    assert "\x1b[" not in on_tty({"NO_COLOR": "1"})


# --- static validation and memory -------------------------------------------------------------------------------


def test_static_validation_never_imports_torch() -> None:
    code = "import sys; from yamlnet.cli import main; rc = main(['validate', '--static', 'specs/yolov5s.yaml']); print(rc, 'torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    rc, torch_loaded = r.stdout.split()[-2:]
    assert (rc, torch_loaded) == ("0", "False"), r.stdout + r.stderr


def _peak_rss_mb(code: str) -> float:
    r = subprocess.run(
        [sys.executable, "-c", code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1]) / 1024  # Linux reports kB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in kB on Linux")
def test_validating_yolov5x6_allocates_no_weight_memory() -> None:
    """yolov5x6 has 140.7M parameters (563 MB in float32); the full validation stays within 50 MB of torch."""
    base = _peak_rss_mb("import torch")
    used = _peak_rss_mb("import torch, yamlnet\nr = yamlnet.validate('specs/yolov5x6.yaml', imgsz=[640, '640x384'])\nassert r.ok, r.render()")
    assert used - base < 50, (base, used)


def test_limits_default() -> None:
    assert DEFAULT_LIMITS.params == 2_000_000_000 and DEFAULT_LIMITS.channels == 65_536
