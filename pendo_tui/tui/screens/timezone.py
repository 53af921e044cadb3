"""Timezone and history window (docs/pendo-reference.md#windows-and-timezone-rules)."""

from __future__ import annotations

from zoneinfo import available_timezones

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.form_row import FormRow, show_errors

UNSET_EXPLAINED = (
    "No timezone set: Pendo's day buckets are unknown here, so every sync re-reads the last "
    "2 days (metrics trail one day)."
)


class TimezonePane(Pane):
    TITLE = "Timezone & history"
    FOCUS = "#tz-filter"

    def compose(self) -> ComposeResult:
        pendo = self.state.config.pendo
        yield Static("Timezone & history", classes="pane-title")
        yield Static("", id="tz-current")
        yield Input(
            placeholder="Search timezones (e.g. new_york, berlin); Enter picks the first match",
            id="tz-filter",
        )
        yield OptionList(id="tz-list")
        yield Button("Unset timezone", id="tz-unset")
        yield FormRow(
            "Days to sync (1–365)",
            Input(str(pendo.days_to_sync), type="integer", id="tz-days"),
            "pendo.days_to_sync",
            "how much history Re-sync all rebuilds; a new mapping's first sync covers it too",
        )

    def on_mount(self) -> None:
        self._zones = sorted(available_timezones())
        self._filter("")
        self.refresh_view()

    def refresh_view(self) -> None:
        tz = self.state.config.pendo.timezone
        self.query_one("#tz-current", Static).update(
            f"Subscription timezone: [b]{tz}[/] — data is complete up to yesterday in this zone."
            if tz
            else UNSET_EXPLAINED
        )

    @on(Input.Changed, "#tz-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter(event.value)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower().replace(" ", "_")
        options = self.query_one("#tz-list", OptionList)
        options.clear_options()
        options.add_options(Option(z, id=z) for z in self._zones if needle in z.lower())

    @on(Input.Submitted, "#tz-filter")
    def _submit_filter(self) -> None:
        """Enter in the search box picks the highlighted (else the first) match."""
        options = self.query_one("#tz-list", OptionList)
        if options.option_count:
            option = options.get_option_at_index(options.highlighted or 0)
            self._set_tz(option.id)

    @on(OptionList.OptionSelected, "#tz-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._set_tz(event.option.id)

    @on(Button.Pressed, "#tz-unset")
    def _unset(self) -> None:
        self._set_tz(None)

    def _set_tz(self, tz: str | None) -> None:
        pendo = self.state.config.pendo.model_dump()
        show_errors(self, self.state.propose({"pendo": {**pendo, "timezone": tz}}))
        self.refresh_view()
        self.changed()

    @on(Input.Changed, "#tz-days")
    def _days(self, event: Input.Changed) -> None:
        try:
            days = int(event.value)
        except ValueError:
            show_errors(self, {"pendo.days_to_sync": "enter a whole number of days, 1–365"})
            return
        pendo = self.state.config.pendo.model_dump()
        show_errors(self, self.state.propose({"pendo": {**pendo, "days_to_sync": days}}))
        self.changed()
