"""Demo credentials the simulator accepts.

UUID-looking constants so they pass the same format checks as real Pendo keys, but
they are published here and only ever valid against the local simulator.
"""

from __future__ import annotations

DEMO_READ_KEY = "0d3c9c2e-5b1a-4f6e-9a7d-5e1f00000001"
DEMO_WRITE_KEY = "7a4e1b90-2c3d-4e5f-8a9b-5e1f00000002"
# Track secrets are per app in Pendo: the secret decides which app an event lands in.
DEMO_TRACK_SECRET = "c0ffee00-1111-4222-8333-5e1f00000003"
DEMO_TRACK_SECRET_MOBILE = "c0ffee00-4444-4555-8666-5e1f00000004"

DEFAULT_APP_ID = -323232
MOBILE_APP_ID = 5629499534213120
LEGACY_APP_ID = 6755399441055744  # deliberately absent from typical apps tables ("unknown")

TRACK_SECRETS: dict[str, int] = {
    DEMO_TRACK_SECRET: DEFAULT_APP_ID,
    DEMO_TRACK_SECRET_MOBILE: MOBILE_APP_ID,
}
