"""`yamlnet lsp` driven as an editor drives it: a real LSP client (pytest-lsp) talks to the server over stdio.
The server runs with `torch` blocked (sys.modules["torch"] = None), so a request that imported it would fail."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from conftest import ROOT, SPECS

pytest_lsp = pytest.importorskip("pytest_lsp", reason="pytest-lsp is a dev dependency (pip install -e '.[dev]')")
from lsprotocol import types as t  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

SERVER = [
    sys.executable,
    "-c",
    "import sys; sys.modules['torch'] = None; from yamlnet.cli import main; sys.exit(main(['lsp']))",
]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
pytestmark = pytest.mark.asyncio(loop_scope="module")


def _publish(client: LanguageClient, params: t.PublishDiagnosticsParams) -> None:
    """pytest-lsp's handler keeps the last diagnostics per document; this one also keeps their version and counts them."""
    client.diagnostics[params.uri] = params.diagnostics
    client.published_versions[params.uri] = params.version  # type: ignore[attr-defined]
    client.publish_count[params.uri] = client.publish_count.get(params.uri, 0) + 1  # type: ignore[attr-defined]


def _make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=default_converter)
    client.published_versions = {}  # type: ignore[attr-defined]
    client.publish_count = {}  # type: ignore[attr-defined]
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _publish})
    return client


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV, client_factory=_make_client), scope="module")
async def client(lsp_client: LanguageClient):
    markdown = [t.MarkupKind.Markdown, t.MarkupKind.PlainText]
    caps = t.ClientCapabilities(
        text_document=t.TextDocumentClientCapabilities(
            inlay_hint=t.InlayHintClientCapabilities(),
            hover=t.HoverClientCapabilities(content_format=markdown),
            completion=t.CompletionClientCapabilities(
                completion_item=t.ClientCompletionItemOptions(documentation_format=markdown, snippet_support=True)
            ),
        )
    )
    await lsp_client.initialize_session(t.InitializeParams(capabilities=caps, initialization_options={"debounce_ms": 50}))
    yield
    await lsp_client.shutdown_session()


async def _diagnostics(client: LanguageClient, uri: str, version: int) -> list[t.Diagnostic]:
    """The diagnostics the server published for this version of the document (waits for them)."""
    for _ in range(100):
        got = client.diagnostics.get(uri)
        if got is not None and client.published_versions.get(uri) == version:
            return list(got)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no diagnostics for {uri} version {version}")


def _open(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "yaml", 1, text)))


def _change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        t.DidChangeTextDocumentParams(t.VersionedTextDocumentIdentifier(version, uri), [t.TextDocumentContentChangeWholeDocument(text)])
    )


def _apply(text: str, edits: list[t.TextEdit]) -> str:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a = starts[e.range.start.line] + e.range.start.character
        b = starts[e.range.end.line] + e.range.end.character
        text = text[:a] + e.new_text + text[b:]
    return text


X6 = (SPECS / "yolov5x6.yaml").read_text()
X6_URI = (SPECS / "yolov5x6.yaml").as_uri()


async def test_open_gives_diagnostics_with_code_link_and_position(client: LanguageClient) -> None:
    uri = "file:///tmp/yamlnet-lsp/typo.yaml"
    text = X6.replace("[-1, 1, Conv, [128, 3, 2]]", "[-1, 1, Cnv, [128, 3, 2]]", 1)
    _open(client, uri, text)
    diags = await _diagnostics(client, uri, 1)
    d = next(d for d in diags if d.code == "YN105")
    assert (d.range.start.line, d.range.start.character, d.range.end.character) == (14, 12, 15)  # line 15, column 13 in yamlnet's terms
    assert d.severity == t.DiagnosticSeverity.Error and d.source == "yamlnet"
    assert "unknown module `Cnv`" in d.message
    assert d.code_description is not None and d.code_description.href.endswith("diagnostics.md#yn105")


