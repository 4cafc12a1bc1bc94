"""A doctor's photo: what an admin uploads, checked and re-encoded once, then served to patients.

An upload is untrusted bytes. It is refused when over 5 MB, when it is not a JPEG, PNG or WebP,
or when its header claims more pixels than a photo has (a "decompression bomb": a few kilobytes
that would decode into gigabytes). What is kept is never the upload itself: the picture is
turned upright by its EXIF orientation, centre-cropped to a square, scaled to 400x400 and saved
as a new JPEG without EXIF, GPS, comments or ICC profile, so nothing the camera wrote reaches
patients and every photo costs about the same to serve.

`Doctor.photo_updated_at` says whether there is one (None: initials are shown) and versions its
URL (`photo_url`), so a browser caches a photo for good and fetches a new one after a change.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageCms, ImageOps
from sqlmodel import Session

from efoy_app.domain import audit
from efoy_app.domain.auth import require_role
from efoy_app.domain.doctors import locked_doctor, photo_url
from efoy_app.domain.errors import NotFound, ValidationFailed
from efoy_app.models import ROLE_ADMIN, Doctor, DoctorPhoto, User, utcnow

MAX_PHOTO_BYTES = 5 * 1024 * 1024
# A 40-megapixel picture decodes to 120 MB of RGB: the most a photo worth keeping needs, and
# the most one upload may make the server hold. Checked on the header, before decoding.
MAX_PIXELS = 40_000_000
SIDE = 400
JPEG_QUALITY = 85
CONTENT_TYPE = "image/jpeg"
FORMATS = ("JPEG", "PNG", "WEBP")  # the only decoders Pillow may try on an upload

NOT_A_PICTURE = "That file is not a picture (JPEG, PNG or WebP)."
TOO_BIG = "That file is larger than 5 MB; choose a smaller photo."
NO_PHOTO = "This doctor has no photo."


@dataclass(frozen=True)
class StoredPhoto:
    """A photo as saved: where patients fetch it and what it weighs."""

    doctor_id: int
    updated_at: datetime
    photo_url: str
    size: int


def photo_etag(data: bytes) -> str:
    """A strong ETag from the bytes themselves (the same photo, the same tag, on every worker)."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(img: Image.Image) -> Image.Image:
    """Colours from the picture's own profile (a phone's Display P3, a print shop's CMYK) into
    sRGB, which browsers assume for a JPEG without one; a broken profile leaves them as they are."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, source, _SRGB, outputMode="RGB") or img
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img


def _flatten(img: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency becomes white (a logo on a clear background stays readable)."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale PNG: scale to 8 bits
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    return img.convert("RGB")


def normalize_photo(data: bytes) -> bytes:
    """The upload as the square JPEG Efoy keeps; ValidationFailed with a sentence otherwise."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ValidationFailed(TOO_BIG, code="photo_too_large")
    if not data:
        raise ValidationFailed(NOT_A_PICTURE, code="not_a_picture")
    try:
        # open() reads the header only; Pillow itself refuses past 2x Image.MAX_IMAGE_PIXELS.
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _TooManyPixels(width, height)
            probe.verify()  # checksums and structure, without decoding the pixels
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            img.draft("RGB", (SIDE, SIDE))  # a large JPEG decodes at 1/2, 1/4 or 1/8 scale
            upright = ImageOps.exif_transpose(img)
            square = ImageOps.fit(
                _flatten(_to_srgb(upright)),
                (SIDE, SIDE),
                Image.Resampling.LANCZOS,
                centering=(0.5, 0.5),
            )
    except _TooManyPixels as exc:
        raise ValidationFailed(
            f"That picture is {exc.width} x {exc.height} pixels; a photo may have at most "
            f"{MAX_PIXELS // 1_000_000} million pixels.",
            code="photo_too_large",
        ) from None
    except Image.DecompressionBombError:
        raise ValidationFailed(
            f"That picture claims more pixels than any photo has; a photo may have at most "
            f"{MAX_PIXELS // 1_000_000} million pixels.",
            code="photo_too_large",
        ) from None
    except Exception:  # any decoder failure on untrusted bytes means it is not a picture
        raise ValidationFailed(NOT_A_PICTURE, code="not_a_picture") from None
    # Only the pixels go on: Pillow would carry the upload's comment (and other `info`) into
    # the new file, so the JPEG is written from a fresh image, with no exif= or icc_profile=.
    pixels = Image.frombytes("RGB", square.size, square.tobytes())
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


class _TooManyPixels(Exception):
    def __init__(self, width: int, height: int) -> None:
        super().__init__(f"{width}x{height}")
        self.width, self.height = width, height


def set_photo(db: Session, doctor_id: int, data: bytes, admin: User) -> StoredPhoto:
    """Check, re-encode and store a doctor's photo (commits, audited); the old one is replaced.

    The picture is checked before the doctor's row is locked: decoding takes a moment and
    holds no lock."""
    require_role(admin, ROLE_ADMIN)
    jpeg = normalize_photo(data)
    now = utcnow()
    try:
        doctor = locked_doctor(db, doctor_id)
        photo = db.get(DoctorPhoto, doctor_id)
        replaced = photo is not None
        if photo is None:
            photo = DoctorPhoto(doctor_id=doctor_id, content_type=CONTENT_TYPE, data=jpeg)
        photo.content_type, photo.data, photo.updated_at = CONTENT_TYPE, jpeg, now
        doctor.photo_updated_at = now
        db.add_all([photo, doctor])
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor_id,
            action="photo_changed",
            details={"uploaded_bytes": len(data), "stored_bytes": len(jpeg), "replaced": replaced},
        )  # fmt: skip
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return StoredPhoto(doctor_id, now, photo_url(doctor_id, now) or "", len(jpeg))


def remove_photo(db: Session, doctor_id: int, admin: User) -> bool:
    """Remove a doctor's photo, so patients see initials again (commits, audited).

    False when there was none (nothing changes, nothing is audited): removing twice is fine."""
    require_role(admin, ROLE_ADMIN)
    try:
        doctor = locked_doctor(db, doctor_id)
        photo = db.get(DoctorPhoto, doctor_id)
        if photo is None and doctor.photo_updated_at is None:
            db.rollback()
            return False
        if photo is not None:
            db.delete(photo)
        doctor.photo_updated_at = None
        db.add(doctor)
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor_id,
            action="photo_removed",
        )  # fmt: skip
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return True


def photo_of(
    db: Session, doctor_id: int, *, include_inactive: bool = False
) -> tuple[bytes, str, datetime]:
    """(bytes, content type, when it changed); NotFound when the doctor is unknown, has no photo,
    or is inactive (unless `include_inactive`, for admins): patients never see a hidden doctor."""
    doctor = db.get(Doctor, doctor_id)
    if doctor is None or not (doctor.active or include_inactive):
        raise NotFound("Doctor not found.")
    photo = db.get(DoctorPhoto, doctor_id)
    if photo is None or doctor.photo_updated_at is None:
        raise NotFound(NO_PHOTO)
    return photo.data, photo.content_type, photo.updated_at
