"""Doctors' photos in the domain: what an upload becomes (a 400x400 JPEG, upright, without
EXIF), what is refused and with which sentence (not a picture, over 5 MB, a decompression bomb),
and what storing, replacing and removing one leave behind (the doctor's `photo_updated_at`, the
photo row, the audit trail, the versioned URL patients' pages use)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlmodel import Session, select

from efoy_app.domain import doctor_photo
from efoy_app.domain.doctors import get_doctor, list_doctors
from efoy_app.domain.errors import Forbidden, NotFound, ValidationFailed
from efoy_app.models import AuditLog, Doctor, DoctorPhoto, User

RED, BLUE = (255, 0, 0), (0, 0, 255)
ORIENTATION = 0x0112  # the EXIF tag


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def top_red_bottom_blue(width: int = 200, height: int = 100) -> Image.Image:
    img = Image.new("RGB", (width, height), RED)
    img.paste(BLUE, (0, height // 2, width, height))
    return img


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` RGB pixels, with no pixel data at all:
    a few dozen bytes that would decode into width*height*3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def close(pixel: tuple[int, ...], colour: tuple[int, int, int], slack: int = 12) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel[:3], colour, strict=True))


def refused(data: bytes) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        doctor_photo.normalize_photo(data)
    return caught.value


# --- what an upload becomes --------------------------------------------------------------------


def test_a_png_with_exif_orientation_is_turned_upright_cropped_and_stored_as_a_plain_jpeg() -> None:
    # Stored sideways: the camera says "rotate 90 degrees clockwise to view" (orientation 6).
    # Upright, the top (red) half is on the right and the bottom (blue) half on the left.
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    upload = encode(top_red_bottom_blue(), "PNG", exif=exif)
    assert Image.open(io.BytesIO(upload)).getexif()[ORIENTATION] == 6

    out = Image.open(io.BytesIO(doctor_photo.normalize_photo(upload)))

    assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (400, 400))
    assert close(out.getpixel((50, 200)), BLUE)
    assert close(out.getpixel((350, 200)), RED)
    # Ignoring the orientation would have put red on top and blue below instead.
    assert close(out.getpixel((50, 50)), BLUE) and close(out.getpixel((350, 350)), RED)
    assert len(out.getexif()) == 0
    assert "exif" not in out.info and "icc_profile" not in out.info


def test_a_jpeg_with_camera_metadata_keeps_none_of_it() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 1
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2031:05:06 07:08:09"  # DateTime
    upload = encode(top_red_bottom_blue(900, 600), "JPEG", exif=exif, comment=b"at home")
    assert Image.open(io.BytesIO(upload)).getexif()[0x010F] == "PhoneMaker"

    stored = doctor_photo.normalize_photo(upload)
    out = Image.open(io.BytesIO(stored))

    assert (out.format, out.size) == ("JPEG", (400, 400))
    assert len(out.getexif()) == 0
    assert b"PhoneMaker" not in stored and b"at home" not in stored and b"Exif" not in stored
    # Wide: the middle square is kept, so the top stays red and the bottom blue.
    assert close(out.getpixel((200, 50)), RED) and close(out.getpixel((200, 350)), BLUE)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_with_transparency_become_jpeg_on_white(fmt: str) -> None:
    img = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (100, 100, 200, 200))
    out = Image.open(io.BytesIO(doctor_photo.normalize_photo(encode(img, fmt, lossless=True))))
    assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (400, 400))
    assert close(out.getpixel((10, 10)), (255, 255, 255))
    assert close(out.getpixel((200, 200)), BLUE)


def test_a_small_picture_is_enlarged_to_400_square() -> None:
    out = Image.open(
        io.BytesIO(doctor_photo.normalize_photo(encode(Image.new("RGB", (40, 90), RED), "PNG")))
    )
    assert (out.format, out.size) == ("JPEG", (400, 400))


# --- what is refused ---------------------------------------------------------------------------


def test_a_huge_dimension_bomb_is_refused_before_it_is_decoded() -> None:
    # 100,000 x 100,000 would be 30 GB of pixels: Pillow's own bomb check refuses it on open.
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 100
    err = refused(bomb)
    assert err.code == "photo_too_large"
    assert err.message == (
        "That picture claims more pixels than any photo has; a photo may have at most "
        "40 million pixels."
    )


def test_a_picture_over_40_megapixels_is_refused_on_its_header() -> None:
    # 8,000 x 8,000 = 64 MP: under Pillow's own limit, over ours; refused without decoding
    # (there are no pixels in this file to decode).
    err = refused(png_header_only(8000, 8000))
    assert err.code == "photo_too_large"
    assert err.message == (
        "That picture is 8000 x 8000 pixels; a photo may have at most 40 million pixels."
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am a text file",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        encode(Image.new("RGB", (50, 50), RED), "GIF"),  # a picture, but not one we take
        encode(Image.new("RGB", (50, 50), RED), "BMP"),
        encode(Image.new("RGB", (800, 800), RED), "JPEG")[:1500],  # cut short
        encode(Image.new("RGB", (100, 100), RED), "PNG")[:60],
    ],
    ids=["empty", "text", "pdf", "gif", "bmp", "truncated-jpeg", "truncated-png"],
)
def test_what_is_not_a_jpeg_png_or_webp_is_refused_with_one_sentence(data: bytes) -> None:
    err = refused(data)
    assert (err.code, err.message) == (
        "not_a_picture",
        "That file is not a picture (JPEG, PNG or WebP).",
    )
    assert err.http_status == 422


def test_a_file_over_5_mb_is_refused_unread() -> None:
    # A real JPEG header followed by padding: refused on its length alone.
    data = encode(Image.new("RGB", (10, 10), RED), "JPEG")
    too_big = data + b"\0" * (5 * 1024 * 1024 + 1 - len(data))
    err = refused(too_big)
    assert (err.code, err.message) == (
        "photo_too_large",
        "That file is larger than 5 MB; choose a smaller photo.",
    )
    # Exactly 5 MB is allowed through to the decoder (which then takes the padded JPEG).
    at_limit = data + b"\0" * (5 * 1024 * 1024 - len(data))
    assert Image.open(io.BytesIO(doctor_photo.normalize_photo(at_limit))).size == (400, 400)


# --- storing, replacing, removing ----------------------------------------------------------------


def photo_audits(session: Session, doctor_id: int) -> list[AuditLog]:
    return list(
        session.exec(
            select(AuditLog)
            .where(AuditLog.entity_type == "doctor", AuditLog.entity_id == doctor_id)
            .order_by(AuditLog.id)
        ).all()
    )


def test_set_photo_stores_the_jpeg_versions_the_url_and_audits(
    session: Session, make_doctor: Callable[..., Doctor], admin: User
) -> None:
    doctor = make_doctor(name="Dr. Ada Lovelace")
    assert get_doctor(session, doctor.id).photo_url is None
    upload = encode(top_red_bottom_blue(), "PNG")

    stored = doctor_photo.set_photo(session, doctor.id, upload, admin)

    session.expire_all()
    row = session.get(DoctorPhoto, doctor.id)
    refreshed = session.get(Doctor, doctor.id)
    assert row is not None and row.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(row.data)).size == (400, 400)
    assert refreshed.photo_updated_at == stored.updated_at == row.updated_at
    version = int(stored.updated_at.timestamp() * 1000)
    assert stored.photo_url == f"/api/v1/doctors/{doctor.id}/photo?v={version}"
    assert stored.size == len(row.data)
    assert get_doctor(session, doctor.id).photo_url == stored.photo_url
    assert [v.photo_url for v in list_doctors(session) if v.id == doctor.id] == [stored.photo_url]
    [entry] = photo_audits(session, doctor.id)
    assert (entry.action, entry.actor) == ("photo_changed", f"user:{admin.id}")
    details = json.loads(entry.details)
    assert details == {
        "uploaded_bytes": len(upload),
        "stored_bytes": len(row.data),
        "replaced": False,
    }
    assert doctor_photo.photo_of(session, doctor.id) == (row.data, "image/jpeg", row.updated_at)

    # A second upload replaces the first: one row, a new version, audited as a replacement.
    again = doctor_photo.set_photo(
        session, doctor.id, encode(Image.new("RGB", (50, 50), BLUE), "PNG"), admin
    )
    session.expire_all()
    assert (
        len(session.exec(select(DoctorPhoto).where(DoctorPhoto.doctor_id == doctor.id)).all()) == 1
    )
    assert again.updated_at > stored.updated_at and again.photo_url != stored.photo_url
    assert close(
        Image.open(io.BytesIO(session.get(DoctorPhoto, doctor.id).data)).getpixel((9, 9)), BLUE
    )
    assert json.loads(photo_audits(session, doctor.id)[-1].details)["replaced"] is True


def test_a_refused_upload_changes_nothing(
    session: Session, make_doctor: Callable[..., Doctor], admin: User
) -> None:
    doctor = make_doctor()
    with pytest.raises(ValidationFailed):
        doctor_photo.set_photo(session, doctor.id, b"not a picture", admin)
    session.expire_all()
    assert session.get(DoctorPhoto, doctor.id) is None
    assert session.get(Doctor, doctor.id).photo_updated_at is None
    assert photo_audits(session, doctor.id) == []


def test_remove_photo_brings_the_initials_back_and_is_audited_once(
    session: Session, make_doctor: Callable[..., Doctor], admin: User
) -> None:
    doctor = make_doctor()
    doctor_photo.set_photo(
        session, doctor.id, encode(Image.new("RGB", (64, 64), RED), "PNG"), admin
    )

    assert doctor_photo.remove_photo(session, doctor.id, admin) is True
    assert doctor_photo.remove_photo(session, doctor.id, admin) is False  # nothing left to remove

    session.expire_all()
    assert session.get(DoctorPhoto, doctor.id) is None
    assert session.get(Doctor, doctor.id).photo_updated_at is None
    assert get_doctor(session, doctor.id).photo_url is None
    assert [a.action for a in photo_audits(session, doctor.id)] == [
        "photo_changed",
        "photo_removed",
    ]
    with pytest.raises(NotFound) as caught:
        doctor_photo.photo_of(session, doctor.id)
    assert caught.value.message == "This doctor has no photo."


def test_an_inactive_doctors_photo_is_hidden_unless_asked_for_by_an_admin(
    session: Session, make_doctor: Callable[..., Doctor], admin: User
) -> None:
    doctor = make_doctor(active=False)
    doctor_photo.set_photo(
        session, doctor.id, encode(Image.new("RGB", (64, 64), RED), "PNG"), admin
    )
    with pytest.raises(NotFound) as caught:
        doctor_photo.photo_of(session, doctor.id)
    assert caught.value.message == "Doctor not found."
    data, content_type, _ = doctor_photo.photo_of(session, doctor.id, include_inactive=True)
    assert content_type == "image/jpeg" and data[:2] == b"\xff\xd8"


def test_only_an_admin_may_change_a_photo_and_only_of_a_doctor_who_exists(
    session: Session, make_doctor: Callable[..., Doctor], admin: User, patient: User
) -> None:
    doctor = make_doctor()
    picture = encode(Image.new("RGB", (64, 64), RED), "PNG")
    with pytest.raises(Forbidden):
        doctor_photo.set_photo(session, doctor.id, picture, patient)
    with pytest.raises(Forbidden):
        doctor_photo.remove_photo(session, doctor.id, patient)
    with pytest.raises(NotFound):
        doctor_photo.set_photo(session, 999_999, picture, admin)
    with pytest.raises(NotFound):
        doctor_photo.photo_of(session, 999_999)
    session.expire_all()
    assert session.get(Doctor, doctor.id).photo_updated_at is None


def test_photo_url_is_versioned_in_milliseconds_and_none_without_a_photo() -> None:
    when = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert (
        doctor_photo.photo_url(5, when)
        == f"/api/v1/doctors/5/photo?v={int(when.timestamp() * 1000)}"
    )
    assert doctor_photo.photo_url(5, when).endswith("123")
    assert doctor_photo.photo_url(5, None) is None


# --- the words and headers around the photo ---------------------------------------------------


def test_alt_text_initials_and_the_pickers_refusals_as_sentences() -> None:
    from efoy_app.state.doctor_photo import rejected_sentence
    from efoy_app.state.doctors import initials_of, photo_alt

    assert photo_alt("Dr. Anna Schmidt") == "Photo of Dr. Anna Schmidt"
    assert photo_alt("Anna Schmidt") == "Photo of Dr. Anna Schmidt"
    assert initials_of("Dr. Anna Schmidt") == "AS"
    big = [{"file": {"path": "a.jpg"}, "errors": [{"code": "file-too-large", "message": "x"}]}]
    odd = [{"file": {"path": "a.gif"}, "errors": [{"code": "file-invalid-type", "message": "x"}]}]
    many = [{"errors": [{"code": "too-many-files"}]}, {"errors": [{"code": "too-many-files"}]}]
    assert rejected_sentence(big) == "That file is larger than 5 MB; choose a smaller photo."
    assert rejected_sentence(odd) == "That file is not a picture (JPEG, PNG or WebP)."
    assert rejected_sentence(many) == "Choose one photo at a time."
    assert (
        rejected_sentence([])
        == rejected_sentence([{"errors": "junk"}])
        == doctor_photo.NOT_A_PICTURE
    )


def test_if_none_match_takes_lists_weak_tags_and_star() -> None:
    from efoy_app.api.doctor_photos import etag_matches

    tag = doctor_photo.photo_etag(b"jpeg bytes")
    assert tag == doctor_photo.photo_etag(b"jpeg bytes") != doctor_photo.photo_etag(b"other")
    assert etag_matches(tag, tag) and etag_matches(f'"a", W/{tag}', tag) and etag_matches("*", tag)
    assert not etag_matches(None, tag) and not etag_matches('"a", "b"', tag)
    assert not etag_matches(tag.strip('"'), tag)  # an unquoted tag is not the same tag
