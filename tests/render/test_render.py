"""Diagrams: every bundled spec renders to svg, png, dot and mmd with a real renderer; the SVG shows every row;
a multi-output backbone's taps are ports and each consumer's edge leaves its tap; faulty specs still render."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from yamlnet.cli import main
from yamlnet.graph.ir import INPUT
from yamlnet.render.diagram import build_digraph, node_id
from yamlnet.render.engine import find_renderer
from yamlnet.render.mermaid import to_mermaid
from yamlnet.render.summary import Facts, collect

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path("/work/shared/reference/yolov5") if Path("/work/shared/reference/yolov5").is_dir() else ROOT.parent / "shared/reference/yolov5"
SVG = "{http://www.w3.org/2000/svg}"

# The seeds' EfficientViT-M0 YOLOv5 spec, used until specs/yolov5-efficientvit.yaml is bundled.
EFFICIENTVIT_YAML = """\
nc: 80
depth_multiple: 0.33
width_multiple: 0.25
anchors:
  - [10,13, 16,30, 33,23]
  - [30,61, 62,45, 59,119]
  - [116,90, 156,198, 373,326]
backbone:
  [[-1, 1, EfficientViT_M0, []],
   [-1, 1, SPPF, [1024, 5]],
  ]
head:
  [[-1, 1, Conv, [512, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 3], 1, Concat, [1]],
   [-1, 3, C3, [512, False]],
   [-1, 1, Conv, [256, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 2], 1, Concat, [1]],
   [-1, 3, C3, [256, False]],
   [-1, 1, Conv, [256, 3, 2]],
   [[-1, 10], 1, Concat, [1]],
   [-1, 3, C3, [512, False]],
   [-1, 1, Conv, [512, 3, 2]],
   [[-1, 5], 1, Concat, [1]],
   [-1, 3, C3, [1024, False]],
   [[13, 16, 19], 1, Detect, [nc, anchors]],
  ]
