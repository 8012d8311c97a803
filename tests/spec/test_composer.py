"""The one-pass composer (yamlnet/spec/source.py, `_Composer`): the tree it builds from the YAML event stream is the
one PyYAML's composer gives, with positions; aliases, tags and limits are judged as the stream is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from yamlnet.diagnostics import SourceText
from yamlnet.spec import source
from yamlnet.spec.limits import DEFAULT_LIMITS, Limits
from yamlnet.spec.source import YNode, compose_tree

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "specs").glob("*.yaml"))


def _tree(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[YNode | None, list[tuple[str, str, int, int]]]:
    tree, diags = compose_tree(SourceText("t.yaml", text), limits)
    return tree, [(d.code, d.message, d.span.line, d.span.column) for d in diags]


def _pyyaml_spans(node: yaml.Node, out: list[tuple[int, int, int, int]]) -> None:
    out.append((node.start_mark.line + 1, node.start_mark.column + 1, node.end_mark.line + 1, node.end_mark.column + 1))
    if isinstance(node, yaml.SequenceNode):
        for x in node.value:
            _pyyaml_spans(x, out)
    elif isinstance(node, yaml.MappingNode):
        for _, v in node.value:
            _pyyaml_spans(v, out)


def _our_spans(node: YNode, out: list[tuple[int, int, int, int]], quoted: set[tuple[int, int]]) -> None:
    s = node.span
    if (s.line, s.column - 1) in quoted:  # a quoted scalar's span is the text inside the quotes
        out.append((s.line, s.column - 1, s.end_line, (s.end_column or 0) + 1))
    else:
        out.append((s.line, s.column, s.end_line, s.end_column))  # type: ignore[arg-type]
    if isinstance(node.value, list):
        for x in node.value:
            _our_spans(x, out, quoted)
    elif isinstance(node.value, dict):
        for v in node.value.values():
            _our_spans(v, out, quoted)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_same_values_and_positions_as_pyyaml(path: Path) -> None:
    text = path.read_text()
    tree, diags = _tree(text)
    assert tree is not None and diags == []
    assert tree.plain() == yaml.safe_load(text)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    theirs: list[tuple[int, int, int, int]] = []
    _pyyaml_spans(node, theirs)
    quoted = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.ScalarNode) and n.style in ("'", '"'):
            quoted.add((n.start_mark.line + 1, n.start_mark.column + 1))
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
        elif isinstance(n, yaml.MappingNode):
            stack += [v for _, v in n.value]
    ours: list[tuple[int, int, int, int]] = []
    _our_spans(tree, ours, quoted)
    assert ours == theirs


def test_scalars_resolve_as_yaml_1_1() -> None:
    tree, diags = _tree("a: on\nb: '1.5'\nc: 0x10\nd: 1_000\ne: ~\nf: .inf\ng: 2020-01-01\nh: !!str 5\ni: !!int '7'\nj: no\n")
    assert diags == [] and tree is not None
    assert tree.plain() == {"a": True, "b": "1.5", "c": 16, "d": 1000, "e": None, "f": float("inf"), "g": "2020-01-01", "h": "5", "i": 7, "j": False}
    again, _ = _tree("a: on\nc: 0x10\n")  # the second read comes from the caches
    assert again is not None and again.plain() == {"a": True, "c": 16}


def test_each_alias_use_is_its_own_tree_with_its_own_key_span() -> None:
    tree, diags = _tree("a: &a {x: [1, 2]}\nb: [*a, *a]\nc: *a\n")
    assert diags == [] and tree is not None
    b0, b1 = tree.value["b"].value
    c = tree.value["c"]
    assert b0 is not b1 and b0.value["x"] is not tree.value["a"].value["x"]
    assert b0.key_span is None and b1.key_span is None  # list items have no key
    assert c.key_span is not None and (c.key_span.line, c.key_span.column) == (3, 1)
    assert b0.value["x"].key_span == tree.value["a"].value["x"].key_span  # inside the copy: the anchor's own keys


def test_an_alias_inside_the_collection_it_names_is_yn504_at_the_alias() -> None:
    assert _tree("a: &a [1, *a]\nbackbone: []\n") == (
        None,
        [("YN504", "the alias `*a` is used inside the collection it names, which would nest without end", 1, 11)],
    )


def test_billion_laughs_stops_at_the_alias_that_passes_the_limit() -> None:
    text = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    tree, diags = _tree(text)
    assert tree is None
    # each `*b` visits `&a` ten times more: the tenth `*b` of line 3 (column 44) takes `&a` past 100 uses
    assert diags == [("YN504", "a YAML alias is used too often", 3, 44)]
    tree, diags = _tree(text, Limits(aliases=10_000_000))
    assert tree is None and diags[0][0] == "YN504" and "expands to more than 100,000 values" in diags[0][1]


def test_a_refusal_waits_for_a_syntax_error_further_down() -> None:
    """PyYAML composed the whole file before any value was judged: a syntax error below still wins."""
    tree, diags = _tree("a: !!python/name:os.system x\nb: [1, 2\nc: 3\n")
    assert tree is None and [d[0] for d in diags] == ["YN101"]
    tree, diags = _tree("a: !!python/name:os.system x\nb: 1\n")
    assert tree is None and diags == [("YN502", "YAML tag `!!python/name:os.system` asks to run Python code; yamlnet never does", 1, 4)]


def test_merge_keys_duplicates_and_list_keys() -> None:
    tree, diags = _tree("base: &b {nc: 3}\nx:\n  <<: *b\n  y: 1\n'<<': 2\nx: 5\n? [a, b]\n: 1\n")
    assert tree is not None
    assert [d[0] for d in diags] == ["YN504", "YN123", "YN102"]
    assert tree.plain() == {"base": {"nc": 3}, "x": 5, "<<": 2}


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_two_documents_and_undefined_alias_are_syntax_errors(loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if loader == "python":
        monkeypatch.setattr(source, "_CLoader", None)
    assert _tree("nc: 3\n---\nnc: 4\n") == (None, [("YN101", "YAML syntax error: but found another document", 2, 1)])
    assert _tree("nc: *nope\n") == (None, [("YN101", "YAML syntax error: found undefined alias 'nope'", 1, 5)])
    tree, diags = _tree("a: &x 1\nb: &x 2\n")
    assert tree is None and diags[0][0] == "YN101" and (diags[0][2], diags[0][3]) == (2, 4)
