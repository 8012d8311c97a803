"""The command line: `yamlnet build|validate|render|summary|blocks`.

Exit codes: 0 ok, 1 errors in a spec, 2 usage error. A user error never prints a Python traceback.
torch is imported only by the commands that need it (`validate --static` never imports it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Span, SpecError, render_text, summary_line
from .spec.limits import DEFAULT_LIMITS, Limits

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"yamlnet: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _positive(value: str) -> int:
    try:
        n = int(value.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{value}` is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"`{value}`: a limit must be >= 1")
    return n


def spec_overrides(a: argparse.Namespace) -> dict[str, Any]:
    """The spec overrides given on the command line (--scale, --dialect)."""
    return {k: getattr(a, k) for k in ("scale", "dialect") if getattr(a, k, None) is not None}


def _spec_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("spec")
    g.add_argument("--scale", metavar="LETTER", help="the Ultralytics scale to use (n, s, m, l, x); default: from the file name, else the first")
    g.add_argument(
        "--dialect",
        choices=("yolov5", "ultralytics", "yolov7", "yolov9"),
        help="read the spec in this dialect (default: told from the file, or its `dialect:` key)",
    )


def _limits_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p)
    g = p.add_argument_group("limits (raise them for unusually large specs)")
    for flag, field, what in (
        ("--max-file-bytes", "file_bytes", "spec file size"),
        ("--max-rows", "rows", "rows of a spec"),
        ("--max-repeats", "repeats", "repeats of one row"),
        ("--max-channels", "channels", "channels of a tensor"),
        ("--max-params", "params", "parameters of the model"),
    ):
        default = getattr(DEFAULT_LIMITS, field)
        g.add_argument(flag, type=_positive, default=default, metavar="N", help=f"{what} (default {default:,})")


def _limits(a: argparse.Namespace) -> Limits:
    return replace(DEFAULT_LIMITS, file_bytes=a.max_file_bytes, rows=a.max_rows, repeats=a.max_repeats, channels=a.max_channels, params=a.max_params)


def _imgsz(value: str) -> str:
    from .api import parse_imgsz

    try:
        h, w = parse_imgsz(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{value}` is not an image size; write 640 or 640x384") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError("image sizes are positive")
    if max(h, w) > DEFAULT_LIMITS.imgsz:
        raise argparse.ArgumentTypeError(f"`{value}` is larger than the largest input size yamlnet checks ({DEFAULT_LIMITS.imgsz:,})")
    return value


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="yamlnet", description="Compile YOLO-style YAML model specs: check them, build nn.Modules, draw them.")
    p.add_argument("--version", action="version", version="yamlnet 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    b = sub.add_parser("build", help="build the model and print its layer table")
    b.add_argument("spec", help="a spec file (.yaml)")
    b.add_argument("--weights", help="a state_dict file to load into the whole model (weights_only=True)")
    b.add_argument("--fuse", action="store_true", help="fold BatchNorms and reparameterise blocks for deployment")
    b.add_argument("--imgsz", type=_imgsz, default="640", help="input size for the output shapes in the table (640 or 640x384)")
    b.add_argument("--save", metavar="FILE", help="save the built model's state_dict to FILE")
    b.add_argument("--format", choices=("text", "json"), default="text")
    b.add_argument("--strict", action="store_true", help="warnings count as errors: nothing is built when the spec has any")
    _limits_args(b)

    v = sub.add_parser("validate", help="check specs: references, channels, strides, sizes (exit 1 on errors)")
    v.add_argument("paths", nargs="+", help="spec files or directories of specs")
    v.add_argument("--imgsz", type=_imgsz, action="append", help="input size to check (repeatable): 640 or 640x384; default 640")
    v.add_argument("--static", action="store_true", help="rules only; torch is never imported")
    v.add_argument(
        "--deep", action="store_true", help="build and run every block on the meta device (also checks the parameter limit), not only undeclared ones"
    )
    v.add_argument("--strict", action="store_true", help="warnings count as errors")
    v.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="json: docs/output-format.md; sarif: SARIF 2.1.0 for code scanning; github: workflow annotations",
    )
    v.add_argument("--jobs", "-j", type=_positive, default=0, help="files validated in parallel (default: CPU count; --static: 1 below 64 files)")
    _limits_args(v)

    r = sub.add_parser("render", help="draw the architecture (svg, png, pdf, dot, mmd)")
    r.add_argument("spec")
    r.add_argument("-o", "--output", required=True, help="output file; the suffix picks the format")
    r.add_argument("--imgsz", type=_imgsz, default="640")
    r.add_argument("--detail", action="store_true", help="open each block one level (e.g. C3's convs)")
    _limits_args(r)

    s = sub.add_parser("summary", help="the layer table with parameters and GFLOPs (no weights allocated)")
    s.add_argument("spec")
    s.add_argument("--imgsz", type=_imgsz, default="640")
    s.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    _limits_args(s)

    fx = sub.add_parser("fix", help="apply the fixes diagnostics offer, as text edits that keep comments and layout")
    fx.add_argument("spec", help="a spec file (.yaml), rewritten in place")
    fx.add_argument("--diff", action="store_true", help="print the changes as a unified diff; write nothing (exit 1 when there are changes)")
    fx.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes that are a guess (marked unsafe)")
    _limits_args(fx)

    bl = sub.add_parser("blocks", help="list the registered blocks and their arguments")
    bl.add_argument("name", nargs="?", help="show one block")

    from .export import add_export_parser
    from .plugins import add_plugin_option

    ex = add_export_parser(sub)
    _limits_args(ex)
    add_plugin_option(b, v, r, s, fx, bl, ex)

    from .lsp.commands import add_editor_parsers  # `lsp` and `schema`: the editor commands (yamlnet/lsp/)

    add_plugin_option(*add_editor_parsers(sub))
    return p


def _print_diags(diags: list[Diagnostic], source: Any, stream: Any = None) -> None:
    stream = stream if stream is not None else sys.stderr
    if diags:
        print(render_text(diags, source, color=_use_color(stream)), file=stream)
        print(file=stream)


def cmd_build(a: argparse.Namespace) -> int:
    from .api import analyze, parse_imgsz

    if a.weights and not Path(a.weights).is_file():
        print(f"yamlnet: error: --weights: no such file {a.weights}", file=sys.stderr)
        return EXIT_USAGE
    limits = _limits(a)
    report = analyze(a.spec, limits, **spec_overrides(a))
    hw = parse_imgsz(a.imgsz)
    if not report.ok or report.ir is None or (a.strict and report.warnings):
        if a.format == "json":
            _print_build_json(report.path, report.ir, report.diagnostics, hw)
        _print_diags(report.diagnostics, report.source)
        print(f"{report.path}: {summary_line(report.diagnostics)}; nothing built", file=sys.stderr)
        return EXIT_ERRORS
    from .compile.build import compile_ir
    from .compile.shapes import shape_pass
    from .render.table import format_table, layer_rows

    _print_diags([d for d in report.diagnostics if d.severity != "error"], report.source)
    # shapes for the table and the parameter limit, both on meta, before any weight is allocated
    shapes, sdiags = shape_pass(report.ir, parse_imgsz(a.imgsz), limits)
    refused = [d for d in sdiags if d.code == "YN507"]
    if refused:
        if a.format == "json":
            _print_build_json(report.path, report.ir, report.diagnostics + refused, hw)
        _print_diags(refused, report.source)
        print(f"{report.path}: {summary_line(refused)}; nothing built", file=sys.stderr)
        return EXIT_ERRORS
    try:
        model = compile_ir(report.ir, weights=a.weights, limits=limits)
    except SpecError as e:
        if a.format == "json":
            _print_build_json(report.path, report.ir, report.diagnostics + e.diagnostics, hw)
        _print_diags(e.diagnostics, report.source)
        return EXIT_ERRORS
    for rep in model.load_reports:
        print(("" if rep.complete else "warning: ") + rep.summary(), file=sys.stderr)
        for line in rep.details():
            print(f"  {line}", file=sys.stderr)
    _print_diags(sdiags, report.source)
    rows = layer_rows(report.ir, model.row_params, shapes)
    total = sum(p.numel() for p in model.parameters())
    n_modules = len(list(model.modules()))
    fused_total = None
    if a.fuse:
        model.eval()
        model.fuse()
        fused_total = sum(p.numel() for p in model.parameters())
    if a.save:
        import torch

        torch.save(model.state_dict(), a.save)
    if a.format == "json":
        diags = report.diagnostics + [d for d in sdiags if d not in report.diagnostics]
        _print_build_json(
            report.path, report.ir, diags, hw, model.row_params, shapes, parameters=total, fused_parameters=fused_total, module_count=n_modules
        )
        return EXIT_OK
    print(format_table(rows))
    print()
    ir = report.ir
    if not ir.heads() and ir.outputs:
        print(
            "outputs: " + ", ".join(f"{o.tap or ir.nodes[o.node].index} ({ir.port(o).channels} ch, stride {ir.port(o).stride})" for o in ir.outputs)
        )
    print(f"{Path(report.path).stem}: {len(ir.nodes)} rows, {total:,} parameters, stride {_strides(model.stride.tolist())}")
    if fused_total is not None:
        print(f"fused: {fused_total:,} parameters")
    if a.save:
        print(f"saved state_dict to {a.save}")
    return EXIT_OK


def _print_build_json(path: str, ir: Any, diags: list[Diagnostic], hw: tuple[int, int], params: Any = None, shapes: Any = None, **extra: Any) -> None:
    """`build --format json`: the ModelOutput document (docs/output-format.md), also for a spec with errors."""
    from .output import dumps, model_document

    port_shape = None
    if ir is not None:
        from .graph.sizes import propagate

        sizes = propagate(ir, hw)

        def port_shape(ref: Any) -> tuple[int, ...] | None:
            port, size = ir.port(ref), sizes.get(ref)
            return None if port.channels is None or size is None else (port.channels, *size)

    print(dumps(model_document("build", path, ir, diags, hw, params=params, shapes=shapes, port_shape=port_shape, **extra)))


def _strides(values: list[float]) -> list[int | float]:
    return [int(s) if float(s).is_integer() else float(s) for s in values]


def _collect(paths: Sequence[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        pp = Path(p)
        if pp.is_dir():
            files += sorted(str(f) for f in pp.rglob("*") if f.suffix in (".yaml", ".yml"))
        else:
            files.append(p)
    return files


Result = tuple[str, list[Diagnostic], "str | None"]  # path, diagnostics, their text (when text output is asked for)
Job = tuple[str, list[str], bool, bool, Limits, dict[str, Any], "bool | None"]  # ..., color of the text (None: no text)


def _validate_one(args: Job) -> Result:
    """Validate one file; its diagnostics are rendered here, so a worker sends back text, not the source."""
    path, sizes, static, deep, limits, overrides, color = args
    from .api import validate

    try:
        report = validate(path, imgsz=sizes, static=static, limits=limits, deep=deep, **overrides)
        return _result(path, list(report.diagnostics), report.source, color)
    except Exception as e:  # an internal error must still be reported, not crash the run
        return _result(path, [_internal(path, e)], None, color)


def _result(path: str, diags: list[Diagnostic], source: Any, color: bool | None) -> Result:
    return path, diags, render_text(diags, source, color=color) if diags and color is not None else None


def _internal(path: str, e: BaseException) -> Diagnostic:
    return Diagnostic(
        "YN901",
        f"internal error while validating: {type(e).__name__}: {e}"[:500],
        Span.unknown(path),
        help="this is a bug in yamlnet or in a block; please report it with the spec that caused it",
    )


def _use_color(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def cmd_validate(a: argparse.Namespace) -> int:
    limits = _limits(a)
    sizes = a.imgsz or ["640"]
    files = _collect(a.paths)
    if not files:
        where = ", ".join(a.paths)
        print(f"yamlnet: error: no spec files found in {where} (a spec is a .yaml or .yml file)", file=sys.stderr)
        return EXIT_USAGE
    color = _use_color(sys.stderr) if a.format == "text" else None
    jobs: list[Job] = [(f, sizes, a.static, a.deep, limits, spec_overrides(a), color) for f in files]
    if len(files) > 1:
        _batch_gc()
    if len(files) == 1 or a.jobs == 1 or (not a.jobs and a.static and len(files) < POOL_MIN_STATIC):
        results = [_validate_one(j) for j in jobs]
    else:
        results = _run_parallel(jobs, a.jobs or os.cpu_count() or 1, a.format == "text" and sys.stderr.isatty())
    failed = 0
    totals = [0, 0]
    for path, diags, text in results:
        ne = sum(d.severity == "error" for d in diags)
        nw = sum(d.severity == "warning" for d in diags)
        totals[0] += ne
        totals[1] += nw
        bad = ne + (nw if a.strict else 0)
        failed += bool(bad)
        if a.format == "text":
            if text:
                print(text, file=sys.stderr)
                print(file=sys.stderr)
            status = "ok" if not bad else "FAILED"
            extra = f" ({ne} error{'s' * (ne != 1)}, {nw} warning{'s' * (nw != 1)})" if (ne or nw) else ""
            print(f"{path}: {status}{extra}" + ("" if bad or a.static else f" (checked at {', '.join(sizes)})") + (" (static)" if a.static else ""))
    if a.format in ("json", "sarif", "github"):
        from .api import parse_imgsz
        from .output import dumps, to_github, to_sarif, validate_document

        doc = validate_document([(p, d) for p, d, _ in results], [parse_imgsz(s) for s in sizes], a.static, a.strict)
        print(dumps(doc) if a.format == "json" else json.dumps(to_sarif(doc), indent=2) if a.format == "sarif" else to_github(doc))
    elif len(results) > 1:
        print(
            f"{len(results)} files: {len(results) - failed} ok, {failed} failed ({totals[0]} errors, {totals[1]} warnings)"
            + (" (warnings count as errors: --strict)" if a.strict else "")
        )
    return EXIT_ERRORS if failed else EXIT_OK


def _batch_gc() -> None:
    """Many files: what is loaded now (the registry, the grammar) lives until the end, so the cyclic collector
    stops looking at it (gc.freeze; forked workers share it untouched), and it runs less often: a file's
    objects are freed by reference counting, and a collection per few hundred objects cost a tenth of the time."""
    import gc

    from . import api, registry  # noqa: F401 - loaded before the freeze, and shared by forked workers

    registry._load_declarations()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)


def _validate_chunk(chunk: list[Job]) -> list[Result]:
    return [_validate_one(j) for j in chunk]


POOL_MIN_STATIC = 64  # fewer static checks (about 4 ms each) than this finish before a pool has started
CHUNKS_PER_WORKER = 32  # files go to the workers in chunks (one task per file costs more than a static check), small
# enough that the last chunks end together: a worker idle while the other finishes a long chunk costs wall time


def _run_parallel(jobs: list[Any], workers: int, progress: bool) -> list[Result]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from .plugins import pool_options

    results: dict[int, Result] = {}  # the declarations are loaded (and frozen) already: _batch_gc, before the workers fork

    n = max(1, min(workers, len(jobs)))
    size = max(1, min(32, len(jobs) // (n * CHUNKS_PER_WORKER)))
    chunks = [list(range(i, min(i + size, len(jobs)))) for i in range(0, len(jobs), size)]
    with ProcessPoolExecutor(max_workers=n, **pool_options()) as ex:
        futures = {ex.submit(_validate_chunk, [jobs[i] for i in c]): c for c in chunks}

        def collect(f: Any) -> None:
            c = futures[f]
            try:
                for i, r in zip(c, f.result()):
                    results[i] = r
            except Exception as e:  # a worker died (out of memory, a crash in native code): report, go on
                for i in c:
                    results[i] = _result(jobs[i][0], [_internal(jobs[i][0], e)], None, jobs[i][6])

        if progress:
            try:
                from rich.console import Console
                from rich.progress import Progress
            except ImportError:  # pragma: no cover - rich is a dependency; a plain counter otherwise
                Progress = None  # type: ignore[assignment,misc]
            if Progress is not None:
                with Progress(console=Console(stderr=True), transient=True) as bar:
                    task = bar.add_task("validating", total=len(jobs))
                    for f in as_completed(futures):
                        collect(f)
                        bar.advance(task, advance=len(futures[f]))
            else:  # pragma: no cover
                k = 0
                for f in as_completed(futures):
                    collect(f)
                    k += len(futures[f])
                    print(f"\rvalidating {k}/{len(jobs)}", end="", file=sys.stderr, flush=True)
                print("\r", end="", file=sys.stderr)
        else:
            for f in as_completed(futures):
                collect(f)
    return [results[i] for i in range(len(jobs))]


def cmd_fix(a: argparse.Namespace) -> int:
    from .fix import chosen_fix, fix_file

    result = fix_file(a.spec, unsafe=a.unsafe_fixes, write=not a.diff, limits=_limits(a), overrides=spec_overrides(a))
    if result.source_diags:
        _print_diags(result.source_diags, None)
        return EXIT_ERRORS
    verb = "would fix" if a.diff else "fixed"
    for d, f in result.applied:
        print(f"{verb} {d.span.file}:{d.span.line}:{d.span.column}: {d.code} {f.title}", file=sys.stderr)
    for d in result.refused:
        print(f"not applied (it would leave the spec worse): {d.span.file}:{d.span.line}:{d.span.column}: {d.code}", file=sys.stderr)
    left = result.remaining
    if a.diff:
        sys.stdout.write(result.diff())
    pending = sum(chosen_fix(d, unsafe=True) is not None for d in left)
    tail = f"; {pending} more with --unsafe-fixes" if pending and not a.unsafe_fixes else ""
    n = len(result.applied)
    print(f"{a.spec}: {n} fix{'es' * (n != 1)} {'to apply' if a.diff else 'applied'}, {summary_line(left)} left{tail}", file=sys.stderr)
    if a.diff:
        return EXIT_ERRORS if result.changed else EXIT_OK
    return EXIT_ERRORS if any(d.severity == "error" for d in left) else EXIT_OK


def cmd_blocks(a: argparse.Namespace) -> int:
    from . import registry
    from .graph.bind import signature
    from .graph.checks import range_words

    names = registry.names()
    decls = registry.declarations()  # every dialect's: a name may be declared once per dialect (SPPF, Detect)

    def dialect_of(d: registry.BlockDecl) -> str:
        return f" [{d.dialect}]" if d.dialect else ""

    if a.name:
        found = [d for d in decls if d.name == a.name]
        if not found:
            import difflib

            lowered = {n.lower(): n for n in names}
            close = [lowered[c] for c in difflib.get_close_matches(a.name.lower(), list(lowered), n=3, cutoff=0.5)]
            print(f"yamlnet: unknown block `{a.name}`" + (f"; did you mean {', '.join(close)}?" if close else ""), file=sys.stderr)
            return EXIT_USAGE
        for d in found:
            print(signature(d) + dialect_of(d))
            print(f"  {d.doc}" if d.doc else "", end="\n" if d.doc else "")
            for arg in d.args:
                fill = f" (filled: {arg.fill})" if arg.fill else ""
                width = " (width-scaled)" if arg.width else ""
                allowed = range_words(arg)
                allowed = f" ({allowed})" if allowed else ""
                print(f"  {arg.name}: {arg.type}{width}{fill}{allowed}" + (f" - {arg.doc}" if arg.doc else ""))
        return EXIT_OK
    for d in decls:
        print(f"{signature(d):60s} {dialect_of(d).strip() + ' ' if d.dialect else ''}{d.doc.splitlines()[0] if d.doc else ''}")
    return EXIT_OK


def cmd_render(a: argparse.Namespace) -> int:
    from .render.cli import run_render

    return run_render(a, _limits(a), spec_overrides(a))


def cmd_summary(a: argparse.Namespace) -> int:
    from .render.cli import run_summary

    return run_summary(a, _limits(a), spec_overrides(a))


def cmd_export(a: argparse.Namespace) -> int:
    from .export import run_export

    return run_export(a, _limits(a))


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    a = parser.parse_args(argv)
    if not a.command:
        parser.print_help()
        return EXIT_USAGE
    commands = {"build": cmd_build, "validate": cmd_validate, "render": cmd_render, "summary": cmd_summary, "blocks": cmd_blocks, "fix": cmd_fix}
    commands["export"] = cmd_export
    from .lsp.commands import COMMANDS as editor_commands

    commands.update(editor_commands)
    handler = commands[a.command]
    try:
        from .plugins import load_cli_plugins

        failed = load_cli_plugins(a)  # --plugin and [tool.yamlnet] plugins: the user's choice, never a spec's
        if failed is not None:
            return failed
        return handler(a)
    except SpecError as e:
        _print_diags(e.diagnostics, e.source)
        return EXIT_ERRORS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # never a traceback for the user; the code says it is ours
        d = Diagnostic(
            "YN901",
            f"internal error: {type(e).__name__}: {e}",
            Span.unknown(getattr(a, "spec", "<cli>")),
            help="this is a bug in yamlnet or in a block; please report it with the spec (set YAMLNET_DEBUG=1 for the traceback)",
        )
        if os.environ.get("YAMLNET_DEBUG"):
            raise
        _print_diags([d], None)
        return EXIT_ERRORS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
