"""Finding a program that lays out DOT: the system Graphviz `dot`, else the `graphviz-pure` package's program.

`YAMLNET_DOT` overrides the search: a path or command name of a dot-compatible program, or `none` to act as if
no renderer were installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

#: output suffix -> format name; None means written by yamlnet itself (no renderer needed)
FORMATS: dict[str, str | None] = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None, ".gv": None, ".mmd": None}
#: formats only the system Graphviz writes
SYSTEM_ONLY = {"pdf"}

INSTALL_HINT = (
    "install a renderer: `pip install graphviz-pure` (svg and png, no system packages needed) "
    "or the system Graphviz (`apt install graphviz`, `brew install graphviz`; also pdf)"
)


class RenderError(Exception):
    """The renderer could not be found or failed; the message says what to do."""


@dataclass(frozen=True)
class Renderer:
    """A dot-compatible executable; `kind` is "system" (Graphviz's dot) or "graphviz-pure"."""

    path: str
    kind: str

    @property
    def formats(self) -> set[str]:
        return {"svg", "png", "pdf"} if self.kind == "system" else {"svg", "png"}

    def run(self, source: str, fmt: str, out: Path, timeout: float = 120.0) -> None:
        """Lay out `source` and write `out` in format `fmt`."""
        try:
            dpi = ["-Gdpi=110"] if fmt == "png" else []
            proc = subprocess.run(
                [self.path, f"-T{fmt}", *dpi, "-o", str(out)], input=source.encode("utf-8"), capture_output=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RenderError(f"{self.path} failed: {e}") from None
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RenderError(f"{self.path} exited with {proc.returncode}: {' '.join(err[-3:])}")


def _graphviz_pure() -> str | None:
    found = shutil.which("graphviz-pure")
    if found:
        return found
    # installed into this interpreter's environment, whose scripts folder may not be on PATH
    for folder in {sysconfig.get_path("scripts"), str(Path(sys.executable).parent)}:
        for name in ("graphviz-pure", "graphviz-pure.exe"):
            cand = Path(folder) / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    return None


def find_renderer(fmt: str | None = None) -> Renderer | None:
    """The renderer to use for `fmt` (the system dot first), or None when none is installed that writes it."""
    override = os.environ.get("YAMLNET_DOT")
    if override is not None:
        if override.strip().lower() in ("", "none", "0", "off"):
            return None
        path = shutil.which(override) or (override if Path(override).is_file() else None)
        if path is None:
            return None
        kind = "graphviz-pure" if "graphviz-pure" in Path(path).name else "system"
        r = Renderer(path, kind)
        return r if fmt is None or fmt in r.formats else None
    system = shutil.which("dot")
    if system:
        return Renderer(system, "system")
    if fmt in SYSTEM_ONLY:
        return None
    pure = _graphviz_pure()
    return Renderer(pure, "graphviz-pure") if pure else None


def format_of(path: str | Path) -> str | None:
    """The output format named by a path's suffix; raises ValueError for a suffix we do not write."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"`{Path(path).name}`: write .svg, .png, .pdf, .dot, .gv or .mmd")
    return FORMATS[suffix] or suffix.lstrip(".")


__all__ = ["FORMATS", "INSTALL_HINT", "RenderError", "Renderer", "find_renderer", "format_of"]
