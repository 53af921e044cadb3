"""Settings: the typed model (``model``), the TOML file (``toml_io``) and secrets (``secrets``).

``toml_merge`` and ``validation_errors`` are ``toml_io``'s helpers: writing changes into a
user's file without disturbing it, and turning validation errors into messages.
"""
