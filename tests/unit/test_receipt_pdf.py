"""The PDF renderer, read back with pypdf: what a patient's PDF reader would extract and show."""

from __future__ import annotations

import dataclasses
import io
import struct
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFontFace

from efoy_app.domain import pdf_text
from efoy_app.domain.pdf_text import Style
from efoy_app.domain.receipt_doc import ClinicInfo, ReceiptDoc, RefundLine, RefundNoteDoc
from efoy_app.domain.receipt_pdf import (
    ASSETS,
    MARGIN,
    appointment_label,
    card_label,
    clinic_info,
    render_receipt,
    render_refund_note,
)
from efoy_app.settings import Settings

LATIN = "Zoë Ñúñez-Łukasiewicz Straße ā"
ETHIOPIC = "አበበ ከበደ"
CLINIC = ClinicInfo(
    name="Efoy Clinic",
    address="Bole Road 12\nAddis Ababa\nEthiopia",
    logo_path=ASSETS / "efoy-logo.png",
)


def receipt(**changes: object) -> ReceiptDoc:
    doc = ReceiptDoc(
        clinic=CLINIC,
        number="EFOY-2026-000123",
        issued_at=datetime(2026, 12, 1, 6, 5, tzinfo=UTC),
        patient_name=LATIN,
        patient_email="zoe@example.com",
        doctor_name="Dr. Hanna Tesfaye",
        speciality="Cardiology",
        starts_at=datetime(2026, 12, 7, 6, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 7, 6, 30, tzinfo=UTC),
        patient_timezone="Africa/Addis_Ababa",
        line_item="Consultation with Dr. Hanna Tesfaye (30 minutes)",
        amount_minor=4500,
        currency="USD",
        card_brand="visa",
        card_last4="4242",
        payment_intent_id="pi_3QxTest0000000001",
        paid_at=datetime(2026, 12, 1, 6, 4, 37, tzinfo=UTC),
    )
    return dataclasses.replace(doc, **changes)


def refund(day: int, note: str, minor: int, reason: str = "Patient cancelled") -> RefundLine:
    return RefundLine(
        note_number=note,
        refunded_at=datetime(2026, 12, day, 9, 15, tzinfo=UTC),
        amount_minor=minor,
        reason=reason,
    )


def refund_note(**changes: object) -> RefundNoteDoc:
    doc = RefundNoteDoc(
        clinic=CLINIC,
        number="EFOY-RN-2026-000007",
        issued_at=datetime(2026, 12, 6, 9, 15, tzinfo=UTC),
        receipt_number="EFOY-2026-000123",
        patient_name=ETHIOPIC,
        patient_email="abebe@example.com",
        doctor_name="Dr. Hanna Tesfaye",
        starts_at=datetime(2026, 12, 7, 6, 0, tzinfo=UTC),
        patient_timezone="Africa/Addis_Ababa",
        amount_minor=75_000,
        currency="ETB",
        reason="Cancelled 24–48 hours before: 50 % refund",
        stripe_refund_id="re_3QxTest0000000007",
        payment_intent_id="pi_3QxTest0000000001",
        paid_minor=150_000,
        refunded_total_minor=100_000,
    )
    return dataclasses.replace(doc, **changes)


def lines(pdf: bytes) -> list[str]:
    """Every extracted line of every page, as pypdf reads them."""
    reader = PdfReader(io.BytesIO(pdf))
    return [line for page in reader.pages for line in page.extract_text().split("\n")]


# --- receipts ------------------------------------------------------------------------------------


def test_receipt_says_who_what_when_and_how_paid() -> None:
    got = lines(render_receipt(receipt()))
    assert "No. EFOY-2026-000123" in got
    assert "Issued 1 Dec 2026" in got
    assert "Efoy Clinic" in got and "Bole Road 12" in got and "Addis Ababa" in got
    assert LATIN in got
    assert "zoe@example.com" in got
    assert "Dr. Hanna Tesfaye" in got
    assert "Cardiology" in got
    assert "Mon 7 Dec 2026, 09:00–09:30 (Africa/Addis_Ababa, EAT)" in got
    assert "Consultation with Dr. Hanna Tesfaye (30 minutes) $45.00" in got
    assert "Paid $45.00" in got
    assert "Payment method Visa •••• 4242" in got
    assert "Paid at Tue 1 Dec 2026, 09:04 EAT" in got
    assert "Stripe PaymentIntent pi_3QxTest0000000001" in got
    assert not any("Net paid" in line or "Refund" in line for line in got)  # nothing refunded


