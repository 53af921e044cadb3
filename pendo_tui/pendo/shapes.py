"""Lenient readers of Pendo's answers: every reported variant of a shape becomes one form.

Pendo publishes few response schemas; where sources disagree or a shape was only seen
once, the client accepts every variant listed in docs/pendo-reference.md ("What we accept from
Pendo") and hands the rest of the product one documented form. Requests are never
loosened the same way: we always send the documented shape.
"""

from __future__ import annotations

import json
from typing import Any

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f", ""})
_KIND_OF_LIST = {"page": "Page", "feature": "Feature", "tracktype": "TrackType"}
_ID_KEYS = ("visitorId", "accountId", "parentAccountId", "id")
_REASON_KEYS = ("error", "message", "reason", "detail", "msg")


def flag(value: Any) -> bool | None:
    """A JSON boolean, or its spelling as a string or 0/1; ``None`` when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def token_info(data: Any) -> tuple[bool, bool | None]:
    """(valid, write access) of a ``/token/verify`` answer that came back 200.

    A 200 means Pendo accepted the key (a refused key is 403/401), so ``valid`` is only
    false when the body says so. Write access is ``None`` when the body does not say:
    an empty body, ``writeAccess`` left out, or a value that is not a boolean.
    """
    body = data if isinstance(data, dict) else {}
    lowered = {str(k).lower(): v for k, v in body.items()}
    valid = flag(lowered.get("valid", True))
    write = flag(lowered["writeaccess"]) if "writeaccess" in lowered else None
    return valid is not False, write


def app_id(value: Any) -> Any:
    """An app id as Pendo documents it (an integer); a numeric string becomes one."""
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return value


def catalogue_object(obj: Any, list_name: str) -> Any:
    """One page / feature / track type / report / segment of a list, with ``id`` as a
    string, ``appId`` an integer (taken from ``appIds`` when only that is sent) and
    ``kind`` filled in for page, feature and track type lists when left out."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    if out.get("id") is not None and not isinstance(out["id"], str):
        out["id"] = str(out["id"])
    if out.get("appId") in (None, ""):
        apps = out.get("appIds")
        if isinstance(apps, list) and apps:
            out["appId"] = apps[0]
        else:
            out.pop("appId", None)
    if "appId" in out:
        out["appId"] = app_id(out["appId"])
    if isinstance(out.get("appIds"), list):
        out["appIds"] = [app_id(a) for a in out["appIds"]]
    if not out.get("kind") and list_name in _KIND_OF_LIST:
        out["kind"] = _KIND_OF_LIST[list_name]
    return out


def descriptor_value(descriptor: Any, key: str) -> Any:
    """A descriptor key in any casing (``Type``, ``type``, ``TYPE``)."""
    if not isinstance(descriptor, dict):
        return None
    if key in descriptor:
        return descriptor[key]
    want = key.lower()
    return next((v for k, v in descriptor.items() if str(k).lower() == want), None)


def metadata_schema(data: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """group → field → descriptor, with ``Type`` (lower case, ``""`` = untyped) and
    ``DisplayName`` always present whatever casing Pendo used, field names lower-cased as
    Pendo stores values, and fields marked deleted left out (they take no values until
    re-created)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    if not isinstance(data, dict):
        return out
    for group, members in data.items():
        if not isinstance(members, dict):
            continue
        fields: dict[str, dict[str, Any]] = {}
        for name, desc in members.items():
            d = dict(desc) if isinstance(desc, dict) else {}
            if flag(descriptor_value(d, "isDeleted")):
                continue
            d["Type"] = str(descriptor_value(d, "Type") or "").strip().lower()
            d["DisplayName"] = str(descriptor_value(d, "DisplayName") or name)
            fields[str(name).lower()] = d
        out[str(group)] = fields
    return out


def entity(data: Any, kind: str) -> dict[str, Any]:
    """A visitor or account object with ``id`` and ``metadata`` always present (``id``
    also read from ``visitorId`` / ``accountId``) and, for visitors, ``accountIds`` (also
    read from ``metadata.auto.accountids`` / ``accountid``)."""
    out = dict(data) if isinstance(data, dict) else {}
    if out.get("id") in (None, ""):
        out["id"] = out.get(f"{kind}Id")
    if out.get("id") is not None:
        out["id"] = str(out["id"])
    if not isinstance(out.get("metadata"), dict):
        out["metadata"] = {}
    if kind == "visitor" and not isinstance(out.get("accountIds"), list):
        auto = out["metadata"].get("auto")
        auto = auto if isinstance(auto, dict) else {}
        ids = auto.get("accountids")
        if not isinstance(ids, list):
            ids = [auto["accountid"]] if auto.get("accountid") not in (None, "") else []
        out["accountIds"] = [str(a) for a in ids]
    return out


def count(value: Any) -> int | None:
    """A count sent as a number, a numeric string, or a list of the things counted."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def object_id(item: Any) -> str:
    """An id given bare or as an object ``{"visitorId"|"accountId"|"id": ...}``."""
    if isinstance(item, dict):
        for key in _ID_KEYS:
            if item.get(key) not in (None, ""):
                return str(item[key])
        return json.dumps(item, sort_keys=True)
    return str(item)


def error_text(item: Any) -> str:
    """One per-row error as a sentence: strings as sent; objects as ``<id>: <reason>``."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        ident = next((str(item[k]) for k in _ID_KEYS if item.get(k) not in (None, "")), "")
        reason = next((item[k] for k in _REASON_KEYS if item.get(k) not in (None, "")), None)
        if reason is None:
            rest = {k: v for k, v in item.items() if k not in _ID_KEYS}
            reason = json.dumps(rest, sort_keys=True) if rest else "rejected"
        reason = reason if isinstance(reason, str) else json.dumps(reason, sort_keys=True)
        return f"{ident}: {reason}" if ident else reason
    return json.dumps(item)


def as_list(value: Any) -> list[Any]:
    """``null`` / absent → [], one value → [value], a list as is."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def error_body_text(text: str) -> str:
    """Pendo's error body as one line: plain text as is; a JSON body's messages joined
    (``{"overall": {...}, "fields": {"pipeline": "Required"}}`` → ``pipeline: Required``)."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[", '"')):
        return text
    try:
        data = json.loads(stripped)
    except ValueError:
        return text
    parts = list(_messages(data, ""))
    return "; ".join(parts) if parts else text


def _messages(data: Any, where: str) -> Any:
    if isinstance(data, str):
        if data.strip():
            yield f"{where}: {data}" if where else data
    elif isinstance(data, dict):
        for key, value in data.items():
            inner = "" if key in ("overall", *_REASON_KEYS, "errors", "fields") else str(key)
            yield from _messages(value, inner or where)
    elif isinstance(data, list):
        for value in data:
            yield from _messages(value, where)
    elif data is not None and not isinstance(data, bool):
        yield f"{where}: {data}" if where else str(data)
