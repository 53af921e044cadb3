"""No silent zeros: the sentences a pull run (or dry run) adds to a mapping's ``warnings``.

A mapping that fetched rows but wrote none, or dropped more than half of its visitors,
says how many, why, and the setting that would change it — one sentence per reason.
Pure text over counts; the engine decides when to call it.
"""

from __future__ import annotations

from pendo_tui.config.model import Config, PullMapping
from pendo_tui.sync.pull.identity import (
    SKIP_ANONYMOUS,
    SKIP_AUTO_CREATE_OFF,
    SKIP_COMPANY_NOT_FOUND,
    SKIP_DO_NOT_PROCESS,
    SKIP_NO_COMPANY_ID,
    SKIP_NO_EMAIL,
    SKIP_NO_OBJECT_ID,
    SKIP_NULL_KEY,
)

EXAMPLES = 3  # visitor ids kept per skip reason


def reason_text(reason: str, config: Config, target: str = "company") -> str:
    """``why — what to change`` for one skip reason (``target``: the mapping's object)."""
    ident = config.identity
    if reason == SKIP_AUTO_CREATE_OFF:
        return (
            "no matching end user and auto-create is off — set "
            "identity.auto_create_end_users or this mapping's auto_create_users"
        )
    if reason == SKIP_NO_COMPANY_ID:
        return (
            f"no company id in the visitor field {ident.company_external_id!r} — set "
            "identity.company_external_id to the field that holds the company id"
        )
    if reason == SKIP_COMPANY_NOT_FOUND:
        return (
            "their company id is not among the stored companies — add those companies to "
            f"the companies source ([companies] source = {config.companies.source!r}) or "
            "check identity.company_external_id"
        )
    if reason == SKIP_NO_EMAIL:
        field = ident.end_user_email or "unset"
        return (
            'end users are matched by email only (identity.end_user_external_id = "-") and '
            f"these visitors have no usable email (identity.end_user_email = {field}) — set "
            "identity.end_user_email, or an id field in identity.end_user_external_id"
        )
    if reason == SKIP_NO_OBJECT_ID:
        key = "asset_id" if target == "asset" else "project_id"
        if target in ("asset", "project"):
            field = getattr(ident, key) or "unset"
            return (
                f"no {target} id in the visitor field (identity.{key} = {field}) — "
                f"set identity.{key} to the field that holds it"
            )
        return "no end user to place them on — set identity.auto_create_end_users"
    if reason == SKIP_ANONYMOUS:
        return (
            "anonymous visitors (no login id) — no setting changes this; a segment can "
            "leave them out"
        )
    if reason == SKIP_DO_NOT_PROCESS:
        return "marked Do Not Process in Pendo — no setting changes this"
    if reason == SKIP_NULL_KEY:
        return (
            "rows without a visitor or account id — group the pipeline (or report) by "
            "visitorId or accountId"
        )
    return f"{reason}"


def skip_lines(
    skipped: dict[str, int], total: int, unit: str, config: Config, target: str,
    verb: str = "skipped",
) -> list[str]:  # fmt: skip
    """One sentence per reason, most frequent first."""
    return [
        f"{n} of {total} {unit} {verb}: {reason_text(reason, config, target)}"
        for reason, n in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
        if n
    ]


def run_warnings(
    config: Config,
    mapping: PullMapping,
    *,
    rows_fetched: int,
    rows_written: int,
    skipped: dict[str, int],
    seen: int,
    unit: str = "visitors",
) -> list[str]:
    """Warnings for one mapping's finished sync (empty when nothing is wrong)."""
    dropped = sum(skipped.values())
    total = max(seen, dropped)
    out: list[str] = []
    if rows_fetched and not rows_written:
        if dropped:
            out.append(f"{rows_fetched} rows fetched but nothing written")
        else:
            out.append(
                f"{rows_fetched} rows fetched but nothing written: no row carried a value "
                f"for this mapping — check its columns ({', '.join(mapping.columns) or 'none'})"
                f", object ({mapping.object}) and id"
            )
    if dropped and (out or 2 * dropped > total):
        out.extend(skip_lines(skipped, total, unit, config, mapping.object))
    return out


def preview_warnings(
    config: Config, mapping: PullMapping, skipped: dict[str, int], total: int
) -> list[str]:
    """Dry run: the same sentences when most of the subscription's visitors would be
    dropped by this mapping."""
    dropped = sum(skipped.values())
    if not total or 2 * dropped <= total:
        return []
    verb = "would be skipped"
    return skip_lines(skipped, total, "visitors", config, mapping.object, verb=verb)


def identity_preview_warnings(config: Config, skipped: dict[str, int], total: int) -> list[str]:
    """The identity preview: most visitors would get no end user. Their company, asset
    and project metrics still count; their activities and end-user metrics do not."""
    dropped = sum(skipped.values())
    if not total or 2 * dropped <= total:
        return []
    verb = "would get no end user"
    lines = skip_lines(skipped, total, "visitors", config, "end_user", verb=verb)
    return [
        *lines,
        "visitors without an end user still count in company, asset and project metrics, "
        "but not in activities or end-user metrics",
    ]
