"""The editor commands of the CLI: `yamlnet lsp` (the language server over stdio) and `yamlnet schema` (the JSON
Schema of model YAMLs per dialect). Kept beside the server so that yamlnet/cli.py only wires them in."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2
INSTALL_HINT = "yamlnet lsp needs pygls and lsprotocol, which are not installed; install them with: pip install 'yamlnet[lsp]'"


def add_editor_parsers(sub: Any) -> list[argparse.ArgumentParser]:
    """Add `lsp` and `schema` to the CLI's subparsers; returns them (for options shared with other commands)."""
    from ..registry import DIALECTS

    lsp = sub.add_parser("lsp", help="run the language server over stdio (diagnostics, hints, hovers, fixes in the editor; docs/editor.md)")
    lsp.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the only transport; accepted for editors that pass it)")
    lsp.add_argument("--imgsz", default=None, help="input size for the hints' spatial sizes (640 or 640x384; default 640)")
    sc = sub.add_parser("schema", help="print or write the JSON Schema of model YAMLs (per dialect) for YAML editors")
    sc.add_argument("dialect", nargs="?", choices=DIALECTS, help="print this dialect's schema to stdout")
    sc.add_argument("-o", "--output-dir", metavar="DIR", help="write model-<dialect>.schema.json for every dialect into DIR")
    return [lsp, sc]


def cmd_lsp(a: argparse.Namespace) -> int:
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        print(f"yamlnet: error: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_USAGE
    from .server import input_size, serve, server

    if a.imgsz:
        hw = input_size(a.imgsz)
        if hw is None:
            print(f"yamlnet: error: --imgsz `{a.imgsz}` is not an image size; write 640 or 640x384", file=sys.stderr)
            return EXIT_USAGE
        server.hw = hw
    serve()
    return EXIT_OK


def cmd_schema(a: argparse.Namespace) -> int:
    from ..schema import schema_text, write_schemas

    if a.output_dir:
        for p in write_schemas(a.output_dir):
            print(f"wrote {p}", file=sys.stderr)
        return EXIT_OK
    if not a.dialect:
        print("yamlnet: error: name a dialect to print its schema, or pass -o DIR to write every dialect's", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(schema_text(a.dialect))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"lsp": cmd_lsp, "schema": cmd_schema}
