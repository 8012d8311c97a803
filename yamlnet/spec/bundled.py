"""Bare model names (`yolo11n.yaml`), as the ultralytics package accepts them, resolved to yamlnet's bundled
specs when no such file is in the working directory. A scaled name stands for the unscaled file at that scale
(`yolo11n.yaml`: `yolo11.yaml`, scale n), which yamlnet's reader already does for a name beside its file; this
adds the bundled folder as the place to look. `load_spec`, `validate`, `build` and the CLI read specs through it;
a file of that name in the working directory always wins. Nothing here imports torch."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..diagnostics import Diagnostic, Span, SpecError
from .dialect import unscaled_path

BUNDLED = Path(__file__).resolve().parents[2] / "specs"  # the project's specs/ folder (a source checkout)


def is_bare(name: str | os.PathLike[str]) -> bool:
    """A name without a folder that ends in .yaml/.yml (the package looks such names up among its own files)."""
    s = os.fspath(name)
    return Path(s).name == s and Path(s).suffix.lower() in (".yaml", ".yml")


def _here(path: Path) -> bool:
    """The file, or the unscaled file a scaled name stands for, exists."""
    alt = unscaled_path(str(path))
    return path.is_file() or (alt is not None and alt.is_file())


def bundled_names() -> list[str]:
    """The spec files yamlnet bundles (empty when specs/ is not there, as in an installed wheel)."""
    return sorted(p.name for p in BUNDLED.glob("*.yaml")) if BUNDLED.is_dir() else []


def find_bundled(name: str | os.PathLike[str]) -> Path | None:
    """The bundled spec a bare name stands for, when the name (or the unscaled file it stands for) is not here."""
    path = Path(name)
    if not is_bare(name) or _here(path):
        return None
    return BUNDLED / path.name if _here(BUNDLED / path.name) else None


def missing(name: str | os.PathLike[str]) -> Diagnostic:
    """YN510 for a bare name that is neither here nor bundled, listing the bundled specs."""
    names = bundled_names()
    listed = ", ".join(_with_scales(names)) if names else "none (yamlnet's specs/ folder is not installed here)"
    return Diagnostic(
        "YN510",
        f"no such file: {os.fspath(name)}, and yamlnet bundles no spec of that name",
        Span.unknown(os.fspath(name)),
        notes=(f"bundled specs: {listed}",),
        help="give the path of your spec file, or a bundled name (a scale letter after the version picks the scale: yolo11s.yaml)",
    )


def resolve_spec(name: str | os.PathLike[str]) -> Path:
    """The spec path yamlnet reads for `name`: the name itself when it (or the unscaled file it stands for) is
    there or it names a folder; else, for a bare name, the same name in yamlnet's bundled specs
    (`yolo11n.yaml` -> specs/yolo11n.yaml, read as specs/yolo11.yaml at scale n). Raises SpecError (YN510)
    listing the bundled specs when a bare name is neither here nor bundled."""
    path = Path(name)
    if not is_bare(name) or _here(path):
        return path
    found = find_bundled(name)
    if found is None:
        raise SpecError([missing(name)])
    return found


def _with_scales(names: list[str]) -> list[str]:
    """Bundled names as a user may write them: `yolo11{n,s,m,l,x}.yaml` for a file whose name takes a scale."""
    out = []
    for n in names:
        stem, suffix = n.rsplit(".", 1)
        out.append(f"{stem}{{n,s,m,l,x}}.{suffix}" if re.fullmatch(r"yolo(v8|\d+)", stem) else n)
    return out