def test_an_ethiopic_name_extracts_exactly_and_is_drawn_in_noto() -> None:
    pdf = render_receipt(receipt(patient_name=ETHIOPIC))
    assert ETHIOPIC in lines(pdf)
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    base = sorted(str(font.get_object()["/BaseFont"]).split("+")[1] for font in fonts.values())
    assert base == ["DejaVuSans", "DejaVuSans-Bold", "NotoSansEthiopic-Bold"]


def test_mixed_scripts_in_one_name_extract_as_one_line() -> None:
    name = f"Zoë {ETHIOPIC} Łukasz"
    assert name in lines(render_receipt(receipt(patient_name=name)))


def test_fonts_are_embedded_as_subsets_and_the_file_is_small() -> None:
    pdf = render_receipt(
        receipt(patient_name=f"{ETHIOPIC} / {LATIN}", refunds=(refund(6, "N1", 500),))
    )
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    for font in fonts.values():
        font = font.get_object()
        tag, _, _name = str(font["/BaseFont"]).lstrip("/").partition("+")
        assert len(tag) == 6 and tag.isupper()  # the subset tag PDF readers expect
        assert "/FontFile2" in font["/FontDescriptor"]  # embedded, not left to the reader
    assert len(pdf) <= 60_000


@pytest.mark.parametrize(
    ("currency", "paid", "refunds", "lines_expected"),
    [
        (
            "USD",
            4500,
            (refund(5, "EFOY-RN-2026-000001", 1000), refund(6, "EFOY-RN-2026-000002", 1250)),
            [
                "Consultation with Dr. Hanna Tesfaye (30 minutes) $45.00",
                "Paid $45.00",
                "5 Dec 2026 · Refund note EFOY-RN-2026-000001 −$10.00",
                "6 Dec 2026 · Refund note EFOY-RN-2026-000002 −$12.50",
                "Refunded −$22.50",
                "Net paid $22.50",
            ],
        ),
        (
            "EUR",
            4500,
            (refund(6, "EFOY-RN-2026-000003", 4500),),
            [
                "Paid €45.00",
                "6 Dec 2026 · Refund note EFOY-RN-2026-000003 −€45.00",
                "Net paid €0.00",
            ],
        ),
        (
            "ETB",
            150_000,
            (refund(6, "EFOY-RN-2026-000004", 75_000),),
            [
                "Paid ETB1,500.00",
                "6 Dec 2026 · Refund note EFOY-RN-2026-000004 −ETB750.00",
                "Refunded −ETB750.00",
                "Net paid ETB750.00",
            ],
        ),
        (
            "JPY",
            12_000,
            (refund(6, "EFOY-RN-2026-000005", 6_000),),
            [
                "Consultation with Dr. Hanna Tesfaye (30 minutes) ¥12,000",
                "Paid ¥12,000",
                "6 Dec 2026 · Refund note EFOY-RN-2026-000005 −¥6,000",
                "Net paid ¥6,000",
            ],
        ),
    ],
)
def test_amounts_refunds_and_net_in_each_currency(
    currency: str, paid: int, refunds: tuple[RefundLine, ...], lines_expected: list[str]
) -> None:
    got = lines(render_receipt(receipt(currency=currency, amount_minor=paid, refunds=refunds)))
    for expected in lines_expected:
        assert expected in got
    assert "Patient cancelled" in got  # each refund's reason under it


def test_a_card_without_details_and_a_refund_without_a_note_number() -> None:
    doc = receipt(card_brand=None, card_last4=None, payment_intent_id=None)
    doc = dataclasses.replace(
        doc, refunds=(dataclasses.replace(refund(6, "x", 500), note_number=None),)
    )
    got = lines(render_receipt(doc))
    assert "Payment method Card" in got
    assert "6 Dec 2026 · Refund −$5.00" in got
    assert not any("PaymentIntent" in line for line in got)


# --- refund notes --------------------------------------------------------------------------------


def test_refund_note_points_at_its_receipt_and_nets_the_payment() -> None:
    got = lines(render_refund_note(refund_note()))
    assert any(line.endswith("No. EFOY-RN-2026-000007") for line in got)
    assert "for receipt EFOY-2026-000123" in got
    assert "Issued 6 Dec 2026" in got
    assert ETHIOPIC in got
    assert "Dr. Hanna Tesfaye" in got
    assert "Mon 7 Dec 2026, 09:00 (Africa/Addis_Ababa, EAT)" in got
    assert "Refund of the payment on receipt EFOY-2026-000123 ETB750.00" in got
    assert "Reason: Cancelled 24–48 hours before: 50 % refund" in got
    assert "Paid ETB1,500.00" in got
    assert "Refunded so far −ETB1,000.00" in got
    assert "Net paid ETB500.00" in got
    assert "Refund amount ETB750.00" in got
    assert "Refunded at Sun 6 Dec 2026, 12:15 EAT" in got
    assert "Stripe refund re_3QxTest0000000007" in got
    assert "Stripe PaymentIntent pi_3QxTest0000000001" in got


