"""Pull: Pendo usage into the store (mapping kinds, identity, staging, apply)."""
