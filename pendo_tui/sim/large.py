"""Large mode: a virtual ``pageEvents`` table of N rows, generated lazily from its index.

Benchmarks need about a million page-event rows; holding them as dicts would cost the
simulator gigabytes. Here row ``i`` is a pure function of ``i``, so any window, app or
page selection is generated on demand and answers stay deterministic:

- rows are spread evenly over ``days`` (the dataset's complete days before today; today
  holds none), in day order: a window is one contiguous index range;
- within a day, row ``j`` is page ``j % P`` for visitor ``(j // P + 7 * day) % V``, so
  (page, visitor, app, day) is unique: rows are already Pendo's per-day rollups;
- page ``k`` belongs to the mobile app when ``k % 3 == 2``, else to the web app (about a
  third of the rows in the second app);
- every visitor is identified, with account ``acct-<visitor % 997>``.

Every other source (visitors, accounts, features, ...) still comes from the ``Dataset``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pendo_tui.sim import catalogue as cat
from pendo_tui.sim.dataset import Dataset, resolve_app_ids
from pendo_tui.sim.keys import DEFAULT_APP_ID, MOBILE_APP_ID

DEFAULT_PAGES = 10
DEFAULT_VISITORS = 8_000
ACCOUNTS = 997
ROW_FIELDS = ("pageId", "visitorId", "accountId", "appId", "day", "numEvents", "numMinutes")


def page_app(k: int) -> int:
    return MOBILE_APP_ID if k % 3 == 2 else DEFAULT_APP_ID


def large_pages(n: int, now_ms: int) -> list[dict[str, Any]]:
    """Catalogue entries (as ``GET /api/v1/page`` lists them) of the virtual pages, in
    page-index order."""
    names: dict[int, list[str]] = {}
    for k in range(n):
        names.setdefault(page_app(k), []).append(f"Large page {k:03d}")
    pages = cat.definitions("Page", names, now_ms)
    return sorted(pages, key=lambda p: p["name"])


@dataclass
class LargeEvents:
    """N virtual page-event rows over ``day_starts`` (epoch ms of each covered day)."""

    rows: int
    day_starts: list[int]
    pages: list[dict[str, Any]]
    visitors: int = DEFAULT_VISITORS
    _first: list[int] = field(init=False, repr=False)
    _visitor_names: list[tuple[str, str]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.rows < 0 or not self.day_starts or not self.pages:
            raise ValueError("large mode needs rows >= 0, at least one day and one page")
        d = len(self.day_starts)
        # index of the first row of each day, plus the end: ceil(day * rows / days)
        self._first = [-(-i * self.rows // d) for i in range(d + 1)]
        per_day = max(b - a for a, b in zip(self._first, self._first[1:], strict=False))
        # enough visitors that (page, visitor) never repeats within a day
        self.visitors = max(self.visitors, -(-per_day // len(self.pages)), 1)

    # ---- selection ------------------------------------------------------------------
    def _days(self, start_ms: int | None, end_ms: int | None) -> range:
        lo = 0 if start_ms is None else bisect.bisect_left(self.day_starts, start_ms)
        hi = len(self.day_starts) if end_ms is None else bisect.bisect_left(self.day_starts, end_ms)
        return range(lo, max(lo, hi))

    def _page_indexes(self, apps: set[int] | None, page_ids: set[str] | None) -> list[int]:
        return [
            k
            for k, p in enumerate(self.pages)
            if (apps is None or p["appId"] in apps) and (page_ids is None or p["id"] in page_ids)
        ]

    def count(
        self,
        start_ms: int | None,
        end_ms: int | None,
        apps: set[int] | None = None,
        page_ids: set[str] | None = None,
    ) -> int:
        """Rows in the window for the selected apps (and pages), without generating them."""
        n_pages = len(self.pages)
        ks = self._page_indexes(apps, page_ids)
        total = 0
        for d in self._days(start_ms, end_ms):
            m = self._first[d + 1] - self._first[d]
            total += sum((m - k + n_pages - 1) // n_pages for k in ks if k < m)
        return total

    def iter_rows(
        self,
        start_ms: int | None,
        end_ms: int | None,
        apps: set[int] | None = None,
        page_ids: set[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Fresh row dicts in the window, day by day; within a day, page by page."""
        n_pages = len(self.pages)
        ks = self._page_indexes(apps, page_ids)
        if len(ks) == n_pages:
            for d in self._days(start_ms, end_ms):
                yield from self._rows_of_day(d, range(self._first[d], self._first[d + 1]))
            return
        for d in self._days(start_ms, end_ms):
            lo, hi = self._first[d], self._first[d + 1]
            for k in ks:
                yield from self._rows_of_day(d, range(lo + k, hi, n_pages))

    def all_rows(self) -> Iterator[dict[str, Any]]:
        """Every row, in index order (tests compute expectations from these)."""
        return self.iter_rows(None, None)

    def _rows_of_day(self, d: int, indexes: Iterable[int]) -> Iterator[dict[str, Any]]:
        n_pages, n_visitors = len(self.pages), self.visitors
        day_ms, first = self.day_starts[d], self._first[d]
        pages = [(p["id"], p["appId"]) for p in self.pages]
        names = self._names()
        shift = 7 * d
        for i in indexes:
            j = i - first
            page_id, app_id = pages[j % n_pages]
            visitor_id, account_id = names[(j // n_pages + shift) % n_visitors]
            events = (i * 7919) % 97 + 1
            yield {
                "pageId": page_id,
                "visitorId": visitor_id,
                "accountId": account_id,
                "appId": app_id,
                "day": day_ms,
                "numEvents": events,
                "numMinutes": events % 20 + 1,
            }

    def _names(self) -> list[tuple[str, str]]:
        """(visitorId, accountId) of every visitor, formatted once."""
        if self._visitor_names is None:
            self._visitor_names = [
                (f"v-{v:07d}", f"acct-{v % ACCOUNTS:03d}") for v in range(self.visitors)
            ]
        return self._visitor_names


class LargeData:
    """What the evaluator reads in large mode: the dataset, with ``pageEvents`` served from
    a ``LargeEvents`` table instead of the dataset's own page events."""

    def __init__(self, dataset: Dataset, events: LargeEvents) -> None:
        self.dataset = dataset
        self.events = events
        self.timezone = dataset.timezone

    def source_rows(
        self, source: str, params: dict[str, Any] | None, start_ms: int | None, end_ms: int | None
    ) -> Iterable[dict[str, Any]]:
        if source != "pageEvents":
            return self.dataset.source_rows(source, params, start_ms, end_ms)
        params = params or {}
        page = params.get("pageId")
        apps = resolve_app_ids(params.get("appId"))
        return self.events.iter_rows(start_ms, end_ms, apps, {page} if page else None)

    def scan_rows(
        self, source: str, params: dict[str, Any] | None, start_ms: int | None, end_ms: int | None
    ) -> int:
        if source != "pageEvents":
            return self.dataset.scan_rows(source, params, start_ms, end_ms)
        apps = resolve_app_ids((params or {}).get("appId"))
        return self.events.count(start_ms, end_ms, apps)  # every page: Pendo reads, then filters

    def segment_visitors(self, segment_id: str) -> set[str] | None:
        return self.dataset.segment_visitors(segment_id)

    def visitor_object(self, visitor_id: str) -> dict[str, Any] | None:
        return self.dataset.visitor_object(visitor_id)

    def account_object(self, account_id: str) -> dict[str, Any] | None:
        return self.dataset.account_object(account_id)


def large_data(dataset: Dataset, rows: int, pages: int) -> LargeData:
    """Large mode over ``dataset``: ``rows`` page events on its complete days, ``pages`` pages."""
    events = LargeEvents(rows, dataset.day_starts()[:-1], large_pages(pages, dataset.now_ms))
    return LargeData(dataset, events)
