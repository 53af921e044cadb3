"""Connection: integration key, track secret, region or URL, profile, Check."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Select, Static, Switch

from pendo_tui.config.model import REGION_LABELS, REGIONS
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.state import SECRET_INTEGRATION_KEY, SECRET_TRACK
from pendo_tui.tui.widgets.connection_badge import ConnectionBadge
from pendo_tui.tui.widgets.form_row import FormRow

CUSTOM = "custom"


class ConnectionPane(Pane):
    TITLE = "Connection"

    def compose(self) -> ComposeResult:
        cfg = self.state.config
        domain = cfg.pendo.domain
        region = domain if domain in REGIONS else CUSTOM
        yield Static("Connection", classes="pane-title")
        if self.tui.first_run:
            from pendo_tui.tui.app import welcome_text

            yield Static(welcome_text(self.state.config_path), id="welcome")
        with Horizontal(classes="secret-box"):
            yield FormRow(
                "Integration key",
                Input(
                    "",  # filled by load_secrets() right after the first paint
                    password=True,
                    placeholder="paste the key (Settings → Integrations → Integration Keys)",
                    id="key",
                ),
                "secrets.integration_key",
                "stored in the OS keyring on Save, never in the TOML file",
            )
            with Horizontal(classes="switch-box"):
                yield Switch(value=False, id="reveal")
                yield Static("Reveal")
        yield FormRow(
            "Track event shared secret (only for event pushes)",
            Input("", password=True, id="track"),
            "secrets.track_secret",
        )
        options = [(label, key) for key, label in REGION_LABELS.items()]
        options.append(("Custom base URL (proxy, white-label, simulator)", CUSTOM))
        yield FormRow(
            "Region",
            Select(options, value=region, allow_blank=False, id="region"),
            "pendo.domain",
            "a key works only in the region its subscription lives in",
        )
        yield FormRow(
            "Custom base URL",
            Input(
                domain if region == CUSTOM else "",
                id="custom-url",
                placeholder="https://pendo.example.com",
            ),
            "pendo.custom",
        )
        yield FormRow(
            "Profile (names this file's keyring entries)",
            Input(cfg.profile, id="profile"),
            "profile",
        )
        yield Button("Check connection (ctrl+o)", id="check", variant="primary")
        yield ConnectionBadge(id="check-result", classes="big-status")

    def on_mount(self) -> None:
        self._show_custom()
        self.refresh_view()

    def refresh_view(self) -> None:
        self.query_one("#check-result", ConnectionBadge).status = self.state.connection

    def load_secrets(self) -> None:
        """Fill the secret fields from the keyring / environment. Called by the app right
        after the first paint: finding the keyring backend takes longer than drawing the
        whole screen. A field the user already typed into is left alone."""
        for field_id, name in (("#key", SECRET_INTEGRATION_KEY), ("#track", SECRET_TRACK)):
            field = self.query_one(field_id, Input)
            if not field.value:
                with field.prevent(Input.Changed):
                    field.value = self.state.secret(name) or ""

    def _show_custom(self) -> None:
        custom = self.query_one("#region", Select).value == CUSTOM
        self.query_one("#custom-url").parent.display = custom  # type: ignore[union-attr]

    @on(Switch.Changed, "#reveal")
    def _reveal(self, event: Switch.Changed) -> None:
        self.query_one("#key", Input).password = not event.value

    @on(Input.Changed, "#key")
    def _key(self, event: Input.Changed) -> None:
        self.state.set_secret(SECRET_INTEGRATION_KEY, event.value.strip())
        self.changed()

    @on(Input.Changed, "#track")
    def _track(self, event: Input.Changed) -> None:
        self.state.set_secret(SECRET_TRACK, event.value.strip())
        self.changed()

    @on(Select.Changed, "#region")
    @on(Input.Changed, "#custom-url")
    def _domain(self) -> None:
        self._show_custom()
        region = self.query_one("#region", Select).value
        domain = self.query_one("#custom-url", Input).value.strip() if region == CUSTOM else region
        if not domain:
            self.show_errors(
                {"pendo.custom": "enter a base URL such as https://pendo.example.com"}, "pendo"
            )
            self.changed()
            return
        pendo = self.state.config.pendo.model_dump()
        errors = self.state.propose({"pendo": {**pendo, "domain": domain}})
        if "pendo.domain" in errors and region == CUSTOM:
            errors["pendo.custom"] = errors.pop("pendo.domain")
        self.show_errors(errors, "pendo")
        self.changed()

    @on(Input.Changed, "#profile")
    def _profile(self, event: Input.Changed) -> None:
        self.show_errors(self.state.propose({"profile": event.value.strip()}), "profile")
        self.changed()

    @on(Button.Pressed, "#check")
    def _check(self) -> None:
        self.tui.action_check_connection()
