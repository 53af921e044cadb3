"""Run alerts through apprise (Slack, PagerDuty, email, SMS, webhooks).

Alerting must never turn a finished run into a crash: delivery failures are returned as
messages for the run summary, not raised.
"""

from __future__ import annotations

import json
from typing import Any

from pendo_tui.config.model import AlertSettings


def alert_reason(settings: AlertSettings, status: str, problem_rows: int) -> str | None:
    """Why this run should alert, or None. ``problem_rows`` = skipped + rejected rows."""
    if status == "failed" and "failure" in settings.on:
        return "failure"
    threshold = settings.rejected_threshold
    if "rejected" in settings.on and threshold is not None and problem_rows > threshold:
        return "rejected"
    return None


def send_alerts(settings: AlertSettings, reason: str, summary: dict[str, Any]) -> list[str]:
    """Notify every configured URL; return human-readable delivery problems (empty = all sent)."""
    if not settings.urls:
        return []
    import apprise  # imported lazily: it is slow to import and most runs never alert

    title = f"pendo-tui run {summary.get('run_id')} {summary.get('status')} ({reason})"
    body = _alert_body(summary)
    problems: list[str] = []
    for url in settings.urls:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            problems.append(f"alert URL not understood by apprise: {_redact_url(url)}")
            continue
        if not notifier.notify(title=title, body=body):
            problems.append(f"alert could not be delivered to {_redact_url(url)}")
    return problems


def _alert_body(summary: dict[str, Any]) -> str:
    lines = [f"status: {summary.get('status')}"]
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    totals = summary.get("totals", {})
    lines.append("totals: " + json.dumps(totals, sort_keys=True))
    for item in summary.get("items", []):
        err = f" — {item['error']}" if item.get("error") else ""
        lines.append(f"{item['type']} {item['name']}: {item['status']}{err}")
    return "\n".join(lines)


def _redact_url(url: str) -> str:
    """Alert URLs carry tokens (Slack, PagerDuty): show only the scheme and host."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"
