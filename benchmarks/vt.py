"""A small terminal emulator: enough of xterm to read what Textual and curses draw.

The benchmarks need to know what is on the screen (has the first frame been
drawn? does it show values yet?) and, for the traffic diagnostic, which cells
each byte written to the terminal lands on. Matching the raw byte stream is
not enough for either: curses moves the cursor in the middle of words and
repeats characters with `CSI n b`, and Textual writes a label and its value as
separate runs.

Supported: printable text (wide characters take two cells), CR, LF, BS, TAB;
cursor positioning and movement (CUP, HVP, CUU/CUD/CUF/CUB, CNL/CPL, CHA, VPA,
HPA), save and restore (DECSC/DECRC, CSI s/u), erase (ED, EL, ECH), insert and
delete of characters and lines (ICH, DCH, IL, DL), scroll region and scrolling
(DECSTBM, SU/SD, IND, RI, NEL), repeat (REP), autowrap (DECAWM), SGR as an
opaque style per cell, the DEC line-drawing character set (for curses' ACS).
Everything else (OSC, DCS, modes, queries) is parsed and ignored.

Byte accounting, for the traffic diagnostic: `bytes_at[(row, col, kind)]`
counts the bytes written with the cursor at that cell, of kind "text",
"style" (SGR) or "control" (everything else; a cursor move is counted at the
cell it moves to). As a style is set just before the characters it colours,
nearly every byte lands on the cell it is about. `written` collects the cells
printed since it was last cleared, `changed` those whose character or style
changed, and `redundant_style_bytes` the SGR bytes that only re-set the style
the previous character (the cell just left of it) already had.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter

CSI = re.compile(r"\x1b\[([\x30-\x3f]*)([\x20-\x2f]*)([\x40-\x7e])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
STRING = re.compile(r"\x1b[P_^X].*?\x1b\\", re.DOTALL)  # DCS, APC, PM, SOS
CHARSET = re.compile(r"\x1b[()*+\-./][\x20-\x2f]*[\x30-\x7e]")
ESC2 = re.compile(r"\x1b[\x20-\x2f]*[\x30-\x7e]")
TEXT = re.compile(r"[^\x00-\x1f\x7f\x1b]+")
MAX_PENDING = 8192  # an unterminated sequence longer than this is dropped

# DEC special graphics (curses' alternate character set)
DEC_GRAPHICS = dict(
    zip(
        "`abcdefghijklmnopqrstuvwxyz{|}~",
        "◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·",
        strict=True,
    )
)

BLANK = (" ", "")


def introducer(second: str) -> re.Pattern[str] | None:
    """The pattern of an escape sequence, from the character after ESC (None: not yet seen)."""
    if not second:
        return None
    if second == "[":
        return CSI
    if second == "]":
        return OSC
    if second in "P_^X":
        return STRING
    if second in "()*+-./":
        return CHARSET
    return ESC2


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


class Screen:
    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.cells = [[BLANK] * cols for _ in range(rows)]
        self.row = self.col = 0
        self.saved = (0, 0)
        self.style = ""
        self.top, self.bottom = 0, rows - 1
        self.autowrap = True
        self.wrap_pending = False
        self.g0_graphics = self.g1_graphics = False
        self.shifted = False  # SO: G1 in use
        self.last_char = " "
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.total_bytes = 0
        self.bytes_at: Counter[tuple[int, int, str]] = Counter()
        self.written: set[tuple[int, int]] = set()
        self.changed: set[tuple[int, int]] = set()
        self.redundant_style_bytes = 0
        self._last_print: tuple[int, int, str] | None = None  # row, col, style
        self._style_bytes_since_print = 0

    # -- reading the screen -------------------------------------------------
    def line(self, row: int) -> str:
        return "".join(char for char, _ in self.cells[row])

    def lines(self) -> list[str]:
        return [self.line(row) for row in range(self.rows)]

    def text(self) -> str:
        return "\n".join(self.lines())

    def contains(self, *needles: str) -> bool:
        screen = self.text()
        return all(needle in screen for needle in needles)

    # -- feeding ------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self.total_bytes += len(data)
        self._parse(self._pending + self._decoder.decode(data))

    def _count(self, kind: str, size: int) -> None:
        self.bytes_at[self.row, self.col, kind] += size
        if kind == "style":
            self._style_bytes_since_print += size

    def _parse(self, data: str) -> None:  # noqa: PLR0912
        i, end = 0, len(data)
        while i < end:
            char = data[i]
            if char == "\x1b":
                pattern = introducer(data[i + 1 : i + 2])
                match = pattern.match(data, i) if pattern is not None else None
                if match is None:
                    if end - i < MAX_PENDING:  # the rest of it is in the next chunk
                        self._pending = data[i:]
                        return
                    self._count("control", 1)
                    i += 1
                    continue
                sequence = match.group(0)
                if pattern is CSI:
                    params, intermediate, final = match.groups()
                    if final == "m" and not intermediate:
                        self._sgr(params)
                        self._count("style", len(sequence))
                    else:
                        self._csi(params, intermediate, final)
                        self._count("control", len(sequence))
                elif pattern is CHARSET:
                    graphics = sequence[-1] == "0"
                    if sequence[1] == "(":
                        self.g0_graphics = graphics
                    elif sequence[1] == ")":
                        self.g1_graphics = graphics
                    self._count("control", len(sequence))
                elif pattern is ESC2:
                    self._esc(sequence[1:])
                    self._count("control", len(sequence))
                else:
                    self._count("control", utf8_len(sequence))
                i = match.end()
            elif char < " " or char == "\x7f":
                self._count("control", 1)  # where it starts: a line feed belongs to its line
                self._control(char)
                i += 1
            else:
                match = TEXT.match(data, i)
                assert match is not None
                for printable in match.group(0):
                    self._print(printable)
                i = match.end()
        self._pending = ""

    # -- effects ------------------------------------------------------------
    def _put(self, row: int, col: int, cell: tuple[str, str]) -> None:
        if self.cells[row][col] != cell:
            self.cells[row][col] = cell
            self.changed.add((row, col))
        self.written.add((row, col))

    def _print(self, char: str, *, repeated: bool = False) -> None:
        graphics = self.g1_graphics if self.shifted else self.g0_graphics
        if graphics:
            char = DEC_GRAPHICS.get(char, char)
        width = char_width(char)
        if width == 0:
            return
        if self.wrap_pending or (width == 2 and self.col == self.cols - 1 and self.autowrap):
            if self.autowrap:
                self.col = 0
                self._index()
            self.wrap_pending = False
        if not repeated:  # a repeat's bytes are its CSI sequence, counted already
            self._count("text", utf8_len(char))
        last = self._last_print
        if (
            self._style_bytes_since_print
            and last is not None
            and last[0] == self.row
            and last[1] == self.col - 1
            and last[2] == self.style
        ):
            self.redundant_style_bytes += self._style_bytes_since_print
        self._style_bytes_since_print = 0
        self._last_print = (self.row, self.col, self.style)
        self._put(self.row, self.col, (char, self.style))
        if width == 2 and self.col + 1 < self.cols:
            self._put(self.row, self.col + 1, ("", self.style))
        self.last_char = char
        if self.col + width >= self.cols:
            self.col = self.cols - 1
            self.wrap_pending = self.autowrap
        else:
            self.col += width

    def _control(self, char: str) -> None:
        if char == "\r":
            self.col = 0
        elif char in "\n\x0b\x0c":
            self._index()
        elif char == "\b":
            self.col = max(0, self.col - 1)
        elif char == "\t":
            self.col = min(self.cols - 1, (self.col // 8 + 1) * 8)
        elif char == "\x0e":
            self.shifted = True
        elif char == "\x0f":
            self.shifted = False
        self.wrap_pending = False

    def _index(self) -> None:
        if self.row == self.bottom:
            self._scroll_up(1)
        elif self.row < self.rows - 1:
            self.row += 1

    def _reverse_index(self) -> None:
        if self.row == self.top:
            self._scroll_down(1)
        elif self.row > 0:
            self.row -= 1

    def _scroll_up(self, count: int, at: int | None = None) -> None:
        top = self.top if at is None else at
        for _ in range(min(count, self.bottom - top + 1)):
            del self.cells[top]
            self.cells.insert(self.bottom, [BLANK] * self.cols)
        self._touch_rows(top, self.bottom)

    def _scroll_down(self, count: int, at: int | None = None) -> None:
        top = self.top if at is None else at
        for _ in range(min(count, self.bottom - top + 1)):
            del self.cells[self.bottom]
            self.cells.insert(top, [BLANK] * self.cols)
        self._touch_rows(top, self.bottom)

    def _touch_rows(self, first: int, last: int) -> None:
        for row in range(first, last + 1):
            self.changed.update((row, col) for col in range(self.cols))

    def _erase(self, row: int, first: int, last: int) -> None:
        for col in range(max(0, first), min(self.cols, last + 1)):
            self._put(row, col, (" ", self.style))

    def _esc(self, rest: str) -> None:
        if rest == "7":
            self.saved = (self.row, self.col)
        elif rest == "8":
            self.row, self.col = self.saved
        elif rest == "M":
            self._reverse_index()
        elif rest == "D":
            self._index()
        elif rest == "E":
            self.col = 0
            self._index()
        elif rest == "c":  # full reset: the screen and the cursor, not the counters
            self.cells = [[BLANK] * self.cols for _ in range(self.rows)]
            self._touch_rows(0, self.rows - 1)
            self.row = self.col = 0
            self.style = ""
            self.top, self.bottom = 0, self.rows - 1
        self.wrap_pending = False

    def _csi(self, params: str, intermediate: str, final: str) -> None:  # noqa: PLR0912, PLR0915
        private = params[:1] in ("?", ">", "<", "=")
        if intermediate or (private and final not in "hl"):
            return  # queries and the like: nothing on the screen
        if private:
            modes = params[1:].split(";")
            if "7" in modes:
                self.autowrap = final == "h"
            return
        values = [int(v) if v.isdigit() else 0 for v in params.split(";")] if params else []

        def arg(index: int = 0, default: int = 1) -> int:
            value = values[index] if index < len(values) else 0
            return value or default

        self.wrap_pending = False
        last_row, last_col = self.rows - 1, self.cols - 1
        if final in "Hf":
            self.row = min(last_row, arg(0) - 1)
            self.col = min(last_col, arg(1) - 1)
        elif final == "A":
            self.row = max(0, self.row - arg())
        elif final in "Be":
            self.row = min(last_row, self.row + arg())
        elif final in "Ca":
            self.col = min(last_col, self.col + arg())
        elif final == "D":
            self.col = max(0, self.col - arg())
        elif final == "E":
            self.row, self.col = min(last_row, self.row + arg()), 0
        elif final == "F":
            self.row, self.col = max(0, self.row - arg()), 0
        elif final in "G`":
            self.col = min(last_col, arg() - 1)
        elif final == "d":
            self.row = min(last_row, arg() - 1)
        elif final == "J":
            mode = arg(0, 0)
            if mode == 0:
                self._erase(self.row, self.col, last_col)
                rows = range(self.row + 1, self.rows)
            elif mode == 1:
                self._erase(self.row, 0, self.col)
                rows = range(self.row)
            else:
                rows = range(self.rows)
            for row in rows:
                self._erase(row, 0, last_col)
        elif final == "K":
            mode = arg(0, 0)
            first, last = {0: (self.col, last_col), 1: (0, self.col)}.get(mode, (0, last_col))
            self._erase(self.row, first, last)
        elif final == "X":
            self._erase(self.row, self.col, self.col + arg() - 1)
        elif final == "@":
            line = self.cells[self.row]
            count = min(arg(), self.cols - self.col)
            line[self.col : self.col] = [BLANK] * count
            del line[self.cols :]
            self.changed.update((self.row, col) for col in range(self.col, self.cols))
        elif final == "P":
            line = self.cells[self.row]
            count = min(arg(), self.cols - self.col)
            del line[self.col : self.col + count]
            line.extend([BLANK] * count)
            self.changed.update((self.row, col) for col in range(self.col, self.cols))
        elif final == "L" and self.top <= self.row <= self.bottom:
            self._scroll_down(arg(), at=self.row)
        elif final == "M" and self.top <= self.row <= self.bottom:
            self._scroll_up(arg(), at=self.row)
        elif final == "S":
            self._scroll_up(arg())
        elif final == "T":
            self._scroll_down(arg())
        elif final == "r":
            top, bottom = arg(0) - 1, min(last_row, arg(1, self.rows) - 1)
            if top < bottom:
                self.top, self.bottom = top, bottom
                self.row = self.col = 0
        elif final == "b":
            for _ in range(arg()):
                self._print(self.last_char, repeated=True)
        elif final == "s":
            self.saved = (self.row, self.col)
        elif final == "u":
            self.row, self.col = self.saved

    def _sgr(self, params: str) -> None:
        if params in ("", "0"):
            self.style = ""
        elif params.startswith("0;"):
            self.style = params[2:]
        else:
            self.style = f"{self.style};{params}" if self.style else params
