"""Receipts and refund notes as PDF bytes: pure functions of a `ReceiptDoc` / `RefundNoteDoc`.

No database and no settings here (`clinic_info` turns Settings into the issuer once), so the
download route, the mailer and the tests render the same document from the same facts. Drawn
with reportlab's canvas (a handful of absolute positions, no flowable layout to pay for), text
through `pdf_text` so Latin and Ethiopic names get real glyphs. Callers on the event loop go
through `asyncio.to_thread`.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from reportlab import rl_config
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from efoy_app.domain import pdf_text
from efoy_app.domain.money import format_money
from efoy_app.domain.pdf_text import Style
from efoy_app.domain.receipt_doc import ClinicInfo, ReceiptDoc, RefundNoteDoc
from efoy_app.domain.times import when_label, zone

if TYPE_CHECKING:
    from efoy_app.settings import Settings

# Streams as plain deflated binary, not also ASCII85 text (a 7-bit-channel relic that adds a
# quarter to each stream and, without reportlab's C accelerator, is encoded in Python).
# Process-wide, as reportlab reads it there; Efoy draws no other PDFs.
rl_config.useA85 = 0

ASSETS = Path(__file__).resolve().parents[2] / "assets"
PAGE_SIZES = {"A4": A4, "Letter": LETTER}
CREATOR = "Efoy"

MARGIN = 50.0
LOGO = 44.0
ACCENT = (0.039, 0.478, 0.427)  # #0a7a6d, the app's teal at text contrast
MUTED = (0.376, 0.392, 0.424)  # #60646c
RULE = (0.85, 0.86, 0.88)
BAND = (0.953, 0.961, 0.965)

TITLE = Style(22, bold=True, color=ACCENT)
CLINIC = Style(13, bold=True)
BODY = Style(9.5)
BODY_BOLD = Style(9.5, bold=True)
NAME = Style(11, bold=True)
SMALL = Style(8.5, color=MUTED)
LABEL = Style(7.5, bold=True, color=MUTED)
TOTAL = Style(11, bold=True)

BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
    "eftpos_au": "eftpos",
    "interac": "Interac",
    "unknown": "Card",
}


# --- the issuer -----------------------------------------------------------------------------


def clinic_info(settings: Settings) -> ClinicInfo:
    """The issuer from EFOY_CLINIC_*: address lines split at "|" or newlines, the logo under
    assets/ unless absolute, and no logo (rather than a failed render) when it is missing."""
    lines = settings.clinic_address.replace("|", "\n").split("\n")
    address = "\n".join(line.strip() for line in lines if line.strip())
    logo: Path | None = None
    if settings.clinic_logo.strip():
        path = Path(settings.clinic_logo.strip())
        path = path if path.is_absolute() else ASSETS / path
        logo = path if path.is_file() else None
    return ClinicInfo(
        name=settings.clinic_name.strip(),
        address=address,
        logo_path=logo,
        paper=settings.receipt_paper,
    )


@lru_cache(maxsize=8)
def _logo(path: str, mtime: float) -> ImageReader | None:
    """The decoded logo, once per file version, not once per document; None if unreadable."""
    try:
        return ImageReader(path)
    except OSError:
        return None


def warm_up(settings: Settings) -> None:
    """Parse the fonts and the logo once when the app starts (about 0.3 s), so the first
    confirmation, which renders its receipt inside the webhook's transaction, does not wait."""
    pdf_text.register_fonts()
    logo = clinic_info(settings).logo_path
    if logo is not None:
        _logo(str(logo), logo.stat().st_mtime)


# --- words -------------------------------------------------------------------------------------


def card_label(brand: str | None, last4: str | None) -> str:
    """ "Visa •••• 4242" (or "Visa ending 4242" if the font had no bullet); "Card" when unknown."""
    name = BRANDS.get((brand or "").lower(), (brand or "").replace("_", " ").title()) or "Card"
    if not last4:
        return name
    if pdf_text.has_glyph("\u2022"):
        return f"{name} \u2022\u2022\u2022\u2022 {last4}"
    return f"{name} ending {last4}"


def _zone_named(moment: datetime, tz: str) -> str:
    """ "Africa/Addis_Ababa, EAT", or just "UTC" when the abbreviation is the name."""
    key = zone(tz).key
    abbr = moment.tzname() or ""
    return key if abbr in ("", key) else f"{key}, {abbr}"


