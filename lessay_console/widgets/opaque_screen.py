"""A full, opaque screen pushed over another: it ignores repaints of the screen beneath.

Textual treats the screen just below the top one as visible (for modal
screens with a translucent background), and forwards every repaint of it to
the top screen; a repaint with regions then makes the top screen send all of
itself. Under the drill-down or the war room sits the dashboard, whose clock
ticks every second: without this, the covering screen was sent whole about
once a second (16-23 KB/s at 120x40, against a budget of 3 KB/s).

Textual's only caller of `Screen.refresh` with regions is that forwarding, so
a region refresh of an opaque screen can be dropped: nothing beneath shows.
(The app could instead report no background screens under an opaque top
screen; then this class is no longer needed.)
"""

from __future__ import annotations

from typing import Self, TypeVar

from textual.geometry import Region
from textual.screen import Screen

ResultType = TypeVar("ResultType")


class OpaqueScreen(Screen[ResultType]):
    """A screen that covers the whole terminal with an opaque background."""

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if regions and not (layout or recompose) and self.styles.background.a == 1:
            return self  # a repaint of the screen beneath, which this one hides
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
