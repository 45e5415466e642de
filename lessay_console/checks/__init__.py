"""Checks: named, parameterised async probes (DESIGN section 7)."""
