"""Guided runbooks (DESIGN section 8): definitions, runs derived from journal events, the engine."""
