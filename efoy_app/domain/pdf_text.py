"""Text for reportlab in more than one script: runs by font, widths, wrapping, drawing.

reportlab has no font fallback: a string is drawn in one font, and a glyph that font lacks comes
out as a blank box. Patients' names are Latin with accents (DejaVu Sans has them) or Ethiopic
(Noto Sans Ethiopic), so every string is cut into runs by script and each run is drawn in the
font that has its glyphs, inside one text object so a PDF reader extracts the string unbroken.
"""

from __future__ import annotations

import re
import struct
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace
from reportlab.pdfgen.canvas import Canvas

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"

# Unicode blocks Noto Sans Ethiopic covers: Ethiopic, Ethiopic Supplement, Extended, Extended-A.
ETHIOPIC_RANGES: tuple[tuple[int, int], ...] = (
    (0x1200, 0x139F),
    (0x2D80, 0x2DDF),
    (0xAB00, 0xAB2F),
)

# reportlab font name -> file; "Efoy" names so they never clash with another registration.
FONT_FILES = {
    "EfoyLatin": "DejaVuSans.ttf",
    "EfoyLatin-Bold": "DejaVuSans-Bold.ttf",
    "EfoyEthiopic": "NotoSansEthiopic-Regular.ttf",
    "EfoyEthiopic-Bold": "NotoSansEthiopic-Bold.ttf",
}
_registered = False
_lock = threading.Lock()


def register_fonts() -> None:
    """Parse and register the four TTFs once per process (tens of ms each: not per document).

    TTFonts are embedded as subsets: only the glyphs a document uses go into its file."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        for name, file in FONT_FILES.items():
            # asciiReadable=False: subsets hold only the characters used (the default reserves
            # all of ASCII in the first one: ~10 KB more per font and file).
            font = TTFont(name, str(FONT_DIR / file), asciiReadable=False)
            # The same parsed face with `get_table` overridden (no state of its own), rather
            # than parsing the file a second time to build a _LeanFace.
            font.face.__class__ = _LeanFace
            pdfmetrics.registerFont(font)
        _registered = True


def has_glyph(char: str, *, bold: bool = False) -> bool:
    """Whether the font that would draw `char` has a glyph for it (e.g. "•" before using it)."""
    register_fonts()
    font = pdfmetrics.getFont(font_for(is_ethiopic(char), bold))
    return ord(char) in font.face.charToGlyph


_ETHIOPIC_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in ETHIOPIC_RANGES)
# An Ethiopic run: Ethiopic letters, with the spaces between them (both fonts have a space).
_ETHIOPIC_RUN = re.compile(f"[{_ETHIOPIC_CLASS}]+(?:\\s+[{_ETHIOPIC_CLASS}]+)*")


def is_ethiopic(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in ETHIOPIC_RANGES)


def font_for(ethiopic: bool, bold: bool) -> str:
    return ("EfoyEthiopic" if ethiopic else "EfoyLatin") + ("-Bold" if bold else "")


@lru_cache(maxsize=4096)
def runs(text: str) -> tuple[tuple[str, bool], ...]:
    """`text` cut into (piece, is_ethiopic) runs. The spaces between two Ethiopic words stay in
    their run, so "አበበ ከበደ" is one run and a reader extracts it as one string."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for match in _ETHIOPIC_RUN.finditer(text):
        if match.start() > pos:
            out.append((text[pos : match.start()], False))
        out.append((match.group(), True))
        pos = match.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return tuple(out)


@dataclass(frozen=True)
class Style:
    """Size, weight and colour of a piece of text."""

    size: float
    bold: bool = False
    color: tuple[float, float, float] = (0.1, 0.12, 0.14)


@lru_cache(maxsize=8192)
def width(text: str, style: Style) -> float:
    """Width in points of `text` drawn run by run."""
    register_fonts()
    return sum(
        pdfmetrics.stringWidth(piece, font_for(eth, style.bold), style.size)
        for piece, eth in runs(text)
    )


