"""Metrics: pick a metric and an object; daily values as a chart and a table."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Select, Static
from textual_plotext import PlotextPlot

from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.screens.base import Pane

SEP = "\x1f"  # joins metric and object type in one Select value


class MetricsPane(Pane):
    TITLE = "Metrics"
    FOCUS = "#m-metric"

    def compose(self) -> ComposeResult:
        yield Static("Metrics", classes="pane-title")
        with Horizontal(classes="inline-form"):
            yield Select([], prompt="Metric", id="m-metric")
            yield Select([], prompt="Object", id="m-object")
        yield Static("", id="m-status")
        yield PlotextPlot(id="m-chart")
        yield DataTable(id="m-table")

    def on_mount(self) -> None:
        self.query_one("#m-table", DataTable).add_columns("Day", "Value")

    def refresh_view(self) -> None:
        self._load_metrics()

    @work(thread=True, exclusive=True, group="m-metrics")
    def _load_metrics(self) -> None:
        with self.tui.guard():
            try:
                names = self.engine.metric_names()
            except PendoTuiError as exc:
                self.app.call_from_thread(self._status, f"store not readable: {exc}")
                return
            self.app.call_from_thread(self._metrics_loaded, names)

    def _status(self, text: str) -> None:
        self.query_one("#m-status", Static).update(Text(text))

    def _metrics_loaded(self, names: list[tuple[str, str]]) -> None:
        select = self.query_one("#m-metric", Select)
        current = select.value
        options = [(Text(f"{m} ({t})"), f"{m}{SEP}{t}") for m, t in names]
        select.set_options(options)
        if any(v == current for _l, v in options):
            select.value = current
        elif options:  # show something at once; the user picks another from the list
            select.value = options[0][1]
        self._status(
            f"{len(names)} metrics in the store: pick a metric and an object"
            if names
            else "No metrics yet: run a sync on the Run screen (F8)."
        )

    @on(Select.Changed, "#m-metric")
    def _metric_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            metric, object_type = event.value.split(SEP)
            self._load_objects(metric, object_type)

    @work(thread=True, exclusive=True, group="m-objects")
    def _load_objects(self, metric: str, object_type: str) -> None:
        with self.tui.guard():
            try:
                objects = self.engine.metric_objects(metric, object_type)
            except PendoTuiError as exc:  # store gone or unreachable: say so in place
                self.app.call_from_thread(self._status, f"store not readable: {exc}")
                return
            self.app.call_from_thread(self._objects_loaded, objects)

    def _objects_loaded(self, objects: list[str]) -> None:
        select = self.query_one("#m-object", Select)
        select.set_options((Text(o), o) for o in objects)
        if objects:
            select.value = objects[0]

    @on(Select.Changed, "#m-object")
    def _object_changed(self, event: Select.Changed) -> None:
        metric_value = self.query_one("#m-metric", Select).value
        if isinstance(event.value, str) and isinstance(metric_value, str):
            metric, object_type = metric_value.split(SEP)
            self._load_series(metric, object_type, event.value)

    @work(thread=True, exclusive=True, group="m-series")
    def _load_series(self, metric: str, object_type: str, object_id: str) -> None:
        with self.tui.guard():
            try:
                series = self.engine.metric_series(metric, object_type, object_id)
            except PendoTuiError as exc:
                self.app.call_from_thread(self._status, f"store not readable: {exc}")
                return
            self.app.call_from_thread(self._show_series, metric, object_id, series)

    def _show_series(self, metric: str, object_id: str, series: list[tuple[date, float]]) -> None:
        chart = self.query_one(PlotextPlot)
        plt: Any = chart.plt
        plt.clear_data()
        plt.clear_figure()
        plt.date_form("Y-m-d")
        days, values = [d.isoformat() for d, _ in series], [v for _, v in series]
        if len(series) > 2:
            plt.plot(days, values, marker="braille")
        elif series:  # one or two points: bars read better than an invisible dot
            plt.bar(days, values)
        plt.title(f"{metric} — {object_id}")
        chart.refresh()
        table = self.query_one("#m-table", DataTable)
        table.clear()
        for d, v in reversed(series):
            table.add_row(d.isoformat(), f"{v:g}")
        self._status(f"{len(series)} days")
