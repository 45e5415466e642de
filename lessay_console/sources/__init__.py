"""Sources: each measures one thing on its own schedule and returns samples or a failure."""
