"""Widgets: render state, send intents; no I/O."""
