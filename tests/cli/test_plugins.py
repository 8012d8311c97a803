"""User blocks from the CLI: a plugin file with CBAM, SE and a repeated strided block (tests/fixtures/plugins)
validates, builds, renders and exports with --plugin or [tool.yamlnet] plugins; the entry-point route; errors
that say what went wrong; @yamlnet.yolov5_block's declaration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import ROOT

import yamlnet
from yamlnet import plugins, registry
from yamlnet.cli import main

FIXTURES = ROOT / "tests" / "fixtures" / "plugins"
PLUGIN = FIXTURES / "my_blocks.py"
SPEC = FIXTURES / "cbam-yolo.yaml"
PARAMS = 1_532_622  # cbam-yolo.yaml at nc=3
OUR_MODULES = ("my_blocks", "user_blocks_mod", "broken_blocks", "clash_blocks")


def _forget() -> None:
    for name in OUR_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Each test starts and ends with the built-in blocks only (plugins register into a process-wide table)."""
    registry.names()
    before = dict(registry._DECLS)
    loaded = plugins.loaded()
    _forget()
    yield
    registry._DECLS.clear()
    registry._DECLS.update(before)
    plugins._LOADED[:] = loaded
    _forget()


def test_yolov5_block_declares_filled_c1_scaled_c2_and_repeats() -> None:
    plugins.load_plugin(str(PLUGIN))
    cbam = registry.lookup("CBAM")
    assert cbam is not None and cbam.impl == "my_blocks:CBAM"
    assert [(a.name, a.type, a.fill, a.width) for a in cbam.args] == [
        ("c1", "int", "c1", False),
        ("c2", "int", None, True),
        ("ratio", "int", None, False),
        ("kernel_size", "int", None, False),
    ]
    assert [a.name for a in cbam.yaml_args()] == ["c2", "ratio", "kernel_size"] and cbam.repeat == "sequential"
    down = registry.lookup("DownC3")
    assert down is not None and down.repeat == "arg" and [a.name for a in down.yaml_args()] == ["c2", "s"]
    assert down.stride_of({"s": 2}) == 2 and registry.lookup("SE").stride_of({}) == 1
    model = yamlnet.build(SPEC)
    assert sum(p.numel() for p in model.parameters()) == PARAMS
    assert type(model.model[7]).__name__ == "CBAM" and model.model[7].channel.mlp[0].in_channels == 256  # 1024 * 0.25
    assert type(model.model[3]).__name__ == "SE" and model.model[3].fc[0].in_channels == 64
    assert len(model.model[2].m) == 2  # number 6 * depth 0.33 -> n = 2, passed to the constructor
    assert model(torch.rand(1, 3, 64, 64))[0].shape == (1, 3, 8, 8, 8)


def test_yolov5_block_refuses_a_constructor_without_channels() -> None:
    with pytest.raises(TypeError, match=r"\(c1, c2, \.\.\.\)"):

        @yamlnet.yolov5_block
        class Lonely(torch.nn.Module):
            def __init__(self, c1: int) -> None:
                super().__init__()


def test_without_the_plugin_the_blocks_are_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SPEC), "--static"]) == 1
    err = capsys.readouterr().err
    assert err.count("error[YN105]") == 5 and "unknown module `CBAM`" in err


def test_cli_validates_builds_renders_with_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SPEC), "--imgsz", "128", "--plugin", str(PLUGIN)]) == 0
    assert "cbam-yolo.yaml: ok (checked at 128)" in capsys.readouterr().out
    assert main(["build", str(SPEC), "--imgsz", "128", "--plugin", str(PLUGIN)]) == 0
    out = capsys.readouterr().out
    assert f"{PARAMS:,} parameters" in out and "CBAM" in out and "DownC3" in out
    assert main(["render", str(SPEC), "-o", str(tmp_path / "cbam.svg"), "--plugin", str(PLUGIN)]) == 0
    svg = (tmp_path / "cbam.svg").read_text()
    assert svg.startswith("<?xml") or "<svg" in svg[:500]
    assert "CBAM" in svg and "DownC3" in svg
    assert main(["summary", str(SPEC), "--imgsz", "128", "--format", "json", "--plugin", str(PLUGIN)]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == PARAMS
    assert main(["blocks", "CBAM", "--plugin", str(PLUGIN)]) == 0
    assert capsys.readouterr().out.startswith("CBAM[c2, ratio=16, kernel_size=7]")


def _project(root: Path, plugins_line: str = 'plugins = ["blocks/my_blocks.py"]') -> Path:
    (root / "blocks").mkdir(parents=True)
    (root / "specs").mkdir()
    shutil.copy(PLUGIN, root / "blocks" / "my_blocks.py")
    shutil.copy(SPEC, root / "specs" / "cbam-yolo.yaml")
    (root / "pyproject.toml").write_text(f'[project]\nname = "mine"\n\n[tool.yamlnet]\n# user blocks\n{plugins_line}\n')
    return root / "specs" / "cbam-yolo.yaml"


def test_pyproject_plugins_load_inside_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj" / "specs")  # inside the project: its configuration applies
    assert main(["validate", "cbam-yolo.yaml", "--static"]) == 0
    assert [p.origin for p in plugins.loaded()][-1] == f"{tmp_path / 'proj' / 'pyproject.toml'}:6"
    registry._DECLS.pop((None, "CBAM"))
    _forget()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # a spec of some other folder cannot bring its code along
    assert main(["validate", str(spec), "--static"]) == 1
    err = capsys.readouterr().err
    assert "[tool.yamlnet] plugins not loaded" in err and "pyproject.toml:6" in err and "--plugin" in err


def test_pyproject_plugins_must_be_a_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path, 'plugins = "blocks/my_blocks.py"')
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(spec), "--static"]) == 2
    assert "pyproject.toml:6: [tool.yamlnet] plugins is a list" in capsys.readouterr().err


