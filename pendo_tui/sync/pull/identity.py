"""Identity rules: which local end user a Pendo visitor is, or why it is skipped.

The rules in prose: docs/pendo-reference.md#identity-rules; where usage lands: docs/pull.md.

Pure logic over an in-memory index of the store's end users and companies, loaded once
per run (bounded by the size of those tables) so matching costs a dict lookup, not a
query per row. The engine writes what the decisions say; nothing here touches the store.

Rules:
1. Email is used to match or create only when it is mapped, the visitor's company id is
   populated, that company exists, and auto-create is on for the mapping.
2. Matching tries email first (when usable and the visitor has one), then external id.
3. An unmatched visitor becomes a new end user only when auto-create is on (global
   toggle or the mapping's own), its company id is populated and that company exists.
   Otherwise it gets no end user (the decision says why) — never an error. Whether its
   usage is then dropped is ``placement.py``'s call: company, asset and project
   metrics do not need an end user.
4. Name, surname and email are written only where the local value is empty.
5. Anonymous visitors, null ids and Do-Not-Process visitors are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pendo_tui.config.model import IdentitySettings

ANONYMOUS_PREFIX = "_PENDO_T_"
EMAIL_ONLY = "-"

# Skip reasons, as counted in the run summary.
SKIP_NULL_KEY = "null_key"
SKIP_ANONYMOUS = "anonymous"
SKIP_DO_NOT_PROCESS = "do_not_process"
SKIP_AUTO_CREATE_OFF = "auto_create_off"
SKIP_NO_COMPANY_ID = "no_company_id"
SKIP_COMPANY_NOT_FOUND = "company_not_found"
SKIP_NO_EMAIL = "no_email"
SKIP_NO_OBJECT_ID = "no_object_id"
SKIP_REASONS = (
    SKIP_NULL_KEY,
    SKIP_ANONYMOUS,
    SKIP_DO_NOT_PROCESS,
    SKIP_AUTO_CREATE_OFF,
    SKIP_NO_COMPANY_ID,
    SKIP_COMPANY_NOT_FOUND,
    SKIP_NO_EMAIL,
    SKIP_NO_OBJECT_ID,
)

MATCHED_EMAIL = "matched_email"
MATCHED_ID = "matched_id"
CREATED = "created"
SKIPPED = "skipped"


def field_value(record: Mapping[str, Any], path: str | None) -> Any:
    """Resolve a configured field: top-level (``visitorId``) or metadata (``agent.email``).

    ``metadata.agent.email`` is accepted too. Missing parts give None, never an error.
    """
    if not path:
        return None
    if path in record:
        return record[path]
    parts = path.split(".")
    if parts[0] == "metadata":
        parts = parts[1:]
    node: Any = record.get("metadata")
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, node.get(part.lower()))
    return node


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class VisitorFacts:
    """What the identity settings pick out of one visitor (and its event row)."""

    visitor_id: str | None
    external_id: str | None
    company_id: str | None
    email: str | None = None
    name: str | None = None
    surname: str | None = None
    asset_id: str | None = None
    project_id: str | None = None
    do_not_process: bool = False


def visitor_facts(
    settings: IdentitySettings,
    record: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
) -> VisitorFacts:
    """Extract identity facts from an event row plus the visitor's metadata (if fetched)."""
    merged: dict[str, Any] = dict(record)
    if metadata is not None:
        merged["metadata"] = metadata
    meta = merged.get("metadata") if isinstance(merged.get("metadata"), Mapping) else {}
    pendo_group = meta.get("pendo") if isinstance(meta, Mapping) else None
    dnp = bool(isinstance(pendo_group, Mapping) and pendo_group.get("donotprocess"))
    ext_field = settings.end_user_external_id
    return VisitorFacts(
        visitor_id=_text(merged.get("visitorId")),
        external_id=None if ext_field == EMAIL_ONLY else _text(field_value(merged, ext_field)),
        company_id=_text(field_value(merged, settings.company_external_id)),
        email=_text(field_value(merged, settings.end_user_email)),
        name=_text(field_value(merged, settings.end_user_name)),
        surname=_text(field_value(merged, settings.end_user_surname)),
        asset_id=_text(field_value(merged, settings.asset_id)),
        project_id=_text(field_value(merged, settings.project_id)),
        do_not_process=dnp or bool(merged.get("doNotProcess")),
    )