def _day(local: datetime) -> str:
    return f"{local:%a} {local.day} {local:%b %Y}"


def appointment_label(starts_at: datetime, ends_at: datetime | None, tz: str) -> str:
    """ "Mon 7 Dec 2026, 09:00–09:30 (Africa/Addis_Ababa, EAT)": in the patient's zone, named."""
    start = starts_at.astimezone(zone(tz))
    text = f"{_day(start)}, {start:%H:%M}"
    if ends_at is not None:
        end = ends_at.astimezone(zone(tz))
        same_day = end.date() == start.date()
        text += f"\u2013{end:%H:%M}" if same_day else f" \u2013 {_day(end)}, {end:%H:%M}"
    return f"{text} ({_zone_named(start, tz)})"


def date_label(moment: datetime, tz: str) -> str:
    """ "7 Dec 2026", the calendar day in the patient's zone."""
    local = moment.astimezone(zone(tz))
    return f"{local.day} {local:%b %Y}"


def _minus(minor: int, currency: str) -> str:
    return "\u2212" + format_money(minor, currency)


# --- drawing -----------------------------------------------------------------------------------


class _Sheet:
    """A canvas with a cursor `y` that starts a new page (and its footer) when space runs out."""

    def __init__(self, clinic: ClinicInfo, title: str, subject: str, footer: str) -> None:
        self.buffer = io.BytesIO()
        self.width, self.height = PAGE_SIZES.get(clinic.paper, A4)
        self.c = Canvas(
            self.buffer,
            pagesize=(self.width, self.height),
            pageCompression=1,
            initialFontName=pdf_text.font_for(ethiopic=False, bold=False),  # no stray Helvetica
            initialFontSize=BODY.size,
        )
        self.c.setTitle(title)
        self.c.setAuthor(clinic.name)
        self.c.setSubject(subject)
        self.c.setCreator(CREATOR)
        self.left = MARGIN
        self.right = self.width - MARGIN
        self.bottom = MARGIN + 30  # the footer's band
        self.footer = footer
        self.title = title
        self.page = 1
        self.y = self.height - MARGIN
        self.layer = pdf_text.TextLayer(self.c)

    def need(self, height: float) -> None:
        if self.y - height < self.bottom:
            self._footer()
            self.layer.flush()
            self.c.showPage()
            self.page += 1
            self.y = self.height - MARGIN - 8
            self.text(self.left, f"{self.title}, continued", SMALL)
            self.y -= 10

    def text(self, x: float, text: str, style: Style, *, align: str = "left") -> None:
        self.layer.draw(x, self.y, text, style, align=align)

    def block(self, x: float, text: str, style: Style, max_width: float, lead: float) -> None:
        """Wrapped text from the cursor down; leaves the cursor under its last line."""
        for line in pdf_text.wrap(text, max_width, style):
            self.need(lead)
            self.y -= lead
            self.text(x, line, style)

    def rule(self, color: tuple[float, float, float] = RULE, weight: float = 0.75) -> None:
        self.c.setStrokeColorRGB(*color)
        self.c.setLineWidth(weight)
        self.c.line(self.left, self.y, self.right, self.y)

    def _footer(self) -> None:
        y = MARGIN
        self.c.setStrokeColorRGB(*RULE)
        self.c.setLineWidth(0.75)
        self.c.line(self.left, y + 14, self.right, y + 14)
        page = f"Page {self.page}"
        room = self.right - self.left - pdf_text.width(page, SMALL) - 24
        self.layer.draw(self.left, y, pdf_text.fit(self.footer, room, SMALL), SMALL)
        self.layer.draw(self.right, y, page, SMALL, align="right")

    def finish(self) -> bytes:
        self._footer()
        self.layer.flush()
        self.c.showPage()
        self.c.save()
        return self.buffer.getvalue()


