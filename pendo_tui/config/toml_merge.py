"""Write changed settings into an existing tomlkit document, touching nothing else.

The TUI hands us a whole ``Config``; the user's file has comments, ordering and keys
left at their defaults. We compare the new settings with the ones the file produced
(``old``) and only write what differs: an unchanged key keeps its exact text, a key the
user never wrote is added only when its value changed, arrays of tables (``[[pull]]``)
are matched element by element (by name or id, then by position for a rename) so the
comments inside an untouched entry survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomlkit
from pydantic import ValidationError
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.items import AoT, InlineTable, Item, Table, Whitespace

from pendo_tui.config.model import AppRow, Config, PullMapping, PushSync, SegmentRow

# Arrays of tables whose entries have an identity: matched by it across a save.
IDENTITY_KEYS = {"apps": "id", "segments": "id", "pull": "name", "push": "name"}


def to_item(value: Any) -> Item:
    """A tomlkit item for a plain Python value (multi-line text stays readable)."""
    if isinstance(value, str):
        multiline = "\n" in value
        # literal strings keep JSON and SQL readable (no escaping of quotes or backslashes)
        literal = multiline and _literal_ok(value)
        return tomlkit.string(value, literal=literal, multiline=multiline)
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        for key, inner in value.items():
            if inner is not None:
                table[key] = to_item(inner)
        return table
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        aot = tomlkit.aot()
        for entry in value:
            aot.append(new_table(entry, {}))
        return aot
    if isinstance(value, list):
        array = tomlkit.array()
        for inner in value:
            array.append(to_item(inner))
        return array
    return tomlkit.item(value)


def _literal_ok(text: str) -> bool:
    """TOML literal strings cannot hold ''' or control characters other than tab/newline."""
    return "'''" not in text and all(c in "\t\n" or ord(c) >= 32 for c in text)


def new_table(
    new: Mapping[str, Any], baseline: Mapping[str, Any], *, blank_after: bool = False
) -> Table:
    """A fresh table with only the keys whose value differs from ``baseline`` (defaults)."""
    table = tomlkit.table()
    merge_table(table, new, baseline)
    if blank_after:
        table.add(tomlkit.nl())
    return table


def _move_trailing_trivia(source: Table, target: Table) -> None:
    """Comments after an array's last entry introduce what follows it: keep them last."""
    body = source.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None:
        start -= 1
    while start < len(body) and isinstance(body[start][1], Whitespace):
        start += 1  # the blank line right after the entry stays with it
    if start >= len(body):
        return
    moved = [item for _, item in body[start:]]
    del body[start:]
    tail = target.value.body
    while tail and tail[-1][0] is None and isinstance(tail[-1][1], Whitespace):
        tail.pop()
    target.add(tomlkit.nl())
    for item in moved:
        target.add(item)


def _keep_closing_comments(container: Any, key: str, aot: AoT) -> None:
    """Before an array of tables goes away, hand the comments after its last entry (they
    introduce what follows) to the nearest table above it."""
    if not aot.body or not isinstance(container, tomlkit.TOMLDocument):
        return
    body = container.body
    index = next((i for i, (k, item) in enumerate(body) if item is aot), None)
    for _, item in reversed(body[:index] if index is not None else []):
        if isinstance(item, AoT) and item.body:
            _move_trailing_trivia(aot.body[-1], item.body[-1])
            return
        if isinstance(item, Table):
            _move_trailing_trivia(aot.body[-1], item)
            return


def _is_table(item: Any) -> bool:
    # a proxy stands for a table written in pieces (dotted keys, or split sections)
    return isinstance(item, Table | InlineTable | OutOfOrderTableProxy)


def merge_table(
    table: Any, new: Mapping[str, Any], old: Mapping[str, Any], *, free_form: bool = False
) -> None:
    """Bring ``table`` (a tomlkit container) in line with ``new``.

    ``old`` is what the table meant before (including defaults the model filled in):
    a key absent from the table is written only when ``new`` differs from ``old``, and a
    key present keeps its exact text unless its value changed. ``free_form`` tables
    (``columns``, ``fields``...) also drop the keys that ``new`` lacks.
    """
    for key, value in new.items():
        before = old.get(key)
        if key in table:
            current = table[key]
            if value == [] and isinstance(current, AoT):
                _keep_closing_comments(table, key, current)
                del table[key]
            elif value is None:
                del table[key]
            elif isinstance(value, Mapping) and _is_table(current):
                merge_table(current, value, _as_map(before), free_form=True)
            elif key in IDENTITY_KEYS and isinstance(current, AoT) and isinstance(value, list):
                merge_aot(current, value, before if isinstance(before, list) else [], key)
            elif value != before:
                _replace(table, key, value)
        elif value is None or value == before:
            continue  # never written by the user and unchanged: stays implicit
        elif isinstance(value, Mapping):
            sub = tomlkit.table() if _wants_section(table) else tomlkit.inline_table()
            merge_table(sub, value, _as_map(before), free_form=True)
            table[key] = sub
        elif key in IDENTITY_KEYS and isinstance(value, list):
            written = _not_implicit(value, before if isinstance(before, list) else [], key, set())
            if written:
                table[key] = _new_aot(written, key)
        else:
            table[key] = to_item(value)
    if free_form:
        for key in [k for k in table if k not in new]:
            del table[key]


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _wants_section(table: Any) -> bool:
    # Sub-tables of the document itself become [sections]; deeper dicts stay inline.
    return isinstance(table, tomlkit.TOMLDocument)


