"""`yamlnet render` and `yamlnet summary`: exit 0 when fine, 1 when the spec has errors (the diagram is still
written, with the faulty rows marked), 2 when the output cannot be written as asked (no renderer, bad suffix)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..diagnostics import render_text
from ..spec.limits import Limits

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _hw(value: str) -> tuple[int, int]:
    from ..api import parse_imgsz

    return parse_imgsz(value)


def _print_diags(facts: Any) -> None:
    if facts.diagnostics:
        color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
        print(render_text(facts.diagnostics, facts.source, color=color), file=sys.stderr)
        print(file=sys.stderr)


def render_file(
    spec: str | os.PathLike[str],
    output: str | os.PathLike[str],
    imgsz: str | int = 640,
    detail: bool = False,
    limits: Limits | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[Any, str]:
    """Render `spec` to `output` (format from the suffix). Returns (facts, message); raises RenderError when no
    renderer writes the format (the DOT text is then written beside `output`) and ValueError for a bad suffix."""
    from ..spec.limits import DEFAULT_LIMITS
    from .diagram import build_digraph
    from .engine import INSTALL_HINT, RenderError, find_renderer, format_of
    from .summary import collect

    out = Path(output)
    fmt = format_of(out)
    facts = collect(spec, _hw(str(imgsz)), limits or DEFAULT_LIMITS, flops=False, modules=detail, overrides=overrides)
    if fmt == "mmd":
        from .mermaid import to_mermaid

        out.write_text(to_mermaid(facts), encoding="utf-8")
        return facts, f"wrote {out}"
    source = build_digraph(facts, detail=detail).source
    if fmt in ("dot", "gv"):
        out.write_text(source, encoding="utf-8")
        return facts, f"wrote {out}"
    renderer = find_renderer(fmt)
    if renderer is None:
        dot_path = out.with_suffix(".dot")
        dot_path.write_text(source, encoding="utf-8")
        any_renderer = find_renderer()
        why = (
            f".{fmt} needs the system Graphviz (`apt install graphviz`, `brew install graphviz`); {any_renderer.path} writes svg and png"
            if any_renderer
            else f"no Graphviz renderer found; {INSTALL_HINT}"
        )
        raise RenderError(f"{why}. The diagram's DOT source is in {dot_path}")
    renderer.run(source, fmt, out)
    return facts, f"wrote {out} ({renderer.kind} renderer)"


def run_render(args: argparse.Namespace, limits: Limits, overrides: dict[str, Any] | None = None) -> int:
    from .engine import RenderError

    t0 = time.perf_counter()
    try:
        facts, message = render_file(args.spec, args.output, args.imgsz, args.detail, limits, overrides=overrides)
    except ValueError as e:
        print(f"yamlnet: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RenderError as e:
        print(f"yamlnet: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    _print_diags(facts)
    n_err = sum(d.severity == "error" for d in facts.diagnostics)
    suffix = f"; {n_err} error{'s' * (n_err != 1)} marked in the diagram" if n_err else ""
    print(f"{message} in {time.perf_counter() - t0:.1f} s{suffix}", file=sys.stderr)
    return EXIT_ERRORS if n_err else EXIT_OK


def run_summary(args: argparse.Namespace, limits: Limits, overrides: dict[str, Any] | None = None) -> int:
    from .summary import collect, summary_json, summary_markdown, summary_text

    facts = collect(args.spec, _hw(args.imgsz), limits, flops=True, overrides=overrides)
    if args.format == "json":
        print(json.dumps(summary_json(facts), indent=2, default=str))
    else:
        _print_diags(facts)
        if facts.ir is not None:
            print(summary_markdown(facts) if args.format == "markdown" else summary_text(facts))
    return EXIT_OK if facts.ok else EXIT_ERRORS


__all__ = ["render_file", "run_render", "run_summary"]
