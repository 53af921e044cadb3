"""Segments: segment id → name, picked from Pendo or typed."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Static

from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.picker import PickerModal


class SegmentsPane(Pane):
    TITLE = "Segments"
    FOCUS = "#seg-table"
    BINDINGS = [
        Binding("a", "add_segment", "Add"),
        Binding("delete", "remove_segment", "Remove"),
        Binding("p", "pick_segment", "Pick", tooltip="Pick a segment from Pendo"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Segments", classes="pane-title")
        yield Static(
            "Page and feature mappings can be limited to one of these segments.",
            classes="form-help",
        )
        yield DataTable(id="seg-table", cursor_type="row")
        with Horizontal(classes="inline-form"):
            yield Input(placeholder="segment id", id="seg-id")
            yield Input(placeholder="name", id="seg-name")
            yield Button("Add / update", id="seg-add", variant="primary")
            yield Button("Pick from Pendo (p)", id="seg-pick")
            yield Button("Remove", id="seg-remove", variant="error")
        yield Static("", id="seg-errors", classes="form-error")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Segment id", "Name", "Used by")
        self.refresh_view()

    def refresh_view(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for seg in self.state.config.segments:
            users = [m.name for m in self.state.config.pull if m.segment == seg.id]
            table.add_row(Text(seg.id), Text(seg.name), Text(", ".join(users)), key=seg.id)
        self.hint_if_empty(
            table,
            "No segments yet: press p to pick one from Pendo, or type an id and a name "
            "below and press a (Add).",
        )

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Like Apps: the highlighted row fills the form, to edit it."""
        seg = next((s for s in self.state.config.segments if s.id == event.row_key.value), None)
        if seg:
            self.query_one("#seg-id", Input).value = seg.id
            self.query_one("#seg-name", Input).value = seg.name

    def _set(self, segments: list[dict[str, str]], edited: str | None = None) -> None:
        errors = self.state.propose({"segments": segments})
        self.query_one("#seg-errors", Static).update(Text("\n".join(errors.values())))
        self.refresh_view()
        if edited is not None and not errors:
            table = self.query_one(DataTable)
            for i, seg in enumerate(self.state.config.segments):
                if seg.id == edited:
                    table.move_cursor(row=i)
        self.changed()

    @on(Button.Pressed, "#seg-add")
    @on(Input.Submitted)
    def action_add_segment(self) -> None:
        seg_id = self.query_one("#seg-id", Input).value.strip()
        name = self.query_one("#seg-name", Input).value.strip()
        if not seg_id:
            self.query_one("#seg-errors", Static).update("enter a segment id")
            return
        segs = [s.model_dump() for s in self.state.config.segments]
        for s in segs:
            if s["id"] == seg_id:  # update in place: the row keeps its position
                s["name"] = name
                break
        else:
            segs.append({"id": seg_id, "name": name})
        self._set(segs, edited=seg_id)

    @on(Button.Pressed, "#seg-remove")
    def action_remove_segment(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        seg_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self._set([s.model_dump() for s in self.state.config.segments if s.id != seg_id])

    @on(Button.Pressed, "#seg-pick")
    def action_pick_segment(self) -> None:
        self.app.push_screen(
            PickerModal("Pendo segments", lambda: self.engine.catalog("segment")),
            self._picked,
        )

    def _picked(self, row: dict[str, str] | None) -> None:
        """Like Apps: the pick fills the form; Enter (or Add / update) adds the row."""
        if row:
            self.query_one("#seg-id", Input).value = row["id"]
            self.query_one("#seg-name", Input).value = row["name"]
            self.query_one("#seg-name", Input).focus()
            self.query_one("#seg-errors", Static).update(
                Text(f"Picked segment {row['id']}: edit its name if you like, then Enter adds it")
            )
