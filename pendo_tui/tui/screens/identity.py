"""Identity mapping: which Pendo field feeds each local identity.

The rules: docs/pendo-reference.md#identity-rules.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Select, Static, Switch

from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.form_row import FormRow, show_errors

FIELDS = [
    (
        "company_external_id",
        "Company external id",
        "matches companies.external_id; PES needs accountId",
    ),
    ("end_user_external_id", "End user external id", "'-' means: match end users by email only"),
    ("end_user_email", "End user email", "a visitor metadata field, e.g. agent.email"),
    ("end_user_name", "End user name", "written only where the local value is empty"),
    ("end_user_surname", "End user surname", ""),
    ("asset_id", "Asset id field", "its value is the asset's external id"),
    ("project_id", "Project id field", "its value is the project's external id"),
]


class IdentityPane(Pane):
    TITLE = "Identity"

    def compose(self) -> ComposeResult:
        ident = self.state.config.identity
        yield Static("Identity mapping", classes="pane-title")
        for field, label, help in FIELDS:
            yield FormRow(
                label,
                Input(getattr(ident, field) or "", id=f"id-{field}", classes="identity-field"),
                f"identity.{field}",
                help,
            )
        with Horizontal(classes="switch-box"):
            yield Switch(value=ident.auto_create_end_users, id="id-auto")
            yield Static(
                "Auto-create end users (only when the visitor's company id is populated and "
                "that company exists)"
            )
        companies = self.state.config.companies
        yield Static("Companies come from", classes="section-title")
        yield FormRow(
            "Source",
            Select(
                [
                    ("Pendo accounts (names from account metadata)", "pendo"),
                    ("SQL query", "sql"),
                    ("CSV file", "csv"),
                ],
                value=companies.source,
                allow_blank=False,
                id="co-source",
            ),
            "companies.source",
        )
        yield FormRow("Database URL", Input(companies.url or "", id="co-url"), "companies.url")
        yield FormRow(
            "Query (columns external_id, name)",
            Input(companies.query or "", id="co-query"),
            "companies.query",
        )
        yield FormRow("CSV path", Input(companies.path or "", id="co-path"), "companies.path")
        yield Static("", id="co-errors", classes="form-error")
        with Horizontal(classes="modal-buttons"):
            yield Button("Suggest fields from Pendo", id="id-suggest")
            yield Button("Preview matching (dry run)", id="id-preview", variant="primary")
            yield Static("", id="id-suggest-status")
        yield Static("", id="id-errors", classes="form-error")
        yield Static("", id="id-preview-result")

    @on(Button.Pressed, "#id-suggest")
    def load_suggestions(self) -> None:
        self.query_one("#id-suggest-status", Static).update("loading metadata schema…")
        self._load()

    @work(thread=True, exclusive=True, group="identity")
    def _load(self) -> None:
        with self.tui.guard():
            try:
                fields = self.engine.metadata_fields()
            except PendoTuiError as exc:  # shown in place, the inputs still work without it
                self.app.call_from_thread(self._loaded, [], str(exc).splitlines()[0])
                return
            self.app.call_from_thread(self._loaded, fields, "")

    def _loaded(self, fields: list[str], error: str) -> None:
        status = self.query_one("#id-suggest-status", Static)
        if error:
            status.update(f"[red]{escape(error)}[/]")
            return
        names = ["accountId", "visitorId", "-", *fields]
        suggester = SuggestFromList(names, case_sensitive=False)
        for field, _label, _help in FIELDS:
            self.query_one(f"#id-{field}", Input).suggester = suggester
        status.update(
            f"{len(fields)} metadata fields: "
            + ", ".join(fields[:12])
            + (" …" if len(fields) > 12 else "")
        )

    @on(Button.Pressed, "#id-preview")
    def preview(self) -> None:
        self.query_one("#id-preview-result", Static).update("matching Pendo's visitors…")
        self._preview()

    @work(thread=True, exclusive=True, group="identity-preview")
    def _preview(self) -> None:
        with self.tui.guard():
            try:
                result = self.engine.identity_preview()
            except PendoTuiError as exc:  # shown in place: the settings can still be edited
                self.app.call_from_thread(
                    self.query_one("#id-preview-result", Static).update,
                    f"[red]preview failed: {escape(str(exc))}[/]",
                )
                return
            self.app.call_from_thread(self._previewed, result)

    def _previewed(self, r: dict[str, object]) -> None:
        skipped = r.get("skipped") or {}
        examples = r.get("examples") or {}
        lines = [
            f"[b]{r.get('visitors', 0)}[/] visitors: "
            f"{r.get('matched_by_email', 0)} match by email, "
            f"{r.get('matched_by_id', 0)} match by id, "
            f"{r.get('would_create', 0)} would be created, "
            f"{sum(skipped.values()) if isinstance(skipped, dict) else 0} skipped"
        ]
        if isinstance(skipped, dict):
            for reason, n in skipped.items():
                ex = ", ".join(examples.get(f"skipped:{reason}", [])[:3])  # type: ignore[union-attr]
                lines.append(escape(f"  skipped ({reason}): {n}" + (f" — e.g. {ex}" if ex else "")))
        self.query_one("#id-preview-result", Static).update("\n".join(lines))

    def on_mount(self) -> None:
        self._show_company_fields()

    def _show_company_fields(self) -> None:
        source = self.query_one("#co-source", Select).value
        self.query_one("#co-url").parent.display = source == "sql"  # type: ignore[union-attr]
        self.query_one("#co-query").parent.display = source == "sql"  # type: ignore[union-attr]
        self.query_one("#co-path").parent.display = source == "csv"  # type: ignore[union-attr]

    @on(Select.Changed, "#co-source")
    @on(Input.Changed, "#co-url, #co-query, #co-path")
    def _apply_companies(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        self._show_company_fields()
        data = {
            "source": str(self.query_one("#co-source", Select).value),
            "url": self.query_one("#co-url", Input).value.strip() or None,
            "query": self.query_one("#co-query", Input).value.strip() or None,
            "path": self.query_one("#co-path", Input).value.strip() or None,
        }
        errors = self.state.propose({"companies": data})
        rest = show_errors(self, {k: v for k, v in errors.items() if k.startswith("companies")})
        self.query_one("#co-errors", Static).update(Text("\n".join(rest)))
        self.changed()

    @on(Input.Changed, ".identity-field")
    @on(Switch.Changed)
    def _apply(self) -> None:
        data = {
            field: (self.query_one(f"#id-{field}", Input).value.strip() or None)
            for field, _label, _help in FIELDS
        }
        data["company_external_id"] = data["company_external_id"] or "accountId"
        data["end_user_external_id"] = data["end_user_external_id"] or "visitorId"
        data["auto_create_end_users"] = self.query_one("#id-auto", Switch).value
        errors = self.state.propose({"identity": data})
        rest = show_errors(self, {k: v for k, v in errors.items() if k.startswith("identity")})
        self.query_one("#id-errors", Static).update(Text("\n".join(rest)))
        self.changed()
