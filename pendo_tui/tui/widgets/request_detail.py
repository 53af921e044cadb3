"""Detail of one recorded HTTP call: pretty JSON bodies, redacted headers."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TabbedContent, TabPane, TextArea

MAX_SHOWN_CHARS = 200_000  # bodies are already truncated by the log; bound the view anyway


def pretty_body(body: str | None) -> str:
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)[:MAX_SHOWN_CHARS]
    except (ValueError, TypeError):
        return body[:MAX_SHOWN_CHARS]


def pretty_headers(headers: dict[str, Any] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())


class RequestDetail(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss_detail", "Close"),
        Binding("c", "copy_curl", "Copy as curl"),
    ]

    def __init__(self, record: Any, curl: str) -> None:
        super().__init__()
        self._r = record
        self._curl = curl

    def compose(self) -> ComposeResult:
        r = self._r
        with Vertical(classes="modal-box wide detail"):
            yield Static(
                escape(f"{r.method} {r.url}")
                + (f"\nmade by {escape(r.source)}" if r.source else "")
                + f"\nstatus {r.status or 'no response'} · "
                f"{r.duration_ms or 0:.0f} ms · attempt {r.attempt}"
                + (f"\n[red]{escape(str(r.error))}[/]" if r.error else ""),
                classes="modal-title",
                markup=True,
            )
            with TabbedContent():
                with TabPane("Response", id="tab-response"):
                    yield TextArea(pretty_body(r.response_body), read_only=True, language="json")
                with TabPane("Request", id="tab-request"):
                    yield TextArea(pretty_body(r.request_body), read_only=True, language="json")
                with TabPane("Headers", id="tab-headers"):
                    yield TextArea(
                        "# request\n"
                        + pretty_headers(r.request_headers)
                        + "\n\n# response\n"
                        + pretty_headers(r.response_headers),
                        read_only=True,
                    )
                with TabPane("curl", id="tab-curl"):
                    yield TextArea(self._curl, read_only=True, id="curl-text")
        yield Footer()  # this modal's own keys

    def action_copy_curl(self) -> None:
        self.app.copy_to_clipboard(self._curl)
        self.notify("curl command copied (key shown as $PENDO_INTEGRATION_KEY)")

    def action_dismiss_detail(self) -> None:
        self.dismiss(None)
