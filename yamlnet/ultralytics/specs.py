"""Bare model names (`yolo11n.yaml`), as the ultralytics package accepts them, resolved to yamlnet's bundled
specs (`specs/yolo11.yaml` at scale n). Nothing here imports torch or the package."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..diagnostics import Diagnostic, Span, SpecError

BUNDLED = Path(__file__).resolve().parents[2] / "specs"  # the project's specs/ folder (a source checkout)
_SCALED = re.compile(r"^(?P<family>.*\d)(?P<scale>[nslmx])(?P<task>-.+)?$")  # yolo11n-seg -> yolo11-seg, n
_SCALE_IN_NAME = re.compile(r"yolo(?:e-)?v?\d+(?P<scale>[nslmx])")  # the package's reading of a file name's scale


def is_bare(name: str | os.PathLike[str]) -> bool:
    """A name without a folder that ends in .yaml/.yml (the package looks such names up among its own files)."""
    p = Path(name)
    return p.name == str(name) and p.suffix.lower() in (".yaml", ".yml")


def scale_in_name(path: str | os.PathLike[str]) -> str | None:
    """The scale letter the package reads from a file name (`my-yolo11s.yaml` -> "s"), or None."""
    m = _SCALE_IN_NAME.search(Path(path).stem)
    return m.group("scale") if m else None


def bundled_names() -> list[str]:
    """The spec files yamlnet bundles (empty when specs/ is not there, as in an installed wheel)."""
    return sorted(p.name for p in BUNDLED.glob("*.yaml")) if BUNDLED.is_dir() else []


def resolve_spec(name: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """(spec file, scale) for a path or a bare name. An existing file is itself (scale None). A bare name that is
    not a file here is a bundled spec: `yolov5s.yaml` as is, `yolo11n.yaml` as `yolo11.yaml` with scale "n".
    Raises SpecError (YN510) naming the bundled specs when there is none of that name."""
    path = Path(name)
    if path.exists() or not is_bare(name):
        return path, None
    if (BUNDLED / path.name).is_file():
        return BUNDLED / path.name, None
    m = _SCALED.match(path.stem)
    if m and (BUNDLED / f"{m['family']}{m['task'] or ''}{path.suffix}").is_file():
        return BUNDLED / f"{m['family']}{m['task'] or ''}{path.suffix}", m["scale"]
    names = bundled_names()
    listed = ", ".join(_with_scales(names)) if names else "none (yamlnet's specs/ folder is not installed here)"
    raise SpecError(
        [
            Diagnostic(
                "YN510",
                f"no such file: {name}, and yamlnet bundles no spec of that name",
                Span.unknown(str(name)),
                notes=(f"bundled specs: {listed}",),
                help="give the path of your spec file, or one of the bundled names (a letter after the number picks the scale)",
            )
        ]
    )


def _with_scales(names: list[str]) -> list[str]:
    """Bundled names as a user may write them: `yolo11{n,s,m,l,x}.yaml` for a spec with scales."""
    out = []
    for n in names:
        stem, suffix = n.rsplit(".", 1)
        out.append(f"{stem}{{n,s,m,l,x}}.{suffix}" if re.search(r"\d$", stem) and "yolov5" not in stem else n)
    return out