async def test_code_action_applies_the_catalog_fix(client: LanguageClient) -> None:
    uri = "file:///tmp/yamlnet-lsp/fixme.yaml"
    text = X6.replace("[-1, 1, Conv, [128, 3, 2]]", "[-1, 1, Cnv, [128, 3, 2]]", 1)
    _open(client, uri, text)
    diags = await _diagnostics(client, uri, 1)
    d = next(d for d in diags if d.code == "YN105")
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(t.TextDocumentIdentifier(uri), d.range, t.CodeActionContext(diagnostics=[d]))
    )
    titles = [a.title for a in actions]
    assert "replace `Cnv` with `Conv` (YN105) (unsafe: a guess, check it)" in titles
    action = next(a for a in actions if "with `Conv`" in a.title)
    assert action.kind == t.CodeActionKind.QuickFix and action.edit is not None
    fixed = _apply(text, list(action.edit.changes[uri]))
    assert fixed == X6
    _change(client, uri, 2, fixed)
    assert await _diagnostics(client, uri, 2) == []


async def test_inlay_hints_show_channels_stride_size_and_repeats(client: LanguageClient) -> None:
    _open(client, X6_URI, X6)
    await _diagnostics(client, X6_URI, 1)
    hints = await client.text_document_inlay_hint_async(
        t.InlayHintParams(t.TextDocumentIdentifier(X6_URI), t.Range(t.Position(0, 0), t.Position(80, 0)))
    )
    by_line = {h.position.line: h.label for h in hints}
    lines = X6.splitlines()
    row4 = next(i for i, line in enumerate(lines) if line.strip().startswith("[-1, 6, C3, [256]]"))
    assert by_line[row4] == "# 320ch /8 80×80 n=8"  # 256 * 1.25 channels, 6 * 1.33 -> 8 repeats
    assert hints[[h.position.line for h in hints].index(row4)].position.character == len(lines[row4])
    sppf = next(i for i, line in enumerate(lines) if "SPPF" in line)
    assert by_line[sppf] == "# 1280ch /64 10×10"
    detect = next(i for i, line in enumerate(lines) if "Detect" in line)
    assert by_line[detect] == "# head on /8 /16 /32 /64"
    assert len(hints) == 34  # one per row


async def test_hover_on_a_row_and_on_a_from_index(client: LanguageClient) -> None:
    lines = X6.splitlines()
    row = next(i for i, line in enumerate(lines) if "[[-1, 8], 1, Concat, [1]]" in line)
    col = lines[row].index("8]")
    on_ref = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(X6_URI), t.Position(row, col)))
    assert on_ref is not None and on_ref.contents.value == "`8` → row 8 (C3): 960ch /32 20×20"
    c3 = next(i for i, line in enumerate(lines) if "[-1, 9, C3, [512]]" in line)
    on_row = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(X6_URI), t.Position(c3, lines[c3].index("C3"))))
    text = on_row.contents.value
    assert "**layer 6** `C3`" in text
    assert "- `-1` → row 5 (Conv): 640ch /16 40×40" in text
    assert "- 640ch /16 40×40" in text and "repeats: 9 written, 12 after depth scaling" in text
    assert "C3[c2, shortcut=True, g=1, e=0.5]" in text and "`g`: int (allowed: 1 or more)" in text


async def test_definition_from_an_index_goes_to_its_row(client: LanguageClient) -> None:
    lines = X6.splitlines()
    row = next(i for i, line in enumerate(lines) if "[[23, 26, 29, 32], 1, Detect" in line)
    loc = await client.text_document_definition_async(t.DefinitionParams(t.TextDocumentIdentifier(X6_URI), t.Position(row, lines[row].index("29"))))
    target = next(i for i, line in enumerate(lines) if line.rstrip().endswith("# 29 output at stride 32"))
    assert loc.uri == X6_URI and loc.range.start.line == target and loc.range.start.character == lines[target].index("[")


