"""The language server: pygls over stdio. It keeps one `Analysis` per open document, re-analyses on every change
after a short pause in typing (diagnostics and inlay hints are published then), and answers requests from the
analysis of the document's current text (analysed at once when the pause has not ended yet: a few ms).

Options (the client's `initializationOptions`, flat or under a `yamlnet` key):
`imgsz` (640 or "640x384": the input size of the hints' spatial sizes), `debounce_ms` (default 150),
`docs_url` (where the diagnostic codes link; default: the docs/diagnostics.md beside the package).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..api import parse_imgsz
from ..spec.limits import DEFAULT_LIMITS
from . import features
from .facts import Analysis, analyze_text, carry_over, internal_error

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_MS = 150
IDLE_COLLECT_S = 5.0  # a full garbage collection this long after the last analysis


def input_size(value: Any) -> tuple[int, int] | None:
    """An image size as the CLI takes it (640, "640x384", [640, 384]), or None when it is not one."""
    try:
        h, w = parse_imgsz(value if isinstance(value, (int, str)) else tuple(value))
    except (ValueError, TypeError):
        return None
    return (h, w) if 1 <= min(h, w) and max(h, w) <= DEFAULT_LIMITS.imgsz else None


def _default_docs() -> str | None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"
    return doc.as_uri() if doc.is_file() else None


class YamlnetServer(LanguageServer):
    """pygls' LanguageServer with the documents' analyses and the debounce timers."""

    def __init__(self) -> None:
        super().__init__("yamlnet", "0.1.0")
        self.analyses: dict[str, Analysis] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.hw: tuple[int, int] = (640, 640)
        self.debounce = DEFAULT_DEBOUNCE_MS / 1000
        self.docs: str | None = _default_docs()
        self.idle: asyncio.TimerHandle | None = None

    def configure(self, options: Any) -> None:
        if not isinstance(options, dict):
            return
        opts = options.get("yamlnet", options)
        if "imgsz" in opts:
            hw = input_size(opts["imgsz"])
            if hw is None:
                self.window_show_message(t.ShowMessageParams(t.MessageType.Warning, f"yamlnet: imgsz {opts['imgsz']!r} is not 640 or 640x384"))
            else:
                self.hw = hw
        if isinstance(opts.get("debounce_ms"), (int, float)) and opts["debounce_ms"] >= 0:
            self.debounce = opts["debounce_ms"] / 1000
        if "docs_url" in opts:
            self.docs = opts["docs_url"] or None

    def markdown(self, feature: str) -> bool:
        """Whether the client reads Markdown in hovers ("hover") or completion documentation ("completion")."""
        text = self.client_capabilities.text_document
        if text is None:
            return False
        if feature == "hover":
            formats = text.hover.content_format if text.hover else None
        else:
            item = text.completion.completion_item if text.completion else None
            formats = item.documentation_format if item else None
        return bool(formats) and t.MarkupKind.Markdown in formats  # type: ignore[operator]

    def current(self, uri: str) -> Analysis:
        """The analysis of the document's current text (analysed now when a change is still waiting)."""
        doc = self.workspace.get_text_document(uri)
        a = self.analyses.get(uri)
        if a is None or a.version != doc.version or a.text != doc.source:
            name = to_fs_path(uri) or uri
            try:
                a = carry_over(a, analyze_text(uri, name, doc.source, doc.version, self.hw))
            except Exception as e:  # a bug must not take the server down: it is reported as yamlnet's own (YN901)
                log.exception("analysis failed")
                a = Analysis(uri, name, doc.source, doc.version, self.hw, diagnostics=[internal_error(name, e)])
            self.analyses[uri] = a
        return a

    def publish(self, uri: str) -> None:
        self.timers.pop(uri, None)
        if uri not in self.workspace.text_documents:
            return
        a = self.current(uri)
        self.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri, features.lsp_diagnostics(a, self.docs), a.version))
        caps = self.client_capabilities.workspace
        if caps and caps.inlay_hint and caps.inlay_hint.refresh_support:
            self.workspace_inlay_hint_refresh(None)
        features.prepare_completion(a, self.markdown("completion"))  # the block list of this dialect, built once, not in a request
        self.collect_garbage()

    def collect_garbage(self) -> None:
        """Python's automatic full collections pause the process for up to ~0.1 s at random moments (the
        declarations, the grammar and lsprotocol's types are many objects), which would land inside requests.
        The server instead collects the young generations after each publish and everything once it is idle."""
        gc.collect(1)
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(IDLE_COLLECT_S, gc.collect)

    def schedule(self, uri: str) -> None:
        old = self.timers.pop(uri, None)
        if old is not None:
            old.cancel()
        self.timers[uri] = asyncio.get_running_loop().call_later(self.debounce, self.publish, uri)


server = YamlnetServer()


@server.feature(t.INITIALIZE)
def _initialize(ls: YamlnetServer, params: t.InitializeParams) -> None:
    ls.configure(params.initialization_options)


WARM_UP = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [[-1, 0], 1, Concat, [1]]\n"


@server.feature(t.INITIALIZED)
def _initialized(ls: YamlnetServer, params: t.InitializedParams) -> None:
    """Load the declarations, the expression grammar and the spec models now (about 0.1 s, once), so that the
    first document's analysis is as fast as the later ones."""
    analyze_text("warm-up", "warm-up.yaml", WARM_UP, hw=ls.hw)
    gc.collect()
    gc.freeze()  # what is loaded now lives as long as the server: no collection needs to look at it again
    gc.disable()  # collections run after each publish and when idle (YamlnetServer.collect_garbage)


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: YamlnetServer, params: t.DidOpenTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: YamlnetServer, params: t.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: YamlnetServer, params: t.DidSaveTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: YamlnetServer, params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    timer = ls.timers.pop(uri, None)
    if timer is not None:
        timer.cancel()
    ls.analyses.pop(uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri, []))


@server.feature(t.TEXT_DOCUMENT_INLAY_HINT)
def _inlay_hint(ls: YamlnetServer, params: t.InlayHintParams) -> list[t.InlayHint]:
    a = ls.current(params.text_document.uri)
    return features.inlay_hints(a, params.range.start.line, params.range.end.line)


@server.feature(t.TEXT_DOCUMENT_HOVER)
def _hover(ls: YamlnetServer, params: t.HoverParams) -> t.Hover | None:
    return features.hover(ls.current(params.text_document.uri), params.position, ls.markdown("hover"))


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: YamlnetServer, params: t.DefinitionParams) -> t.Location | None:
    return features.definition(ls.current(params.text_document.uri), params.position)


@server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix, t.CodeActionKind.Source]))
def _code_action(ls: YamlnetServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    return features.code_actions(ls.current(params.text_document.uri), params.range, ls.docs)


@server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=["[", ",", " "]))
def _completion(ls: YamlnetServer, params: t.CompletionParams) -> t.CompletionList:
    return features.completion(ls.current(params.text_document.uri), params.position, ls.markdown("completion"))


@server.feature(t.TEXT_DOCUMENT_SIGNATURE_HELP, t.SignatureHelpOptions(trigger_characters=["[", ","]))
def _signature_help(ls: YamlnetServer, params: t.SignatureHelpParams) -> t.SignatureHelp | None:
    return features.signature_help(ls.current(params.text_document.uri), params.position)


def serve() -> None:
    """Run the server on stdin/stdout until the client exits."""
    server.start_io()