def _replace(table: Any, key: str, value: Any) -> None:
    """Set a new value, keeping the old item's trailing comment and indentation."""
    old_item = table[key]
    item = to_item(value)
    if isinstance(old_item, Item) and not isinstance(old_item, Table | AoT):
        item.trivia.comment_ws = old_item.trivia.comment_ws
        item.trivia.comment = old_item.trivia.comment
        item.trivia.indent = old_item.trivia.indent
        item.trivia.trail = old_item.trivia.trail
    table[key] = item


def _identity(entry: Any, id_key: str) -> str | None:
    value = entry.get(id_key) if isinstance(entry, Mapping) else None
    if isinstance(value, Item):
        value = value.unwrap()
    return None if value is None else str(value)


def _not_implicit(
    values: list[Mapping[str, Any]],
    old: list[Mapping[str, Any]],
    section: str,
    in_file: set[str | None],
) -> list[Mapping[str, Any]]:
    """The entries worth writing: rows the model fills in by itself (the default apps)
    stay implicit while unchanged and while leaving them out loses nothing (order too)."""
    id_key = IDENTITY_KEYS[section]
    implicit = {_identity(o, id_key): o for o in old if _identity(o, id_key) not in in_file}
    if section != "apps" or not implicit:
        return values
    full = [dict(v) for v in values]
    kept = list(values)
    for candidate in values:  # drop each unchanged default row the model would restore
        if implicit.get(_identity(candidate, id_key)) != candidate:
            continue
        trial = [v for v in kept if v is not candidate]
        try:
            restored = Config(apps=[AppRow(**v) for v in trial]).model_dump(mode="json")["apps"]
        except ValidationError:  # invalid rows: write them all, save() reports the problem
            return values
        if restored == full:
            kept = trial
    return kept


def _new_aot(values: list[Mapping[str, Any]], section: str) -> AoT:
    aot = tomlkit.aot()
    for value in values:
        aot.append(new_table(value, _entry_defaults(section, value)))
    return aot


def _entry_defaults(section: str, value: Mapping[str, Any]) -> Mapping[str, Any]:
    """Baseline of a new [[section]] entry: keys at their defaults are left out."""
    model = {"apps": AppRow, "segments": SegmentRow, "pull": PullMapping, "push": PushSync}[section]
    baseline = {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }
    baseline.update({k: None for k, f in model.model_fields.items() if f.is_required()})
    # the identity key and required fields are always written
    return {k: v for k, v in baseline.items() if k in value}


def merge_aot(
    aot: AoT, new: list[Mapping[str, Any]], old: list[Mapping[str, Any]], section: str
) -> None:
    """Edit an array of tables in place: keep matched entries, add and remove the rest."""
    id_key = IDENTITY_KEYS[section]
    tables: list[Table] = list(aot.body)
    old_by_id = {_identity(o, id_key): o for o in old}
    table_ids = [_identity(t, id_key) for t in tables]
    paired: dict[int, int] = {}  # new index -> table index
    for n, value in enumerate(new):
        ident = _identity(value, id_key)
        if ident in table_ids and table_ids.index(ident) not in paired.values():
            paired[n] = table_ids.index(ident)
    new_ids = {_identity(v, id_key) for v in new}
    for n in range(min(len(new), len(tables))):  # a renamed entry keeps place and comments
        if n not in paired and n not in paired.values() and table_ids[n] not in new_ids:
            paired[n] = n
    written = {id(v) for v in _not_implicit(new, old, section, set(table_ids))}
    result: list[Table] = []
    for n, value in enumerate(new):
        if n in paired:
            t = tables[paired[n]]
            merge_table(t, value, old_by_id.get(table_ids[paired[n]], {}))
            result.append(t)
        elif id(value) in written:
            result.append(new_table(value, _entry_defaults(section, value), blank_after=True))
    result_ids = [id(t) for t in result]
    for i in reversed(range(1, len(tables))):
        if id(tables[i]) not in result_ids:  # comments introducing what follows outlive it
            _move_trailing_trivia(tables[i], tables[i - 1])
    kept = [t for t in tables if id(t) in result_ids]
    kept_ids = [id(t) for t in kept]
    if [i for i in result_ids if i in kept_ids] != kept_ids:  # an entry moved
        if kept and result[-1] is not kept[-1]:
            _move_trailing_trivia(kept[-1], result[-1])
        _rebuild(aot, result)  # entries were reordered: rebuild, each table intact
        return
    for i in reversed(range(len(tables))):
        if id(tables[i]) not in result_ids:
            del aot[i]
    # insert new tables at their position; untouched tables keep their place and comments
    for pos, t in enumerate(result):
        body = aot.body
        if pos >= len(body):
            if body:
                _move_trailing_trivia(body[-1], t)
            aot.append(t)
        elif body[pos] is not t:
            aot.insert(pos, t)


def _rebuild(aot: AoT, tables: list[Table]) -> None:
    for i in reversed(range(len(aot.body))):
        del aot[i]
    for t in tables:
        aot.append(t)