# --- paper and metadata --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paper", "size"), [("A4", (595.2756, 841.8898)), ("Letter", (612.0, 792.0))]
)
def test_paper_size(paper: str, size: tuple[float, float]) -> None:
    clinic = dataclasses.replace(CLINIC, paper=paper)
    for pdf in (
        render_receipt(receipt(clinic=clinic)),
        render_refund_note(refund_note(clinic=clinic)),
    ):
        box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
        assert (float(box.width), float(box.height)) == size


def test_metadata() -> None:
    meta = PdfReader(io.BytesIO(render_receipt(receipt()))).metadata
    assert meta.title == "Receipt EFOY-2026-000123"
    assert meta.author == "Efoy Clinic"
    assert meta.subject == "Payment receipt EFOY-2026-000123"
    assert meta.creator == "Efoy"
    meta = PdfReader(io.BytesIO(render_refund_note(refund_note()))).metadata
    assert meta.title == "Refund note EFOY-RN-2026-000007"
    assert meta.author == "Efoy Clinic"


# --- long text stays on the page -----------------------------------------------------------------

_FACE_TO_FONT: dict[str, str] = {}


def drawn_lines(pdf: bytes) -> list[tuple[int, str, float, float]]:
    """(page, text, left, right) of every drawn line; runs in other fonts measured in theirs."""
    pdf_text.register_fonts()
    if not _FACE_TO_FONT:
        for name in pdf_text.FONT_FILES:
            _FACE_TO_FONT[pdfmetrics.getFont(name).face.name.decode()] = name
    out: list[tuple[int, str, float, float]] = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):
        found: list[list] = []

        def visit(text, cm, tm, font, size, found=found, number=number) -> None:  # noqa: ANN001
            text = text.strip("\n")  # pypdf's own line breaks, not drawn
            if not text.strip() or font is None:
                return
            face = str(font["/BaseFont"]).partition("+")[2]
            w = pdfmetrics.stringWidth(text, _FACE_TO_FONT[face], size)
            x = tm[4]
            if found and found[-1][2] == x and found[-1][4] == tm[5]:  # another run, same line
                found[-1][1] += text
                found[-1][3] += w
            else:
                found.append([number, text, x, x + w, tm[5]])

        page.extract_text(visitor_text=visit)
        out += [(n, text, left, right) for n, text, left, right, _y in found]
    return out


def test_a_300_character_name_wraps_inside_the_page() -> None:
    name = (LATIN + " " + ETHIOPIC + " ") * 8 + "W" * 8
    name = name[:300]
    assert len(name) == 300
    long_clinic = dataclasses.replace(
        CLINIC, name="Klinik für Allgemeinmedizin Dr. med. Müller-Lüdenscheidt & Partner " * 2
    )
    doc = receipt(
        clinic=long_clinic,
        patient_name=name,
        doctor_name="Dr. " + "Ñ" * 150,
        patient_email="a" * 120 + "@example.com",
        line_item="Consultation " + "x" * 200,
    )
    pdf = render_receipt(doc)
    drawn = drawn_lines(pdf)
    width = float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.width)
    for _page, text, left, right in drawn:
        assert left >= MARGIN - 0.01, text
        assert right <= width - MARGIN + 0.01, text
    text = "".join(line for _p, line, _l, _r in drawn)
    assert "".join(name.split()) in "".join(text.split())  # every character, in order
    assert "Ñ" * 150 in "".join(text.split())


def test_many_refunds_continue_on_a_second_page() -> None:
    refunds = tuple(refund(6, f"EFOY-RN-2026-{i:06d}", 100) for i in range(1, 31))
    pdf = render_receipt(receipt(refunds=refunds))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    got = lines(pdf)
    assert "6 Dec 2026 · Refund note EFOY-RN-2026-000030 −$1.00" in got
    assert "Net paid $15.00" in got
    assert "Receipt EFOY-2026-000123, continued" in got
    assert "Efoy Clinic · Receipt EFOY-2026-000123 Page 2" in got
    for _page, text, left, right in drawn_lines(pdf):
        assert left >= MARGIN - 0.01 and right <= 595.2756 - MARGIN + 0.01, text


def test_a_missing_or_unreadable_logo_renders_without_one(tmp_path: Path) -> None:
    not_an_image = tmp_path / "logo.png"
    not_an_image.write_text("not a PNG")
    for logo in (Path("/nonexistent/logo.png"), not_an_image):
        pdf = render_receipt(receipt(clinic=dataclasses.replace(CLINIC, logo_path=logo)))
        assert "/XObject" not in PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]
        assert LATIN in lines(pdf)
    assert "/XObject" in PdfReader(io.BytesIO(render_receipt(receipt()))).pages[0]["/Resources"]


