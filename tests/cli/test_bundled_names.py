"""A bare name such as `yolo11n.yaml` reads yamlnet's bundled spec when no file of that name is here (as the
ultralytics package resolves its own names), in the API and the CLI alike; a file here always wins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import yamlnet

ROOT = Path(__file__).resolve().parents[2]


def test_api_reads_bundled_names_and_a_file_here_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = yamlnet.load_spec("yolo11s.yaml")
    assert spec.scale == "s" and spec.dialect == "ultralytics"
    report = yamlnet.validate("yolov5s.yaml", imgsz=640)
    assert report.ok, report.render()
    (tmp_path / "yolov5s.yaml").write_text((ROOT / "specs" / "yolov5s.yaml").read_text().replace("nc: 80", "nc: 7"))
    assert yamlnet.load_spec("yolov5s.yaml").nc == 7
    with pytest.raises(yamlnet.SpecError) as e:
        yamlnet.load_spec("yolov99s.yaml")
    [d] = e.value.diagnostics
    assert d.code == "YN510" and "yolov5s.yaml" in d.notes[0] and d.help


def test_cli_builds_a_bundled_name(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "yamlnet", "build", "yolo11n.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    assert "2,624,080 parameters" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "yamlnet", "validate", "--static", "nosuch.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 1 and "YN510" in r.stderr and "bundled specs:" in r.stderr