def _header(sheet: _Sheet, clinic: ClinicInfo, title: str, facts: list[str]) -> None:
    """Logo, clinic name and address at the left; the title and its numbers at the right."""
    top = sheet.y
    text_x = sheet.left
    if clinic.logo_path is not None:
        path = clinic.logo_path
        image = _logo(str(path), path.stat().st_mtime) if path.is_file() else None
        if image is not None:
            sheet.c.drawImage(
                image, sheet.left, top - LOGO, LOGO, LOGO, mask="auto", preserveAspectRatio=True
            )
            text_x = sheet.left + LOGO + 12
    right_width = max(pdf_text.width(f, BODY) for f in facts)
    right_width = max(right_width, pdf_text.width(title, TITLE))
    left_width = max(sheet.right - text_x - right_width - 24, 120)

    sheet.y = top - 2
    sheet.block(text_x, clinic.name, CLINIC, left_width, 13)
    sheet.y -= 2
    sheet.block(text_x, clinic.address, SMALL, left_width, 11)
    left_bottom = sheet.y

    sheet.y = top - 20
    sheet.text(sheet.right, title, TITLE, align="right")
    sheet.y -= 4  # below the title's descenders, so readers extract the number on its own line
    for fact in facts:
        sheet.y -= 14
        sheet.text(sheet.right, fact, BODY, align="right")
    sheet.y = min(left_bottom, sheet.y, top - LOGO) - 18
    sheet.rule(ACCENT, 1.5)
    sheet.y -= 10


Party = tuple[str, list[tuple[str, Style]]]  # a column's label and its (text, style) lines


def _columns(sheet: _Sheet, left: Party, right: Party) -> None:
    """Two labelled columns side by side (the right one wider: it holds the appointment's time
    and zone); the cursor ends under the longer one."""
    gap = 24
    left_width = (sheet.right - sheet.left - gap) * 0.42
    top = sheet.y
    bottoms = []
    for x, max_width, (label, lines) in (
        (sheet.left, left_width, left),
        (sheet.left + left_width + gap, sheet.right - sheet.left - left_width - gap, right),
    ):
        sheet.y = top - 12
        sheet.text(x, label.upper(), LABEL)
        sheet.y -= 3
        for text, style in lines:
            if text:  # one line, up to 1.5 pt smaller, before wrapping
                fitted = pdf_text.shrink(text, max_width, style, style.size - 1.5)
                sheet.block(x, text, fitted, max_width, style.size + 4)
        bottoms.append(sheet.y)
    sheet.y = min(bottoms) - 20


def _item_head(sheet: _Sheet) -> None:
    sheet.need(22)
    sheet.c.setFillColorRGB(*BAND)
    sheet.c.rect(sheet.left, sheet.y - 18, sheet.right - sheet.left, 18, stroke=0, fill=1)
    sheet.y -= 12.5
    sheet.text(sheet.left + 8, "DESCRIPTION", LABEL)
    sheet.text(sheet.right - 8, "AMOUNT", LABEL, align="right")
    sheet.y -= 5.5


def _item(sheet: _Sheet, text: str, amount: str, style: Style = BODY, note: str = "") -> None:
    """A line: wrapped description at the left, the amount on its first line at the right."""
    amount_width = pdf_text.width(amount, style) + 24
    max_width = sheet.right - sheet.left - 16 - amount_width
    lines = pdf_text.wrap(text, max_width, style)
    sheet.need(style.size + 10)
    sheet.y -= style.size + 8
    first_line = sheet.y
    for i, line in enumerate(lines):
        if i:
            sheet.need(style.size + 4)
            sheet.y -= style.size + 4
        sheet.text(sheet.left + 8, line, style)
    below, sheet.y = sheet.y, first_line  # the amount after the words, as a reader extracts them
    sheet.text(sheet.right - 8, amount, style, align="right")
    sheet.y = below
    if note:
        sheet.block(sheet.left + 8, note, SMALL, max_width, 11)
    sheet.y -= 6


def _total(sheet: _Sheet, label: str, amount: str, style: Style) -> None:
    """A right-hand total: its label left of the amount column."""
    sheet.need(style.size + 8)
    sheet.y -= style.size + 6
    sheet.text(sheet.right - 140, label, style, align="right")
    sheet.text(sheet.right - 8, amount, style, align="right")


def _facts(sheet: _Sheet, label: str, rows: list[tuple[str, str]]) -> None:
    """A labelled list of key / value rows (payment details), values wrapped."""
    sheet.need(40)
    sheet.y -= 24
    sheet.text(sheet.left, label.upper(), LABEL)
    sheet.y -= 4
    key_width = 130
    for key, value in rows:
        lines = pdf_text.wrap(value, sheet.right - sheet.left - key_width, BODY)
        for i, line in enumerate(lines):
            sheet.need(14)
            sheet.y -= 14
            if i == 0:
                sheet.text(sheet.left, key, Style(BODY.size, color=MUTED))
            sheet.text(sheet.left + key_width, line, BODY)


