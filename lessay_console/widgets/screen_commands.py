"""A command-palette provider for a screen's own actions.

A screen lists its actions in `palette_commands()` (name, help, callback) and
puts `ScreenCommands` in its `COMMANDS`: the palette then offers what the
footer shows, so every key also has a name an operator can search for.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

PaletteCommand = tuple[str, str, Callable[[], object]]


class ScreenCommands(Provider):
    """The calling screen's `palette_commands()`."""

    def _commands(self) -> list[PaletteCommand]:
        listed = getattr(self.screen, "palette_commands", None)
        return list(listed()) if listed is not None else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
