"""Where one visitor's usage lands — the single placement rule every pull kind calls.

A visitor's usage is dropped only when it can be placed nowhere (docs/pull.md, "Where
usage lands"):

- Anonymous visitors, rows without a visitor id and Do-Not-Process visitors are never
  placed.
- A **company** target counts every identified visitor whose company id is set and whose
  company exists in the store — whether or not an end user was matched or created.
- An **asset** / **project** target counts every identified visitor whose
  ``identity.asset_id`` / ``identity.project_id`` field has a value; the store keeps no
  asset or project table, so the id itself decides (no end user needed either).
- An **end_user** target, and every end-user activity, needs a matched or created end user.

The page, feature, report, aggregation and PES paths all ask ``place_visitor`` (or
``place_account`` for rows that carry an account but no visitor), so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from pendo_tui.sync.pull.identity import (
    SKIP_COMPANY_NOT_FOUND,
    SKIP_NO_COMPANY_ID,
    SKIP_NO_OBJECT_ID,
    SKIP_NULL_KEY,
    Decision,
    EndUser,
    VisitorFacts,
    screen,
)


@dataclass(frozen=True)
class Placement:
    """One visitor's (or account row's) place for one mapping."""

    end_user: EndUser | None  # end-user activities (and end_user targets) go here
    object_id: str | None  # the mapping's target object; None = no metric from this visitor
    company_id: str | None  # the visitor's company when it exists in the store
    dropped: str | None = None  # skip reason when nothing of this visitor can be stored


def company_reason(company_id: str | None, companies: Container[str]) -> str | None:
    """Why a company id cannot carry metrics (None: it can)."""
    if not company_id:
        return SKIP_NO_COMPANY_ID
    if company_id not in companies:
        return SKIP_COMPANY_NOT_FOUND
    return None


def place_visitor(
    target: str,
    facts: VisitorFacts,
    decision: Decision | None,
    companies: Container[str],
    *,
    activities: bool = False,
) -> Placement:
    """Place one visitor for a mapping whose metric target is ``target``.

    ``decision`` is the end-user identity decision (None where no end user is looked up,
    e.g. PES, which only writes company metrics). ``activities`` = the mapping also
    stores end-user activities (page / feature), so an end user alone is a place.
    """
    reason = screen(facts)
    if reason is not None:
        return Placement(None, None, None, reason)
    user = decision.end_user if decision is not None else None
    no_company = company_reason(facts.company_id, companies)
    company = facts.company_id if no_company is None else None
    if target == "company":
        object_id, why = company, no_company
    elif target == "end_user":
        object_id = user.object_id if user is not None else None
        why = (decision.reason if decision is not None else None) or SKIP_NO_OBJECT_ID
    else:
        object_id = facts.asset_id if target == "asset" else facts.project_id
        why = SKIP_NO_OBJECT_ID
    if object_id is not None or (activities and user is not None):
        return Placement(user, object_id, company)
    return Placement(user, None, company, why)


def place_account(account_id: object, companies: Container[str]) -> Placement:
    """Place a row that names an account but no visitor (account-level report or
    aggregation rows): the same company rule, without the visitor part."""
    account = str(account_id).strip() if account_id not in (None, "") else ""
    if not account:
        return Placement(None, None, None, SKIP_NULL_KEY)
    why = company_reason(account, companies)
    return Placement(None, account if why is None else None, None, why)
