"""Add/edit one push sync (docs/push.md): model, destination, field mapping, behaviour."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, Footer, Input, Select, Static, Switch

from pendo_tui.config.model import ModelSource
from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.engine_access import engine, guard
from pendo_tui.tui.state import AppState
from pendo_tui.tui.widgets.editor_form import EditorForm
from pendo_tui.tui.widgets.form_row import FormRow
from pendo_tui.tui.widgets.pull_editor import (
    format_columns,
    list_problem,
    pairs_problem,
    parse_columns,
)

KINDS = [
    ("Track events", "events"),
    ("Visitor metadata", "visitor"),
    ("Account metadata", "account"),
    ("Parent account metadata", "parent_account"),
]
EVENT_FIELDS = ("event", "event_column", "timestamp", "visitor_id", "account_id", "properties")
OBJECT_FIELDS = ("match", "group", "fields", "create_missing_fields")
COLUMN_INPUTS = ("primary_key", "event_column", "timestamp", "visitor_id", "account_id", "match")


class PushEditor(EditorForm):
    PREFIX = "ps"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save_sync", "Save sync"),
        Binding("f5", "load_columns", "Read model columns"),
    ]

    def __init__(self, state: AppState, index: int | None) -> None:
        super().__init__()
        self.state = state
        self.index = index
        self.pos = index if index is not None else len(state.config.push)
        self.sync = state.config.push[index] if index is not None else None
        self.kind = self.sync.kind if self.sync else "events"
        self._tried = False  # after a refused save, every edit re-checks (fixed errors clear)

    def _row(self, label: str, widget: Any, field: str, help: str = "") -> FormRow:
        row = FormRow(label, widget, f"push.{self.pos}.{field}", help)
        row.add_class(f"f-{field.replace('.', '_')}")
        return row

    def _input(self, field: str, placeholder: str = "") -> Input:
        value = getattr(self.sync, field, None) if self.sync else None
        if isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, dict):
            value = format_columns(value)
        return Input(str(value or ""), placeholder=placeholder, id=f"ps-{field}")

    def compose(self) -> ComposeResult:
        s = self.sync
        model = s.model if s else None
        source = "csv" if model and model.csv else "sql"
        with VerticalScroll(classes="modal-box wide editor"):
            yield Static("Edit push sync" if s else "New push sync", classes="modal-title")
            yield self._row("Name", self._input("name"), "name")
            yield self._row(
                "Destination",
                Select(KINDS, value=self.kind, allow_blank=False, id="ps-kind"),
                "kind",
            )
            yield self._row(
                "Model source",
                Select(
                    [("SQL query", "sql"), ("CSV file", "csv")],
                    value=source,
                    allow_blank=False,
                    id="ps-source",
                ),
                "model",
            )
            yield self._row(
                "Database URL (SQLAlchemy)",
                Input(
                    model.url or "" if model else "",
                    id="ps-url",
                    placeholder="postgresql+psycopg://user@host/db",
                ),
                "model.url",
            )
            yield self._row(
                "Query",
                Input(
                    model.query or "" if model else "",
                    id="ps-query",
                    placeholder="SELECT ... FROM ...",
                ),
                "model.query",
            )
            yield self._row(
                "CSV path", Input(model.csv or "" if model else "", id="ps-csv"), "model.csv"
            )
            with Horizontal(classes="modal-buttons"):
                yield Button("Read columns (F5)", id="ps-load")
                yield Static("", id="ps-columns")
            yield self._row(
                "Primary key column",
                self._input("primary_key"),
                "primary_key",
                "unique per row: delivered keys are never sent again",
            )
            yield self._row("Static event name", self._input("event"), "event")
            yield self._row(
                "Event name column (instead of a static name)",
                self._input("event_column"),
                "event_column",
            )
            yield self._row(
                "Timestamp column (empty: Pendo's arrival time)",
                self._input("timestamp"),
                "timestamp",
            )
            yield self._row("Visitor id column (required)", self._input("visitor_id"), "visitor_id")
            yield self._row(
                "Account id column (recommended)", self._input("account_id"), "account_id"
            )
            yield self._row(
                "Property columns", self._input("properties", "col1, col2"), "properties"
            )
            yield self._row(
                "Match: model column holding the Pendo id", self._input("match"), "match"
            )
            yield self._row(
                "Metadata group",
                Select(
                    [("custom", "custom"), ("agent", "agent")],
                    value=s.group if s else "custom",
                    allow_blank=False,
                    id="ps-group",
                ),
                "group",
            )
            yield self._row(
                "Fields (Pendo field = model column)",
                self._input("fields", "plan = plan_name, seats = seat_count"),
                "fields",
            )
            yield self._row(
                "When a row vanishes from the model",
                Select(
                    [("Do nothing", "nothing"), ("Delete what this sync wrote", "delete")],
                    value=s.on_delete if s else "nothing",
                    allow_blank=False,
                    id="ps-on_delete",
                ),
                "on_delete",
            )
            with Horizontal(classes="switches"):
                for field, label in (
                    ("split_retries", "Split retries"),
                    ("create_missing_fields", "Create missing fields"),
                    ("enabled", "Enabled"),
                ):
                    default = field != "create_missing_fields"
                    with Horizontal(classes=f"switch-box f-{field}"):
                        yield Switch(value=getattr(s, field) if s else default, id=f"ps-{field}")
                        yield Static(label)
            yield Static("", id="ps-errors", classes="form-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save sync", variant="primary", id="ps-save")
                yield Button("Cancel", id="ps-cancel")
        yield Footer()  # this modal's own keys

    def on_mount(self) -> None:
        self._show_fields()
        self.query_one("#ps-name", Input).focus()

    @on(Select.Changed, "#ps-kind")
    @on(Select.Changed, "#ps-source")
    def _changed(self) -> None:
        self.kind = str(self.query_one("#ps-kind", Select).value)
        self._show_fields()

    def _show_fields(self) -> None:
        events = self.kind == "events"
        csv = self.query_one("#ps-source", Select).value == "csv"
        for f in EVENT_FIELDS:
            self.query_one(f".f-{f}").display = events
        for f in OBJECT_FIELDS:
            self.query_one(f".f-{f}").display = not events
        self.query_one(".f-model_url").display = not csv
        self.query_one(".f-model_query").display = not csv
        self.query_one(".f-model_csv").display = csv

    def _model(self) -> dict[str, Any]:
        if self.query_one("#ps-source", Select).value == "csv":
            return {"csv": self.query_one("#ps-csv", Input).value.strip()}
        return {
            "url": self.query_one("#ps-url", Input).value.strip(),
            "query": self.query_one("#ps-query", Input).value.strip(),
        }

    @on(Button.Pressed, "#ps-load")
    def action_load_columns(self) -> None:
        self._read_columns(self._model())

    @work(thread=True, exclusive=True)
    def _read_columns(self, model: dict[str, Any]) -> None:
        with guard(self.app):
            try:
                cols = engine(self.app).model_columns(ModelSource.model_validate(model))
            except (PendoTuiError, ValidationError) as exc:  # bad URL, query, path: in place
                self.app.call_from_thread(self._columns_loaded, [], str(exc).splitlines()[0])
                return
            self.app.call_from_thread(self._columns_loaded, cols, "")

    def _columns_loaded(self, cols: list[str], error: str) -> None:
        label = self.query_one("#ps-columns", Static)
        label.update(f"[red]{escape(error)}[/]" if error else escape("columns: " + ", ".join(cols)))
        if cols:
            suggester = SuggestFromList(cols, case_sensitive=False)
            for f in COLUMN_INPUTS:
                self.query_one(f"#ps-{f}", Input).suggester = suggester

    def collect(self) -> dict[str, Any]:
        def text(field: str) -> str | None:
            return self.query_one(f"#ps-{field}", Input).value.strip() or None

        data: dict[str, Any] = {
            "name": text("name") or "",
            "kind": self.kind,
            "model": self._model(),
            "primary_key": text("primary_key") or "",
            "split_retries": self.query_one("#ps-split_retries", Switch).value,
            "on_delete": str(self.query_one("#ps-on_delete", Select).value),
            "enabled": self.query_one("#ps-enabled", Switch).value,
        }
        if self.kind == "events":
            for f in ("event", "event_column", "timestamp", "visitor_id", "account_id"):
                data[f] = text(f)
            props = self.query_one("#ps-properties", Input).value
            data["properties"] = (
                parse_columns(props)  # property = column, as the TOML table allows
                if "=" in props
                else [p.strip() for p in props.split(",") if p.strip()]
            )
        else:
            data["match"] = text("match")
            data["group"] = str(self.query_one("#ps-group", Select).value)
            data["fields"] = parse_columns(self.query_one("#ps-fields", Input).value)
            data["create_missing_fields"] = self.query_one(
                "#ps-create_missing_fields", Switch
            ).value
        if self.sync:  # keep settings the form does not show (batch size, concurrency)
            data = {
                **self.sync.model_dump(include={"batch_size", "concurrency", "send_old_events"}),
                **data,
            }
        return data

    def _patch(self) -> dict[str, Any]:
        push = [s.model_dump(exclude_defaults=True) for s in self.state.config.push]
        if self.index is None:
            push.append(self.collect())
        else:
            push[self.index] = self.collect()
        return {"push": push}

    def _list_errors(self) -> dict[str, str]:
        """Lists the form would otherwise save other than typed (a name twice, an empty side)."""
        base = f"push.{self.pos}"
        if self.kind == "events":
            props = self.query_one("#ps-properties", Input).value
            problem = (
                pairs_problem(props, "property", "column") if "=" in props else list_problem(props)
            )
            return {f"{base}.properties": problem} if problem else {}
        problem = pairs_problem(self.query_one("#ps-fields", Input).value, "Pendo field", "column")
        return {f"{base}.fields": problem} if problem else {}

    def _errors(self, apply: bool) -> dict[str, str]:
        listed = self._list_errors()
        if listed:
            return listed
        return self.state.propose(self._patch()) if apply else self.state.validate(self._patch())

    @on(Button.Pressed, "#ps-save")
    def action_save_sync(self) -> None:
        errors = self._errors(apply=True)
        self._close_or_point(errors)

    @on(Button.Pressed, "#ps-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
