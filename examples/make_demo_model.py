"""Build examples/demo_model.sqlite: a tiny warehouse to push into the simulator.

    python examples/make_demo_model.py

Ids match the simulator's demo dataset (visitors v-0000…, accounts acme, globex, …), plus
one visitor Pendo does not know (``v-9999``) to show how missing records are counted.
Event times are stored as "seconds ago" and turned into ISO 8601 by the ``recent_events``
view, so the demo never ages past Pendo's 7-day limit.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PATH = HERE / "demo_model.sqlite"

VISITORS = [f"v-{i:04d}" for i in range(12)]
ACCOUNTS = ["acme", "globex", "initech", "umbrella"]
EVENTS = ["Report Exported", "Seat Added", "Subscription Upgraded"]

SCHEMA = """
CREATE TABLE product_events (
    event_id TEXT PRIMARY KEY, visitor_id TEXT, account_id TEXT, event_name TEXT,
    seconds_ago INTEGER, plan TEXT, amount REAL
);
CREATE VIEW recent_events AS
    SELECT event_id, visitor_id, account_id, event_name,
           strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || seconds_ago || ' seconds') AS occurred_at,
           plan, amount
    FROM product_events;
CREATE TABLE visitor_traits (
    visitor_id TEXT PRIMARY KEY, role TEXT, seats_used INTEGER, nps_score INTEGER
);
CREATE TABLE account_health (account_id TEXT PRIMARY KEY, tier TEXT, health_score REAL);
"""


def build(path: Path = DEFAULT_PATH) -> Path:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
        events = [
            (
                f"evt-{i:03d}",
                VISITORS[i % len(VISITORS)],
                ACCOUNTS[i % len(ACCOUNTS)],
                EVENTS[i % len(EVENTS)],
                600 + i * 97,  # spread over the last ~1.5 hours
                "pro" if i % 3 else "enterprise",
                round(10 + i * 1.5, 2),
            )
            for i in range(60)
        ]
        con.executemany("INSERT INTO product_events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
        traits = [
            (v, "admin" if i % 4 == 0 else "member", 1 + i % 5, 6 + i % 5)
            for i, v in enumerate(VISITORS)
        ]
        traits.append(("v-9999", "member", 1, 7))  # unknown to Pendo: counted as missing
        con.executemany("INSERT INTO visitor_traits VALUES (?, ?, ?, ?)", traits)
        health = [
            (a, ["gold", "silver", "bronze"][i % 3], 50 + 10 * i) for i, a in enumerate(ACCOUNTS)
        ]
        con.executemany("INSERT INTO account_health VALUES (?, ?, ?)", health)
        con.commit()
    finally:
        con.close()
    return path


if __name__ == "__main__":
    out = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH)
    print(f"wrote {out}")
