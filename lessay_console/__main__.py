"""`python -m lessay_console`: the same as the `lessay-console` command."""

from lessay_console.cli import main

main()