def screen(facts: VisitorFacts) -> str | None:
    """Rule 5: the skip reason of a visitor nothing may be stored for, else None."""
    if facts.visitor_id is None:
        return SKIP_NULL_KEY
    if facts.visitor_id.startswith(ANONYMOUS_PREFIX):
        return SKIP_ANONYMOUS
    if facts.do_not_process:
        return SKIP_DO_NOT_PROCESS
    return None


@dataclass
class EndUser:
    """The columns of an ``end_users`` row that identity decisions read or fill."""

    id: int
    external_id: str | None
    email: str | None
    name: str | None = None
    surname: str | None = None
    company_external_id: str | None = None

    @property
    def object_id(self) -> str:
        """Spec §9: an end user matched by email only is keyed by its email."""
        return self.external_id or self.email or str(self.id)


@dataclass
class Decision:
    outcome: str  # MATCHED_EMAIL | MATCHED_ID | CREATED | SKIPPED
    end_user: EndUser | None = None
    reason: str | None = None  # skip reason
    updates: dict[str, str] = field(default_factory=dict)  # fill-empty fields written


@dataclass
class IdentityIndex:
    """The run's view of existing end users and companies, kept current as users are made.

    New users get provisional negative ids; the engine swaps in real ids when it commits.
    """

    settings: IdentitySettings
    companies: set[str] = field(default_factory=set)
    by_external_id: dict[str, EndUser] = field(default_factory=dict)
    by_email: dict[str, EndUser] = field(default_factory=dict)
    created: list[EndUser] = field(default_factory=list)
    updated: dict[int, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: IdentitySettings,
        end_users: Iterable[EndUser],
        companies: Iterable[str],
    ) -> IdentityIndex:
        index = cls(settings=settings, companies=set(companies))
        for user in end_users:
            index._remember(user)
        return index

    def _remember(self, user: EndUser) -> None:
        if user.external_id:
            self.by_external_id[user.external_id] = user
        if user.email:
            self.by_email[user.email.lower()] = user

    def auto_create_on(self, mapping_auto_create: bool) -> bool:
        """Global toggle or the mapping's own toggle (the guide offers both)."""
        return self.settings.auto_create_end_users or mapping_auto_create

    def email_usable(self, facts: VisitorFacts, auto_create: bool) -> bool:
        return bool(
            self.settings.end_user_email
            and facts.email
            and facts.company_id
            and facts.company_id in self.companies
            and auto_create
        )

    def decide(self, facts: VisitorFacts, mapping_auto_create: bool = False) -> Decision:
        unusable = screen(facts)
        if unusable is not None:
            return Decision(SKIPPED, reason=unusable)
        auto_create = self.auto_create_on(mapping_auto_create)
        use_email = self.email_usable(facts, auto_create)

        user: EndUser | None = None
        outcome = MATCHED_ID
        if use_email and facts.email:
            user = self.by_email.get(facts.email.lower())
            outcome = MATCHED_EMAIL
        if user is None and facts.external_id:
            user = self.by_external_id.get(facts.external_id)
            outcome = MATCHED_ID
        if user is not None:
            return Decision(outcome, user, updates=self._fill_empty(user, facts, use_email))

        if not auto_create:
            return Decision(SKIPPED, reason=SKIP_AUTO_CREATE_OFF)
        if not facts.company_id:
            return Decision(SKIPPED, reason=SKIP_NO_COMPANY_ID)
        if facts.company_id not in self.companies:
            return Decision(SKIPPED, reason=SKIP_COMPANY_NOT_FOUND)
        if facts.external_id is None and not use_email:
            # Email-only matching (or an empty id field) leaves nothing to key the user by.
            return Decision(SKIPPED, reason=SKIP_NO_EMAIL)
        user = EndUser(
            id=-(len(self.created) + 1),
            external_id=facts.external_id,
            email=facts.email if use_email else None,
            name=facts.name,
            surname=facts.surname,
            company_external_id=facts.company_id,
        )
        self.created.append(user)
        self._remember(user)
        return Decision(CREATED, user)

    def _fill_empty(self, user: EndUser, facts: VisitorFacts, use_email: bool) -> dict[str, str]:
        """Rule 4: write name/surname/email only where the local value is empty."""
        updates: dict[str, str] = {}
        if facts.name and not user.name:
            user.name = updates["name"] = facts.name
        if facts.surname and not user.surname:
            user.surname = updates["surname"] = facts.surname
        if (
            use_email
            and facts.email
            and not user.email
            and facts.email.lower() not in self.by_email
        ):
            user.email = updates["email"] = facts.email
            self.by_email[facts.email.lower()] = user
        if updates and user.id > 0:
            self.updated.setdefault(user.id, {}).update(updates)
        return updates