def test_threads_render_at_once() -> None:
    """The app renders through asyncio.to_thread: documents drawn at once must not mix."""
    names = [f"{ETHIOPIC} {i}" if i % 2 else f"{LATIN} {i}" for i in range(24)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        pdfs = list(pool.map(lambda name: render_receipt(receipt(patient_name=name)), names))
    for name, pdf in zip(names, pdfs, strict=True):
        assert name in lines(pdf)


# --- the pieces --------------------------------------------------------------------------------


def test_runs_cut_by_script_with_spaces_inside_ethiopic() -> None:
    assert pdf_text.runs("Zoë አበበ ከበደ, 12") == (("Zoë ", False), ("አበበ ከበደ", True), (", 12", False))
    assert pdf_text.runs("ⶀ ꬁ") == (("ⶀ ꬁ", True),)  # Ethiopic Extended and Extended-A
    assert pdf_text.runs("") == ()


def test_wrap_keeps_every_line_within_the_width() -> None:
    style = Style(11, bold=True)
    text = "Ñ" * 120 + " " + ETHIOPIC + " short words here"
    got = pdf_text.wrap(text, 200, style)
    assert all(pdf_text.width(line, style) <= 200 for line in got)
    assert "".join(got).replace(" ", "") == "".join(text.split())
    assert pdf_text.fit("Efoy Clinic " * 20, 100, style).endswith("…")
    assert pdf_text.width(pdf_text.fit("Efoy Clinic " * 20, 100, style), style) <= 100


def test_card_and_appointment_labels() -> None:
    assert card_label("visa", "4242") == "Visa •••• 4242"
    assert card_label("amex", "0005") == "American Express •••• 0005"
    assert card_label("link", None) == "Link"
    assert card_label(None, None) == "Card"
    assert card_label("unknown", "0000") == "Card •••• 0000"
    start = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)
    end = datetime(2026, 12, 7, 23, 15, tzinfo=UTC)
    assert appointment_label(start, end, "UTC") == "Mon 7 Dec 2026, 22:30–23:15 (UTC)"
    assert (
        appointment_label(start, end, "Europe/Berlin")
        == "Mon 7 Dec 2026, 23:30 – Tue 8 Dec 2026, 00:15 (Europe/Berlin, CET)"
    )
    assert appointment_label(start, None, "No/Such_Zone") == "Mon 7 Dec 2026, 22:30 (UTC)"


def test_clinic_info_from_settings(tmp_path: Path) -> None:
    info = clinic_info(
        Settings(clinic_name=" Efoy Bole ", clinic_address="Bole Road 12| Addis Ababa |")
    )
    assert info == ClinicInfo(
        name="Efoy Bole",
        address="Bole Road 12\nAddis Ababa",
        logo_path=ASSETS / "efoy-logo.png",
        paper="A4",
    )
    assert info.logo_path.is_file()
    logo = tmp_path / "logo.png"
    logo.write_bytes((ASSETS / "efoy-logo.png").read_bytes())
    info = clinic_info(
        Settings(clinic_address="Line one\nLine two", clinic_logo=str(logo), receipt_paper="Letter")
    )
    assert (info.address, info.logo_path, info.paper) == ("Line one\nLine two", logo, "Letter")
    assert clinic_info(Settings(clinic_logo="")).logo_path is None
    assert clinic_info(Settings(clinic_logo="no-such-logo.png")).logo_path is None


def _name_ids(table: bytes) -> dict[int, int]:
    """name ID -> total bytes of its records in a TrueType 'name' table."""
    _fmt, count, _storage = struct.unpack(">HHH", table[:6])
    ids: dict[int, int] = {}
    for i in range(count):
        *_, name_id, length, _offset = struct.unpack(">6H", table[6 + 12 * i : 18 + 12 * i])
        ids[name_id] = ids.get(name_id, 0) + length
    return ids


def test_subsets_drop_the_licence_text_but_keep_copyright_and_licence_url() -> None:
    pdf_text.register_fonts()
    face = pdfmetrics.getFont("EfoyLatin").face
    original = _name_ids(TTFontFace.get_table(face, "name"))
    lean = _name_ids(face.get_table("name"))
    assert original[13] > 9_000  # DejaVu's licence text, in two platforms' records
    assert 13 not in lean
    assert {k: v for k, v in original.items() if k != 13} == lean
    assert lean[0] > 0 and lean[14] > 0  # copyright notice and licence URL
