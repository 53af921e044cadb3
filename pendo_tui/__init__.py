"""pendo-tui: Pendo sync engine and terminal app."""

__version__ = "0.1.0"