async def test_definition_of_a_tap_goes_to_the_backbone_row(client: LanguageClient) -> None:
    path = SPECS / "yolov5-emo-taps.yaml"
    text = path.read_text()
    uri = path.as_uri()
    _open(client, uri, text)
    await _diagnostics(client, uri, 1)
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if "backbone.P4" in line and not line.lstrip().startswith("#"))
    loc = await client.text_document_definition_async(
        t.DefinitionParams(t.TextDocumentIdentifier(uri), t.Position(row, lines[row].index("backbone.P4") + 3))
    )
    first = next(i for i, line in enumerate(lines) if "EMO" in line and "[" in line and not line.lstrip().startswith("#"))
    assert loc is not None and loc.range.start.line == first


async def test_half_typed_file_keeps_the_last_good_facts(client: LanguageClient) -> None:
    uri = "file:///tmp/yamlnet-lsp/typing.yaml"
    _open(client, uri, X6)
    await _diagnostics(client, uri, 1)
    lines = X6.splitlines()
    row = next(i for i, line in enumerate(lines) if "[-1, 1, Conv, [512, 1, 1]]" in line)
    broken = X6.replace("[-1, 1, Conv, [512, 1, 1]],", "[-1, 1, Conv, [512, 1, 1],", 1)  # an unclosed bracket while typing
    _change(client, uri, 2, broken)
    diags = await _diagnostics(client, uri, 2)
    assert [d.code for d in diags] == ["YN101"]
    hints = await client.text_document_inlay_hint_async(
        t.InlayHintParams(t.TextDocumentIdentifier(uri), t.Range(t.Position(0, 0), t.Position(80, 0)))
    )
    by_line = {h.position.line: h.label for h in hints}
    assert by_line[row] == "# 640ch /32 20×20 (last good)"
    assert len(hints) == 34


async def test_changes_are_debounced(client: LanguageClient) -> None:
    uri = "file:///tmp/yamlnet-lsp/debounce.yaml"
    _open(client, uri, X6)
    await _diagnostics(client, uri, 1)
    before = client.publish_count.get(uri, 0)
    for v in range(2, 7):  # five quick keystrokes (odd pool kernels 3..11): one analysis published, for the last version
        _change(client, uri, v, X6.replace("[-1, 1, SPPF, [1024, 5]]", f"[-1, 1, SPPF, [1024, {2 * v - 1}]]"))
    diags = await _diagnostics(client, uri, 6)
    assert diags == []
    await asyncio.sleep(0.2)
    assert client.publish_count[uri] - before == 1


async def test_completion_of_block_names_and_argument_positions(client: LanguageClient) -> None:
    uri = "file:///tmp/yamlnet-lsp/complete.yaml"
    text = X6.replace("[-1, 1, SPPF, [1024, 5]],", "[-1, 1, SP, [1024, ", 1)
    _open(client, uri, text)
    await _diagnostics(client, uri, 1)
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if "[-1, 1, SP, [1024, " in line)
    names = await client.text_document_completion_async(
        t.CompletionParams(t.TextDocumentIdentifier(uri), t.Position(row, lines[row].index("SP") + 2))
    )
    labels = {i.label for i in names.items}
    assert {"SPPF", "C3", "Conv", "Detect"} <= labels and "C3k2" not in labels  # C3k2 is Ultralytics' only
    after = lines[row].index("[1024, ") + len("[1024, ")  # the second argument's place
    args = await client.text_document_completion_async(t.CompletionParams(t.TextDocumentIdentifier(uri), t.Position(row, after)))
    assert list(args.items) == []  # SP is no block: no arguments to offer
    text2 = text.replace("[-1, 1, SP, [1024, ", "[-1, 1, Conv, [1024, ")
    _change(client, uri, 2, text2)
    args = await client.text_document_completion_async(t.CompletionParams(t.TextDocumentIdentifier(uri), t.Position(row, after + 2)))
    assert [(i.label, i.insert_text) for i in args.items[:3]] == [("k=1", "1"), ("s=1", "1, 1"), ("p=None", "1, 1, None")]
    assert "argument 2 of Conv: int|list (allowed: 1 or more)" == args.items[0].detail
    in_comment = await client.text_document_completion_async(t.CompletionParams(t.TextDocumentIdentifier(uri), t.Position(row, len(lines[row]))))
    assert list(in_comment.items) == []