"""


@functools.cache
def efficientvit_spec() -> Path:
    bundled = ROOT / "specs" / "yolov5-efficientvit.yaml"
    if bundled.is_file():
        return bundled
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="yamlnet-render-")) / "yolov5-efficientvit.yaml"
    path.write_text(EFFICIENTVIT_YAML)
    return path


def yolov5s_spec() -> Path:
    bundled = ROOT / "specs" / "yolov5s.yaml"
    return bundled if bundled.is_file() else REFERENCE / "yolov5s.yaml"


def bundled_specs() -> list[str]:
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))
    return found or ["<yolov5s>", "<efficientvit>"]


def _path(name: str) -> Path:
    return {"<yolov5s>": yolov5s_spec, "<efficientvit>": efficientvit_spec}.get(name, lambda: ROOT / name)()


@functools.cache
def facts_of(path: Path, detail: bool = False) -> Facts:
    return collect(path, (640, 640), modules=detail)


@pytest.fixture(scope="module")
def renderer():
    r = find_renderer("svg")
    assert r is not None, "no Graphviz renderer: `pip install graphviz-pure` (or install the system graphviz)"
    return r


def _svg(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _groups(root: ET.Element, cls: str) -> dict[str, ET.Element]:
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == cls}


@pytest.mark.parametrize("spec", bundled_specs())
def test_every_spec_renders_to_every_format(spec: str, renderer, tmp_path: Path) -> None:
    path = _path(spec)
    facts = facts_of(path)
    assert facts.ir is not None, f"{spec} does not parse"
    source = build_digraph(facts).source
    (tmp_path / "d.dot").write_text(source)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # the two renders run side by side
        list(pool.map(lambda fmt: renderer.run(source, fmt, tmp_path / f"d.{fmt}"), ("svg", "png")))
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    nodes = _groups(_svg(tmp_path / "d.svg"), "node")
    assert {node_id(facts.ir, p) for p in facts.ir.nodes} <= set(nodes)
    mmd = to_mermaid(facts)
    assert mmd.startswith("flowchart TD\n")
    for pos in facts.ir.nodes:
        assert re.search(rf"^\s+{node_id(facts.ir, pos)}\[", mmd, re.MULTILINE), f"row {pos} missing from the Mermaid text"


def test_cli_writes_each_format(tmp_path: Path, renderer, capsys: pytest.CaptureFixture[str]) -> None:
    for suffix in (".svg", ".gv", ".mmd"):
        out = tmp_path / f"ev{suffix}"
        assert main(["render", str(efficientvit_spec()), "-o", str(out)]) == 0, capsys.readouterr().err
        assert out.stat().st_size > 1000
    assert "digraph" in (tmp_path / "ev.gv").read_text()
    assert (tmp_path / "ev.svg").read_text().lstrip().startswith("<?xml")


def test_yolov5s_svg_shows_every_row(tmp_path: Path, renderer) -> None:
    facts = facts_of(yolov5s_spec())
    renderer.run(build_digraph(facts).source, "svg", tmp_path / "s.svg")
    root = _svg(tmp_path / "s.svg")
    nodes = _groups(root, "node")
    assert {f"n{i}" for i in range(25)} <= set(nodes)
    titles = {g.find(f"{SVG}title").text for g in nodes.values()}  # type: ignore[union-attr]
    assert {f"n{i}" for i in range(25)} <= titles
    def text(g):
        return " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
    assert "C3" in text(nodes["n2"]) and "×3" in text(nodes["n6"])  # repeats marked x n
    assert "128×80×80" in text(nodes["n4"]) and "/8" in text(nodes["n4"])  # output C x H x W and stride
    assert "Detect" in text(nodes["n24"])
    # edges carry shapes: the Concat at 12 takes 6's output, 256x40x40
    edges = _groups(root, "edge")
    assert "256×40×40" in text(edges["n6->n12"])
    assert "n16->n17" in edges and "n17->n24" in edges


def test_efficientvit_taps_are_ports_and_edges_leave_them(tmp_path: Path, renderer) -> None:
    facts = facts_of(efficientvit_spec())
    ir = facts.ir
    assert ir is not None and ir.ok
    source = build_digraph(facts).source
    renderer.run(source, "svg", tmp_path / "ev.svg")
    root = _svg(tmp_path / "ev.svg")
    backbone = _groups(root, "node")["n0"]
    cell_text = {t.text for t in backbone.iter(f"{SVG}text")}
    assert {"P3", "P4", "P5"} <= cell_text
    assert re.search(r'PORT="P3".*PORT="P4".*PORT="P5"', source)
    edges = set(_groups(root, "edge"))
    expected = {"n0:P5->n5", "n0:P4->n8", "n0:P3->n12"}  # SPPF takes P5; the Concats at 8 and 12 take P4 and P3
    assert expected <= edges
    # every tap edge of the IR is drawn from its port to its consumer, and only those leave the backbone
    from_taps = {f"n0:{ref.tap}->{node_id(ir, pos)}" for pos, n in ir.nodes.items() for ref in n.inputs if ref.node == 0}
    assert from_taps == expected == {e for e in edges if e.startswith("n0")}
    for tap_edge in expected:
        tail, head = tap_edge.split("->")
        assert re.search(rf"{re.escape(tail)}:s -> {head}\b", source)
    assert ir.nodes[0].inputs[0].node == INPUT


def test_mermaid_taps(tmp_path: Path) -> None:
    mmd = to_mermaid(facts_of(efficientvit_spec()))
    for tap in ("P3", "P4", "P5"):
        assert f"n0 --- n0_{tap}" in mmd
    assert re.search(r'n0_P4 -->\|"128×40×40"\| n8', mmd)
    assert "classDef s8 fill:" in mmd


def test_detail_opens_blocks(tmp_path: Path, renderer) -> None:
    facts = collect(yolov5s_spec(), (640, 640), modules=True)
    source = build_digraph(facts, detail=True).source
    for child in ("cv1", "cv2", "cv3", "Bottleneck", "Conv2d 3→32 k6 s2"):
        assert child in source
    renderer.run(source, "svg", tmp_path / "d.svg")
    assert (tmp_path / "d.svg").stat().st_size > 10_000


BAD = EFFICIENTVIT_YAML.replace("[[-1, 3], 1, Concat, [1]]", "[[-1, 2], 1, Concat, [1]]")  # joins stride 16 with P3


def test_faulty_spec_still_renders(tmp_path: Path, renderer, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD)
    out = tmp_path / "bad.svg"
    assert main(["render", str(spec), "-o", str(out)]) == 1
    assert "YN402" in capsys.readouterr().err
    root = _svg(out)
    nodes = _groups(root, "node")
    assert {f"n{i}" for i in (0, *range(5, 21))} <= set(nodes)  # every row is drawn, downstream rows too
    assert "YN402" in " ".join(t.text or "" for t in nodes["diagnostics"].iter(f"{SVG}text"))
    faulty = ET.tostring(nodes["n8"], encoding="unicode")
    assert "#d62728" in faulty and "YN402" in faulty  # red border on the row that is wrong
    assert "n0:P3->n8" in _groups(root, "edge")  # the wrong edge is drawn where the spec put it
    mmd = tmp_path / "bad.mmd"
    assert main(["render", str(spec), "-o", str(mmd)]) == 1
    assert "class n8 faulty" in mmd.read_text()


def test_unparsable_spec_writes_the_diagnostics(tmp_path: Path, renderer) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("backbone: [[-1, 1, Conv, [64, 3]]\nhead: [\n")
    out = tmp_path / "broken.dot"
    assert main(["render", str(spec), "-o", str(out)]) == 1
    assert "YN101" in out.read_text()


def test_without_renderer_the_dot_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("YAMLNET_DOT", "none")
    out = tmp_path / "s.svg"
    assert main(["render", str(yolov5s_spec()), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "graphviz-pure" in err and "s.dot" in err
    assert not out.exists() and "digraph" in (tmp_path / "s.dot").read_text()


def test_pdf_needs_the_system_dot_and_suffix_is_checked(tmp_path: Path, renderer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(yolov5s_spec()), "-o", str(tmp_path / "s.jpeg")]) == 2
    assert ".svg" in capsys.readouterr().err
    if renderer.kind == "graphviz-pure":
        assert main(["render", str(yolov5s_spec()), "-o", str(tmp_path / "s.pdf")]) == 2
        assert "system Graphviz" in capsys.readouterr().err
        assert (tmp_path / "s.dot").exists()