def test_a_module_name_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(PLUGIN, tmp_path / "user_blocks_mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["validate", str(SPEC), "--static", "--plugin", "user_blocks_mod"]) == 0
    assert registry.lookup("CBAM").impl == "user_blocks_mod:CBAM"


def test_plugin_errors_say_what_and_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SPEC), "--plugin", str(tmp_path / "nope.py")]) == 2
    assert "no such plugin file" in capsys.readouterr().err
    assert main(["validate", str(SPEC), "--plugin", "no_such_module_xyz"]) == 2
    assert "no module named `no_such_module_xyz`" in capsys.readouterr().err
    (tmp_path / "broken_blocks.py").write_text("import torch\n\nraise RuntimeError('boom')\n")
    assert main(["validate", str(SPEC), "--plugin", str(tmp_path / "broken_blocks.py")]) == 2
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "broken_blocks.py:3" in err and "Traceback" not in err
    (tmp_path / "clash_blocks.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            import yamlnet

            @yamlnet.yolov5_block
            class Conv(nn.Module):
                def __init__(self, c1, c2):
                    super().__init__()
            """
        )
    )
    assert main(["validate", str(SPEC), "--plugin", str(tmp_path / "clash_blocks.py")]) == 2
    assert "block 'Conv' is already registered" in capsys.readouterr().err


def test_parallel_validation_with_a_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a.yaml", "b.yaml"):
        shutil.copy(SPEC, tmp_path / name)
    assert main(["validate", str(tmp_path), "--static", "-j", "2", "--plugin", str(PLUGIN)]) == 0
    assert "2 files: 2 ok, 0 failed" in capsys.readouterr().out


def _env(*paths: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*(str(p) for p in paths), str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_entry_point_route(tmp_path: Path) -> None:
    """An installed package declares `[project.entry-points."yamlnet.blocks"]`; no --plugin needed."""
    site = tmp_path / "site"
    dist = site / "my_blocks_pkg-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-blocks-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[yamlnet.blocks]\nmy_blocks = my_blocks\n")
    shutil.copy(PLUGIN, site / "my_blocks.py")
    cmd = [sys.executable, "-m", "yamlnet.cli", "validate", str(SPEC), "--static"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(site), cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cbam-yolo.yaml: ok" in out.stdout


RELOAD = r"""
import sys, torch
m = torch.load(sys.argv[1], weights_only=False)  # unpickling imports my_blocks, which registers its blocks
print(type(m.model[7]).__module__, type(m.model[7]).__name__, sum(p.numel() for p in m.parameters()))
"""


def test_checkpoint_with_plugin_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins.load_plugin(str(PLUGIN))
    model = yamlnet.build(SPEC).eval()
    torch.save(model, tmp_path / "m.pt")
    torch.save({"model": model, "ema": None}, tmp_path / "best.pt")
    out = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path / "m.pt")], capture_output=True, text=True, env=_env(FIXTURES), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["my_blocks", "CBAM", str(PARAMS)]
    for name in ("CBAM", "SE", "DownC3"):
        registry._DECLS.pop((None, name))
    _forget()  # a fresh start: the plugin is not loaded
    argv = ["export", str(SPEC), "--weights", str(tmp_path / "best.pt"), "-o", str(tmp_path / "m.onnx"), "--imgsz", "64"]
    assert main(argv) == 2
    assert "--plugin" in capsys.readouterr().err  # weights_only=True refuses classes of a plugin not loaded
    assert main([*argv, "--plugin", str(PLUGIN)]) == 0
    assert "1 output: [1, 252, 8]" in capsys.readouterr().out


def test_worker_processes_load_the_same_plugins() -> None:
    """Workers started with spawn (the default from Python 3.14 on is forkserver) inherit nothing."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    plugins.load_plugin(str(PLUGIN))
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"), **plugins.pool_options()) as ex:
        names = ex.submit(registry.names).result(timeout=300)
    assert {"CBAM", "SE", "DownC3"} <= set(names)
