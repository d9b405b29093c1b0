"""The ``hexagone`` CLI: talks HTTP to the API only (enforced by import-linter)."""