# --- the documents -----------------------------------------------------------------------------


def render_receipt(doc: ReceiptDoc) -> bytes:
    """The receipt of one paid payment, with every refund so far and the net paid."""
    pdf_text.register_fonts()
    tz = doc.patient_timezone
    money = doc.currency
    sheet = _Sheet(
        doc.clinic,
        title=f"Receipt {doc.number}",
        subject=f"Payment receipt {doc.number}",
        footer=f"{doc.clinic.name} \u00b7 Receipt {doc.number}",
    )
    _header(
        sheet,
        doc.clinic,
        "Receipt",
        [f"No. {doc.number}", f"Issued {date_label(doc.issued_at, tz)}"],
    )
    _columns(
        sheet,
        ("Billed to", [(doc.patient_name, NAME), (doc.patient_email, BODY)]),
        (
            "Appointment",
            [
                (doc.doctor_name, NAME),
                (doc.speciality, BODY),
                (appointment_label(doc.starts_at, doc.ends_at, tz), BODY),
            ],
        ),
    )

    _item_head(sheet)
    _item(sheet, doc.line_item, format_money(doc.amount_minor, money))
    sheet.rule()
    _total(sheet, "Paid", format_money(doc.amount_minor, money), BODY_BOLD)
    if doc.refunds:
        sheet.y -= 8
        for line in doc.refunds:
            note = f"Refund note {line.note_number}" if line.note_number else "Refund"
            _item(
                sheet,
                f"{date_label(line.refunded_at, tz)} \u00b7 {note}",
                _minus(line.amount_minor, money),
                note=line.reason,
            )
        sheet.rule()
        _total(sheet, "Refunded", _minus(doc.refunded_minor, money), BODY)
        _total(sheet, "Net paid", format_money(doc.net_minor, money), TOTAL)
    rows = [
        ("Payment method", card_label(doc.card_brand, doc.card_last4)),
        ("Paid at", when_label(doc.paid_at, tz)),
    ]
    if doc.payment_intent_id:
        rows.append(("Stripe PaymentIntent", doc.payment_intent_id))
    _facts(sheet, "Payment", rows)
    return sheet.finish()


def render_refund_note(doc: RefundNoteDoc) -> bytes:
    """The note for one refund: what was refunded, why, and what the payment nets to now."""
    pdf_text.register_fonts()
    tz = doc.patient_timezone
    money = doc.currency
    sheet = _Sheet(
        doc.clinic,
        title=f"Refund note {doc.number}",
        subject=f"Refund note {doc.number} for receipt {doc.receipt_number}",
        footer=f"{doc.clinic.name} \u00b7 Refund note {doc.number}",
    )
    _header(
        sheet,
        doc.clinic,
        "Refund note",
        [
            f"No. {doc.number}",
            f"for receipt {doc.receipt_number}",
            f"Issued {date_label(doc.issued_at, tz)}",
        ],
    )
    _columns(
        sheet,
        ("Refunded to", [(doc.patient_name, NAME), (doc.patient_email, BODY)]),
        (
            "Appointment",
            [(doc.doctor_name, NAME), (appointment_label(doc.starts_at, None, tz), BODY)],
        ),
    )

    _item_head(sheet)
    _item(
        sheet,
        f"Refund of the payment on receipt {doc.receipt_number}",
        format_money(doc.amount_minor, money),
        note=f"Reason: {doc.reason}" if doc.reason else "",
    )
    sheet.rule()
    _total(sheet, "Paid", format_money(doc.paid_minor, money), BODY)
    _total(sheet, "Refunded so far", _minus(doc.refunded_total_minor, money), BODY)
    _total(sheet, "Net paid", format_money(doc.paid_minor - doc.refunded_total_minor, money), TOTAL)
    rows = [("Refund amount", format_money(doc.amount_minor, money))]
    if doc.reason:
        rows.append(("Reason", doc.reason))
    rows.append(("Refunded at", when_label(doc.issued_at, tz)))
    if doc.stripe_refund_id:
        rows.append(("Stripe refund", doc.stripe_refund_id))
    if doc.payment_intent_id:
        rows.append(("Stripe PaymentIntent", doc.payment_intent_id))
    _facts(sheet, "Refund", rows)
    return sheet.finish()