def wrap(text: str, max_width: float, style: Style) -> list[str]:
    """Lines of at most `max_width` points: at spaces where possible, inside a word that is
    longer than a line by itself (a 300-letter name still stays on the page)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if width(candidate, style) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            while width(word, style) > max_width:
                cut = _longest_prefix(word, max_width, style)
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def shrink(text: str, max_width: float, style: Style, smallest: float) -> Style:
    """The style at the largest size (down to `smallest`, by half points) that puts `text` on
    one line; `style` unchanged when even `smallest` is too big (then the text wraps)."""
    size = style.size
    while size >= smallest:
        candidate = replace(style, size=size)
        if width(text, candidate) <= max_width:
            return candidate
        size -= 0.5
    return style


def fit(text: str, max_width: float, style: Style) -> str:
    """`text` on one line of at most `max_width` points, cut with "…" if it is longer."""
    if width(text, style) <= max_width:
        return text
    ellipsis = "\u2026"
    room = max_width - width(ellipsis, style)
    if room <= 0:
        return ""
    return text[: _longest_prefix(text, room, style)].rstrip() + ellipsis


def _longest_prefix(word: str, max_width: float, style: Style) -> int:
    """How many leading characters of `word` fit (at least one, so wrapping always advances)."""
    lo, hi = 1, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width(word[:mid], style) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return lo


class TextLayer:
    """All of a page's text in one PDF text object: one BT/ET, the colour set only when it
    changes (a text object per line costs ~10 % more to build and write). Text is painted over
    the page's rules and bands whatever the order they were drawn in."""

    def __init__(self, canvas: Canvas) -> None:
        register_fonts()
        self.canvas = canvas
        self._open()

    def _open(self) -> None:
        self.obj = self.canvas.beginText()
        self.color: tuple[float, float, float] | None = None

    def draw(self, x: float, y: float, text: str, style: Style, *, align: str = "left") -> float:
        """One line with its baseline at `y`; `x` is its left edge, or its right edge with
        align="right". Returns the line's width."""
        line_width = width(text, style)
        if align == "right":
            x -= line_width
        self.obj.setTextOrigin(x, y)
        if style.color != self.color:
            self.obj.setFillColorRGB(*style.color)
            self.color = style.color
        for piece, eth in runs(text):
            self.obj.setFont(font_for(eth, style.bold), style.size)
            self.obj.textOut(piece)
        return line_width

    def flush(self) -> None:
        """Put the page's text on the canvas (before showPage) and start afresh."""
        self.canvas.drawText(self.obj)
        self._open()


_LICENCE_TEXT = 13  # name ID of the licence description; ID 14 (the licence URL) stays


def without_licence_text(name_table: bytes) -> bytes:
    """A TrueType 'name' table without its licence-description records (DejaVu's is 14 KB of
    the 15 KB table, copied into every subset); the copyright and the licence URL remain."""
    _fmt, count, storage = struct.unpack(">HHH", name_table[:6])
    records = []
    strings = bytearray()
    for i in range(count):
        platform, encoding, language, name_id, length, offset = struct.unpack(
            ">6H", name_table[6 + 12 * i : 18 + 12 * i]
        )
        if name_id == _LICENCE_TEXT:
            continue
        start = storage + offset
        records.append((platform, encoding, language, name_id, length, len(strings)))
        strings += name_table[start : start + length]
    header = struct.pack(">HHH", 0, len(records), 6 + 12 * len(records))
    return header + b"".join(struct.pack(">6H", *r) for r in records) + bytes(strings)


class _LeanFace(TTFontFace):
    """A face whose subsets carry no licence text (it is in assets/fonts/LICENSE-*.txt)."""

    def get_table(self, tag: str) -> bytes:
        if tag != "name":
            return super().get_table(tag)
        lean = getattr(self, "_lean_name", None)  # built once per font, not per subset
        if lean is None:
            lean = self._lean_name = without_licence_text(super().get_table(tag))
        return lean
