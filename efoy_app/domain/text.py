"""Free text that one person types and others read (names, reasons): stored as it will display.

Unicode's bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069)
reorder the text around them when it is displayed: "Eve \u202eevil" shows as "Eve live", in our
pages, in the admin tables, in PDFs and in mail clients alike. No name or reason needs them
(right-to-left scripts display correctly without them), so they are removed on input, once, by
the domain functions that accept such text. So are the other control characters (NUL, which
PostgreSQL refuses in text, the C0 and C1 controls, DEL) except tab and line breaks: nobody types
them, and a reason made of nothing else must count as empty.
"""

from __future__ import annotations

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
OTHER_CONTROLS = frozenset(
    chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\t\n\r"
)
_REMOVE = dict.fromkeys(ord(c) for c in BIDI_CONTROLS | OTHER_CONTROLS)


def clean_text(value: str | None) -> str:
    """`value` without bidirectional and other control characters, and without surrounding
    whitespace."""
    return (value or "").translate(_REMOVE).strip()


def escape_like(text: str) -> str:
    """`text` for a LIKE pattern with ESCAPE '\\': its %, _ and \\ match themselves, so a
    search for "%" finds a percent sign, not every row."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
