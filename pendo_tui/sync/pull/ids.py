"""Ids a pull mapping names, checked against Pendo before any data moves.

Pendo answers an aggregation over an unknown page id with zero rows, and one naming an
unknown segment with a 400 about pipeline syntax: neither says "this id does not exist".
So before a run fetches anything, every id a mapping names — page, feature, report,
segment, the page / feature / track type ids a user's pipeline filters on, a PES app id —
is looked up in Pendo's lists, one listing call per kind and run (docs/pull.md "Ids").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pendo_tui.config.model import DEFAULT_APP_ID, Config, PullMapping
from pendo_tui.errors import ConfigError

# Aggregation sources whose parameters name one object: source → (parameter, kind).
_SOURCE_IDS = {
    "pageEvents": ("pageId", "page"),
    "featureEvents": ("featureId", "feature"),
    "trackEvents": ("trackTypeId", "track type"),
}
_LISTS = {
    "page": "pages",
    "feature": "features",
    "track type": "track_types",
    "report": "reports",
    "segment": "segments",
}


@dataclass(frozen=True)
class UnknownId:
    """One id a mapping names that Pendo does not know."""

    mapping: str
    kind: str  # page | feature | track type | report | segment | app
    id: str
    where: str  # the mapping setting holding it: "id", "segment", "app", "pipeline step 2"

    def sentence(self) -> str:
        what = "app of the subscription" if self.kind == "app" else f"{self.kind} in Pendo"
        return (
            f"pull mapping {self.mapping!r}: {self.where} names {self.kind} {self.id!r}, "
            f"which is not a known {what}"
        )


@dataclass
class Catalog:
    """Pendo's object lists, each fetched at most once (pages, features and track types
    of all apps; shared reports; shared segments)."""

    client: Any
    _lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        name = _LISTS[kind]
        if name not in self._lists:
            self._lists[name] = list(getattr(self.client, name)())
        return self._lists[name]

    def ids(self, kind: str) -> set[str]:
        return {str(o.get("id")) for o in self.objects(kind) if o.get("id") is not None}

    def apps(self) -> set[str]:
        """App ids seen on pages, features and track types (Pendo has no app list)."""
        out: set[str] = set()
        for kind in ("page", "feature", "track type"):
            for obj in self.objects(kind):
                for app in [obj.get("appId"), *(obj.get("appIds") or [])]:
                    if app is not None and app != "":
                        out.add(str(app))
        return out

    def report(self, report_id: str) -> dict[str, Any] | None:
        return next((r for r in self.objects("report") if str(r.get("id")) == report_id), None)


def _literal(value: Any) -> str | None:
    """A literal id (not an expression, list or number placeholder)."""
    if isinstance(value, str) and value and "(" not in value:
        return value
    return None


def pipeline_ids(steps: Any) -> Iterator[tuple[str, str, str]]:
    """(kind, id, where) for every literal object id a user's pipeline names."""

    def visit(node: Any, where: str) -> Iterator[tuple[str, str, str]]:
        if isinstance(node, list):
            for item in node:
                yield from visit(item, where)
            return
        if not isinstance(node, dict):
            return
        source = node.get("source")
        if isinstance(source, dict):
            for name, params in source.items():
                if name in _SOURCE_IDS and isinstance(params, dict):
                    param, kind = _SOURCE_IDS[name]
                    ident = _literal(params.get(param))
                    if ident:
                        yield kind, ident, f"{where} ({name}.{param})"
        segment = node.get("segment")
        if isinstance(segment, dict) and _literal(segment.get("id")):
            yield "segment", str(segment["id"]), f"{where} (segment)"
        for key, value in node.items():
            if key not in ("source", "segment") and isinstance(value, (list, dict)):
                yield from visit(value, where)

    for i, step in enumerate(steps if isinstance(steps, list) else []):
        yield from visit(step, f"pipeline step {i + 1}")


def mapping_ids(mapping: PullMapping) -> Iterator[tuple[str, str, str]]:
    """(kind, id, where) for every Pendo id one mapping names."""
    if mapping.kind in ("page", "feature", "report") and mapping.id:
        yield mapping.kind, mapping.id, "id"
    if mapping.segment:
        yield "segment", mapping.segment, "segment"
    if mapping.kind == "aggregation":
        try:
            steps = mapping.pipeline_steps()
        except ValueError:
            steps = []  # unparsable JSON is the pipeline check's to report
        yield from pipeline_ids(steps)
    if mapping.kind == "pes":
        yield "app", mapping.app or DEFAULT_APP_ID, "app"


def unknown_ids(
    config: Config | None, client: Any, mappings: Iterable[PullMapping]
) -> list[UnknownId]:
    """Ids the mappings name that Pendo does not list; ``client`` is a ``PendoClient`` or a
    ``Catalog`` (to share its lists with other checks). Lists are fetched only for the
    kinds the mappings use."""
    del config  # the ids live in the mappings; kept for a stable call shape
    catalog = client if isinstance(client, Catalog) else Catalog(client)
    out: list[UnknownId] = []
    for m in mappings:
        for kind, ident, where in mapping_ids(m):
            if kind == "app":
                apps = catalog.apps()
                if apps and ident not in apps:  # no objects at all: nothing to judge by
                    out.append(UnknownId(m.name, kind, ident, where))
            elif ident not in catalog.ids(kind):
                out.append(UnknownId(m.name, kind, ident, where))
    return out


def unknown_ids_error(unknown: list[UnknownId]) -> ConfigError:
    listed = "; ".join(u.sentence() for u in unknown)
    return ConfigError(
        listed,
        "Pick the id from Pendo's list in the TUI (F4 in the mapping editor), or fix it in "
        "the config; only shared reports and segments are visible to the API. Nothing was "
        "fetched or written.",
    )


def check_ids(config: Config | None, client: Any, mappings: Iterable[PullMapping]) -> None:
    """Raise ``ConfigError`` (exit 2) naming every mapping and unknown id."""
    unknown = unknown_ids(config, client, mappings)
    if unknown:
        raise unknown_ids_error(unknown)
