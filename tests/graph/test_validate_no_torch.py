"""Issue 14, item 6: full validation (`validate`, not only `--static`) imports torch only for rows that need it:
blocks whose shapes are only known by running them (timm backbones, user blocks) or whose parameter count is only
known by building them. Every bundled spec is validated in one fresh process; torch must not be imported, except
for the specs named below, each for its stated reason (checked, so the list cannot go stale)."""

from __future__ import annotations

import subprocess
import sys

import yamlnet
from yamlnet.graph.declared import declared_params, undeclared_rows

RUN_BACKBONE = "a timm backbone: its shapes are learned by running it on the meta device"
COUNT_ROWS = "MV2Block and MobileViTBlock rows have no declared parameter count: counted on the meta device"
NEEDS_TORCH = {
    "yolov5-timm-mobilenetv3.yaml": RUN_BACKBONE,
    "yolov5-timm-resnet18.yaml": RUN_BACKBONE,
    "yolov5-mobilevit.yaml": COUNT_ROWS,
    "yolov5-mobilevit-taps.yaml": COUNT_ROWS,
    "yolov7-mobilevit.yaml": COUNT_ROWS,  # its YOLOv7 rows declare their counts; the backbone's MV2/MobileViT rows do not
}


def test_the_exceptions_are_real() -> None:
    from conftest import SPECS

    for name, why in NEEDS_TORCH.items():
        report = yamlnet.analyze(SPECS / name)
        assert report.ok and report.ir is not None, name
        if why == RUN_BACKBONE:
            assert undeclared_rows(report.ir), name
        else:
            assert not undeclared_rows(report.ir) and declared_params(report.ir)[1], name


def test_full_validation_of_the_bundled_specs_does_not_import_torch() -> None:
    from conftest import SPECS

    files = sorted(str(p) for p in SPECS.glob("*.yaml") if p.name not in NEEDS_TORCH)
    assert len(files) >= 12
    code = (
        "import sys, yamlnet\n"
        f"for f in {files!r}:\n"
        "    r = yamlnet.validate(f, imgsz=['640', '640x384'])\n"
        "    assert r.ok, r.render()\n"
        "    assert r.shapes['640x640'] and r.shapes['640x384'], f\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_cli_validate_does_not_import_torch() -> None:
    from conftest import SPECS

    code = (
        "import sys\n"
        "from yamlnet.cli import main\n"
        f"rc = main(['validate', {str(SPECS / 'yolo11.yaml')!r}, '--scale', 'n'])\n"
        f"rc += main(['validate', {str(SPECS / 'yolov5s.yaml')!r}, '--imgsz', '256', '--imgsz', '640'])\n"
        "print(rc, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 False", out.stdout + out.stderr
