"""Regenerate the diagram gallery: docs/gallery/<spec>.svg for every bundled spec (specs/*.yaml) and
docs/gallery.md, which shows them with their size and cost.

    python scripts/gallery.py                  # every spec in specs/
    python scripts/gallery.py --imgsz 640 --specs specs --docs docs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--specs", default=str(ROOT / "specs"), help="folder of specs (default: specs/)")
    p.add_argument("--docs", default=str(ROOT / "docs"), help="docs folder to write gallery.md and gallery/ into")
    p.add_argument("--imgsz", type=int, default=640)
    a = p.parse_args(argv)

    from yamlnet.api import analyze
    from yamlnet.render.diagram import build_digraph
    from yamlnet.render.engine import INSTALL_HINT, find_renderer
    from yamlnet.render.summary import collect, stride_text

    renderer = find_renderer("svg")
    if renderer is None:
        print(f"gallery: no Graphviz renderer; {INSTALL_HINT}", file=sys.stderr)
        return 2
    specs = sorted(Path(a.specs).glob("*.yaml")) + sorted(Path(a.specs).glob("*.yml"))
    docs = Path(a.docs)
    out_dir = docs / "gallery"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()
    sections: list[str] = []
    index: list[str] = []
    failed = 0
    for spec in specs:
        t0 = time.perf_counter()
        first = analyze(spec)  # a spec with `scales:` is drawn at its first scale, stated (no warning)
        scale = first.ir.spec.scale if first.ir is not None else None
        facts = collect(spec, (a.imgsz, a.imgsz), flops=True, overrides={"scale": scale} if scale else None)
        svg = out_dir / f"{spec.stem}.svg"
        renderer.run(build_digraph(facts).source, "svg", svg)
        written.add(svg)
        ir = facts.ir
        bits = [f"`{spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else spec}`"]
        if ir is not None:
            bits.append(f"{len(ir.nodes)} rows")
        if scale:
            bits.append(f"scale {scale} (of {', '.join(ir.spec.scales or [scale])})")
        if facts.total_params is not None:
            bits.append(f"{facts.total_params:,} parameters")
        if facts.gflops is not None:
            bits.append(f"{facts.gflops:.1f} GFLOPs at {a.imgsz}")
        if ir is not None and ir.heads():
            bits.append("strides " + ", ".join(stride_text(s) for s in ir.heads()[-1].in_strides))
        n_err = sum(d.severity == "error" for d in facts.diagnostics)
        if n_err:
            failed += 1
            bits.append(f"**{n_err} error{'s' * (n_err != 1)}** (`yamlnet validate {spec.name}`)")
        sections += [f"## {spec.stem}", "", " · ".join(bits), "", f"![{spec.stem}](gallery/{svg.name})", ""]
        index.append(f"- [{spec.stem}](#{spec.stem.lower().replace('.', '')})")
        print(f"{spec.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for stale in out_dir.glob("*.svg"):
        if stale not in written:
            stale.unlink()
    head = [
        "# Gallery",
        "",
        f"Every spec bundled in `specs/`, drawn by `yamlnet render` at input {a.imgsz}x{a.imgsz}. Regenerate with `python scripts/gallery.py`.",
        "",
        "How to read a diagram: one box per row of the spec (index, block, `×n` for repeats, the arguments it was",
        "built with after width scaling, output channels × height × width, stride, parameters). The fill colour is",
        "the stride level (legend at the top). A multi-output backbone is one box with a port per tap (P3, P4, ...);",
        "each edge leaves the tap its consumer uses and is labelled with the tensor's shape. GFLOPs are counted as",
        "YOLOv5 counts them (see [summary.md](summary.md)).",
        "",
        "Draw your own with `yamlnet render SPEC -o out.svg` (or .png, .dot, .mmd for Mermaid; .pdf with the system",
        "Graphviz); `--detail` opens every block one level (C3's cv1, cv2, cv3 and bottlenecks). The layout program",
        "is the system Graphviz `dot` when it is on PATH, else `graphviz-pure` (installed with yamlnet; svg and png);",
        "`YAMLNET_DOT` names another. A spec with errors is still drawn, its faulty rows outlined in red.",
        "",
    ]
    if not specs:
        head += ["No specs are bundled yet.", ""]
    text = "\n".join(head + index + ([""] if index else []) + sections).rstrip() + "\n"
    (docs / "gallery.md").write_text(text, encoding="utf-8")
    print(f"wrote {docs / 'gallery.md'} and {len(written)} diagrams ({renderer.kind} renderer)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
