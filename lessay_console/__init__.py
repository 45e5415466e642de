"""lessay-console: the Lessay platform's maintenance guide as a terminal console."""

__version__ = "0.1.0"
