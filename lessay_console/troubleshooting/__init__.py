"""Troubleshooting: the symptom catalog, diagnosis sessions (incidents) and their export."""
