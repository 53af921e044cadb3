"""Add/edit one pull mapping (docs/pull.md), with live pickers and an aggregation editor."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Select, Static, Switch, TextArea

from pendo_tui.errors import PendoTuiError
from pendo_tui.sync.session import EngineSession
from pendo_tui.tui.engine_access import engine
from pendo_tui.tui.state import AppState
from pendo_tui.tui.widgets.form_row import FormRow, show_errors
from pendo_tui.tui.widgets.picker import PickerModal

KINDS = [
    ("Page events", "page"),
    ("Feature events", "feature"),
    ("Report", "report"),
    ("Aggregation pipeline", "aggregation"),
    ("PES (engagement score)", "pes"),
]
OBJECTS = [
    ("Company", "company"),
    ("End user", "end_user"),
    ("Asset", "asset"),
    ("Project", "project"),
]
# Which rows each kind shows; everything else is hidden.
KIND_FIELDS = {
    "page": {"id", "metric", "segment", "multi_app", "passive", "auto_create_users"},
    "feature": {"id", "metric", "segment", "multi_app", "passive", "auto_create_users"},
    "report": {"id", "columns", "multi_app"},
    "aggregation": {"pipeline", "columns", "multi_app", "auto_create_users"},
    "pes": {"app"},
}
EXAMPLE_PIPELINE = """[
  {"source": {"events": {"appId": "expandAppIds(\\"*\\")"},
              "timeSeries": {"period": "dayRange", "first": "now()", "count": -1}}},
  {"group": {"group": ["accountId"], "fields": {"minutes": {"sum": "numMinutes"}}}}
]"""


def parse_columns(text: str) -> dict[str, str]:
    """``col = metric, col2 = metric 2`` → {"col": "metric", ...}; a bare name maps to itself."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        col, _, metric = part.partition("=")
        out[col.strip()] = (metric or col).strip()
    return out


