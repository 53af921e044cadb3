"""Add/edit one pull mapping (docs/pull.md), with live pickers and an aggregation editor."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Select, Static, Switch, TextArea

from pendo_tui.errors import PendoTuiError
from pendo_tui.sync.session import EngineSession
from pendo_tui.tui.engine_access import engine, guard
from pendo_tui.tui.state import AppState
from pendo_tui.tui.widgets.editor_form import EditorForm
from pendo_tui.tui.widgets.form_row import FormRow
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
PICKABLE = ("page", "feature", "report")  # kinds whose id F4 / Pick… lists from Pendo
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


def pairs_problem(text: str, left: str = "column", right: str = "metric name") -> str | None:
    """Why ``a = b, c = d`` cannot be saved as typed, or None: nothing is dropped or
    guessed (an empty side, a name listed twice). Every problem is named."""
    seen: set[str] = set()
    problems: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        key, eq, value = (s.strip() for s in part.partition("="))
        if not key:
            problems.append(f"{part.strip()!r}: the {left} before '=' is missing")
        elif eq and not value:
            bare = (
                f" (write just {key!r} to name the metric after the column)"
                if (left, right) == ("column", "metric name")
                else ""
            )
            problems.append(f"{key!r} has '=' but no {right} after it{bare}")
        elif key in seen:
            problems.append(f"{left} {key!r} is listed twice")
        seen.add(key)
    return "; ".join(problems) or None


def list_problem(text: str, noun: str = "column") -> str | None:
    """Why a comma-separated list cannot be saved as typed (a name twice), or None."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    return f"{noun} {twice!r} is listed twice" if twice else None


def format_columns(columns: dict[str, str]) -> str:
    return ", ".join(f"{c} = {m}" for c, m in columns.items())


class PullEditor(EditorForm):
    PREFIX = "pe"
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
        self._tried = False  # after a refused save, every edit re-checks (fixed errors clear)
        # what Pendo said about the report/PES fields at the last save, and their values
        self._pendo_said: tuple[dict[str, Any], dict[str, str]] = ({}, {})

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
        self.refresh_bindings()  # F4 is offered only where there is something to pick

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick":
            return self.kind in PICKABLE
        return True

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
        if self.kind not in PICKABLE:
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

    def _patch(self, data: dict[str, Any]) -> dict[str, Any]:
        pull = [m.model_dump(exclude_defaults=True) for m in self.state.config.pull]
        if self.index is None:
            pull.append(data)
        else:
            pull[self.index] = data
        return {"pull": pull}

    def _errors(self, apply: bool, data: dict[str, Any] | None = None) -> dict[str, str]:
        """The form's problems (the pipeline's own checks first, then what Pendo said
        while the fields it judged are unchanged); ``apply`` saves when none."""
        data = self.collect() if data is None else data
        if "columns" in KIND_FIELDS[self.kind]:
            problem = pairs_problem(self.query_one("#pe-columns", Input).value)
            if problem:
                return {f"pull.{self.pos}.columns": problem}
        if self.kind == "aggregation":
            problems = self._pipeline_problems()
            if problems:
                return {f"pull.{self.pos}.pipeline": "fix the pipeline first: " + problems[0]}
        judged, said = self._pendo_said
        if said and _judged_fields(data) == judged:
            return {f"pull.{self.pos}.{k}": v for k, v in said.items()}
        patch = self._patch(data)
        return self.state.propose(patch) if apply else self.state.validate(patch)

    @on(Button.Pressed, "#pe-save")
    def action_save_mapping(self) -> None:
        data = self.collect()
        self._pendo_said = ({}, {})  # Pendo is asked again at each save
        errors = self._errors(apply=False, data=data)
        if not errors and self.kind in ("report", "pes"):  # ask Pendo first, off the loop
            box = self.query_one("#pe-errors", Static)
            box.update(Text("Checking with Pendo…"))
            box.display = True
            self._check_with_pendo(data)
            return
        self._save(data)

    @work(thread=True, exclusive=True, group="pe-check")
    def _check_with_pendo(self, data: dict[str, Any]) -> None:
        with guard(self.app):
            try:
                problems = engine(self.app).pull_mapping_problems(data)
            except PendoTuiError as exc:  # Pendo unreachable: save, say what was not checked
                self.app.call_from_thread(self._checked, data, None, str(exc))
                return
            self.app.call_from_thread(self._checked, data, problems, None)

    def _checked(
        self, data: dict[str, Any], problems: dict[str, str] | None, failure: str | None
    ) -> None:
        if not self.is_attached:  # the editor was closed while Pendo answered
            return
        if problems:
            self._pendo_said = (_judged_fields(data), problems)
        elif failure is not None:
            self.notify(
                f"Saved without checking it against Pendo ({failure}); --check will.",
                severity="warning",
                markup=False,
            )
        self._save(data)

    def _save(self, data: dict[str, Any]) -> None:
        """Save ``data`` if it holds no problem; else show each next to its field."""
        errors = self._errors(apply=True, data=data)
        self._close_or_point(errors)

    @on(Button.Pressed, "#pe-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


def _judged_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fields Pendo's check judges (a report's id and columns, a PES app)."""
    return {k: data.get(k) for k in ("kind", "id", "columns", "app")}


def _dump(steps: Any) -> str:
    import json

    return json.dumps(steps, indent=2) if steps else ""
