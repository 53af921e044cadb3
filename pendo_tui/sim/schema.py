"""Metadata field catalogue (``/api/v1/metadata/schema/{kind}``) in Pendo's shape.

Descriptors use Pendo's real mixed key casing (``Type``, ``DisplayName`` … then
``isHidden``, ``isDeleted`` …) so clients are tested against it.
"""

from __future__ import annotations

import re
from typing import Any

KINDS = ("visitor", "account", "parentAccount")
WRITABLE_GROUPS = ("agent", "custom")
FIELD_TYPES = {"string", "boolean", "integer", "float", "number", "time", "list", ""}
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_BASE: dict[str, dict[str, dict[str, str]]] = {
    "visitor": {
        "agent": {"email": "string", "firstname": "string", "lastname": "string"},
        "auto": {
            "accountid": "string",
            "accountids": "list",
            "firstvisit": "time",
            "lastvisit": "time",
            "lastupdated": "time",
            "id": "string",
        },
        "auto__323232": {"firstvisit": "time", "lastvisit": "time"},
        "custom": {"role": "string", "seats_used": "integer"},
        "pendo": {"donotprocess": "boolean", "blacklistguides": "boolean"},
    },
    "account": {
        "agent": {"name": "string", "plan": "string"},
        "auto": {"firstvisit": "time", "lastvisit": "time", "id": "string"},
        "custom": {"tier": "string", "health_score": "float", "arr": "integer"},
        "pendo": {"donotprocess": "boolean"},
    },
    "parentAccount": {
        "agent": {"name": "string"},
        "auto": {"id": "string"},
        "custom": {"region": "string"},
    },
}


BASE_FIELDS: dict[str, dict[str, frozenset[str]]] = {
    kind: {group: frozenset(fields) for group, fields in groups.items()}
    for kind, groups in _BASE.items()
}


def descriptor(field_type: str, display_name: str) -> dict[str, Any]:
    return {
        "Type": "float" if field_type == "number" else field_type,
        "DisplayName": display_name,
        "ElementType": "",
        "ElementFormat": "",
        "Dirty": False,
        "isHidden": False,
        "isDeleted": False,
        "isCalculated": False,
        "isPerApp": False,
        "neverIndex": False,
    }


def base_schema(kind: str) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        group: {name: descriptor(t, name.replace("_", " ").title()) for name, t in fields.items()}
        for group, fields in _BASE[kind].items()
    }