def columns_text_problems(text: str) -> list[str]:
    """Mistakes in ``col = metric, ...`` text that ``parse_columns`` would read silently."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        col, eq, metric = part.partition("=")
        if not col.strip():
            out.append(f"{part.strip()!r}: the column name before '=' is missing")
        elif eq and not metric.strip():
            out.append(
                f"{part.strip()!r}: the metric name after '=' is missing "
                f"(write just {col.strip()!r} to name the metric after the column)"
            )
    return out


def format_columns(columns: dict[str, str]) -> str:
    return ", ".join(f"{c} = {m}" for c, m in columns.items())


class PullEditor(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save_mapping", "Save mapping"),
        Binding("f4", "pick", "Pick from Pendo"),
    ]

    def __init__(self, state: AppState, index: int | None, kind: str = "page") -> None:
        super().__init__()
        self.state = state
        self.index = index
        self.pos = index if index is not None else len(state.config.pull)
        self.mapping = state.config.pull[index] if index is not None else None
        self.kind = self.mapping.kind if self.mapping else kind

    def _row(self, label: str, widget: Any, field: str, help: str = "") -> FormRow:
        row = FormRow(label, widget, f"pull.{self.pos}.{field}", help)
        row.add_class(f"f-{field}")
        return row

    def compose(self) -> ComposeResult:
        m = self.mapping
        segs = [(s.name or s.id, s.id) for s in self.state.config.segments]
        with VerticalScroll(classes="modal-box wide editor"):
            yield Static("Edit pull mapping" if m else "New pull mapping", classes="modal-title")
            yield self._row("Name", Input(m.name if m else "", id="pe-name"), "name")
            yield self._row(
                "Kind", Select(KINDS, value=self.kind, allow_blank=False, id="pe-kind"), "kind"
            )
            yield self._row(
                "Target object",
                Select(
                    OBJECTS, value=m.object if m else "company", allow_blank=False, id="pe-object"
                ),
                "object",
            )
            with Horizontal(classes="f-id-box"):
                yield self._row(
                    "Pendo id",
                    Input(m.id or "" if m else "", id="pe-id"),
                    "id",
                    "F4 or Pick… lists them from Pendo",
                )
                yield Button("Pick…", id="pe-pick")
            yield self._row(
                "Metric name (default: the mapping name)",
                Input((m.metric or "") if m else "", id="pe-metric"),
                "metric",
            )
            yield self._row(
                "Columns → metrics",
                Input(format_columns(m.columns) if m else "", id="pe-columns"),
                "columns",
                "column = metric name, comma separated; only numeric columns",
            )
            pipeline = (
                (m.pipeline if isinstance(m.pipeline, str) else _dump(m.pipeline)) if m else ""
            )
            yield self._row(
                "Aggregation pipeline (JSON)",
                TextArea(pipeline or EXAMPLE_PIPELINE, language="json", id="pe-pipeline"),
                "pipeline",
            )
            yield Static("", id="pe-pipeline-check")
            yield self._row(
                "App id (PES covers one app)",
                Input((m.app or "") if m else "-323232", id="pe-app"),
                "app",
            )
            yield self._row(
                "Segment",
                Select(
                    segs,
                    value=m.segment if m and m.segment else Select.NULL,
                    prompt="Everyone (no segment)",
                    id="pe-segment",
                ),
                "segment",
            )
            with Horizontal(classes="switches"):
                for field, label in (
                    ("multi_app", "Multi-app"),
                    ("passive", "Passive"),
                    ("auto_create_users", "Auto-create users"),
                    ("enabled", "Enabled"),
                ):
                    value = getattr(m, field) if m else field == "enabled"
                    with Horizontal(classes=f"switch-box f-{field}"):
                        yield Switch(value=value, id=f"pe-{field}")
                        yield Static(label)
            yield Static("", id="pe-errors", classes="form-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save mapping", variant="primary", id="pe-save")
                yield Button("Cancel", id="pe-cancel")
        yield Footer()  # this modal's own keys

    def on_mount(self) -> None:
        self._show_kind_fields()
        self._check_pipeline()
        self.query_one("#pe-name", Input).focus()

    @on(Select.Changed, "#pe-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self.kind = str(event.value)
        self._show_kind_fields()

    def _show_kind_fields(self) -> None:
        shown = KIND_FIELDS[self.kind]
        for field in (
            "id",
            "metric",
            "columns",
            "pipeline",
            "app",
            "segment",
            "multi_app",
            "passive",
            "auto_create_users",
        ):
            for w in self.query(f".f-{field}"):
                w.display = field in shown
        self.query_one(".f-id-box").display = "id" in shown
        self.query_one("#pe-pipeline-check").display = "pipeline" in shown

    @on(TextArea.Changed, "#pe-pipeline")
    @on(Select.Changed, "#pe-object")
    @on(Input.Changed, "#pe-columns")
    def _check_pipeline(self) -> None:
        if self.kind != "aggregation":
            return
        problems = self._pipeline_problems()
        label = self.query_one("#pe-pipeline-check", Static)
        label.update(
            Text("\n".join(f"✖ {p}" for p in problems) if problems else "✔ pipeline is valid")
        )
        label.set_class(bool(problems), "form-error")

    @on(Button.Pressed, "#pe-pick")
    def action_pick(self) -> None:
        if self.kind not in ("page", "feature", "report"):
            return
        kind = self.kind
        self.app.push_screen(
            PickerModal(f"Pick a {kind}", lambda: engine(self.app).catalog(kind)),
            self._picked,
        )

    def _picked(self, row: dict[str, Any] | None) -> None:
        if not row:
            return
        self.query_one("#pe-id", Input).value = row["id"]
        name = self.query_one("#pe-name", Input)
        if not name.value:
            name.value = row["name"]
        if row.get("columns") and not self.query_one("#pe-columns", Input).value:
            self.query_one("#pe-columns", Input).value = format_columns(
                {c: c for c in row["columns"]}
            )
        if row.get("note"):
            self.notify(row["note"], severity="warning", markup=False)

    def _pipeline_problems(self) -> list[str]:
        text = self.query_one("#pe-pipeline", TextArea).text
        obj = str(self.query_one("#pe-object", Select).value)
        columns = list(parse_columns(self.query_one("#pe-columns", Input).value))
        return EngineSession.validate_pipeline(text, obj, columns or None)

    def collect(self) -> dict[str, Any]:
        shown = KIND_FIELDS[self.kind]

        def text(wid: str) -> str | None:
            return self.query_one(wid, Input).value.strip() or None

        seg = self.query_one("#pe-segment", Select).value
        data: dict[str, Any] = {
            "name": self.query_one("#pe-name", Input).value.strip(),
            "kind": self.kind,
            "object": str(self.query_one("#pe-object", Select).value),
            "enabled": self.query_one("#pe-enabled", Switch).value,
        }
        if "id" in shown:
            data["id"] = text("#pe-id")
        if "metric" in shown:
            data["metric"] = text("#pe-metric")
        if "columns" in shown:
            data["columns"] = parse_columns(self.query_one("#pe-columns", Input).value)
        if "pipeline" in shown:
            data["pipeline"] = self.query_one("#pe-pipeline", TextArea).text
        if "app" in shown:
            data["app"] = text("#pe-app")
        if "segment" in shown and isinstance(seg, str):
            data["segment"] = seg
        for field in ("multi_app", "passive", "auto_create_users"):
            if field in shown:
                data[field] = self.query_one(f"#pe-{field}", Switch).value
        return data

    @on(Button.Pressed, "#pe-save")
    def action_save_mapping(self) -> None:
        data = self.collect()
        errors = self.query_one("#pe-errors", Static)
        if "columns" in KIND_FIELDS[self.kind]:
            problems = columns_text_problems(self.query_one("#pe-columns", Input).value)
            if problems:
                show_errors(self, {f"pull.{self.pos}.columns": "; ".join(problems)})
                errors.update(Text("Fix the columns first: " + problems[0]))
                return
        if self.kind == "aggregation":
            problems = self._pipeline_problems()
            if problems:
                errors.update("Fix the pipeline first: " + problems[0])
                return
        if self.kind in ("report", "pes"):  # ask Pendo first, off the event loop
            errors.update(Text("Checking with Pendo…"))
            self._check_with_pendo(data)
            return
        self._propose(data)

    @work(thread=True, exclusive=True, group="pe-check")
    def _check_with_pendo(self, data: dict[str, Any]) -> None:
        try:
            problems = engine(self.app).pull_mapping_problems(data)
        except PendoTuiError as exc:  # Pendo unreachable: save, and say what was not checked
            self.app.call_from_thread(self._checked, data, None, str(exc))
            return
        self.app.call_from_thread(self._checked, data, problems, None)

    def _checked(
        self, data: dict[str, Any], problems: dict[str, str] | None, failure: str | None
    ) -> None:
        if problems:
            rest = show_errors(self, {f"pull.{self.pos}.{k}": v for k, v in problems.items()})
            first = next(iter(problems.values()))
            self.query_one("#pe-errors", Static).update(Text("\n".join([first, *rest])))
            return
        if failure is not None:
            self.notify(
                f"Saved without checking it against Pendo ({failure}); --check will.",
                severity="warning",
                markup=False,
            )
        self._propose(data)

    def _propose(self, data: dict[str, Any]) -> None:
        pull = [m.model_dump(exclude_defaults=True) for m in self.state.config.pull]
        if self.index is None:
            pull.append(data)
        else:
            pull[self.index] = data
        errors = self.state.propose({"pull": pull})
        rest = show_errors(self, errors)
        self.query_one("#pe-errors", Static).update(Text("\n".join(rest)))
        if not errors:
            self.dismiss(True)

    @on(Button.Pressed, "#pe-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


def _dump(steps: Any) -> str:
    import json

    return json.dumps(steps, indent=2) if steps else ""
