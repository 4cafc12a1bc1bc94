"""Doctors' photos over REST: the public `GET /api/v1/doctors/{id}/photo` that patients' pages
show, and the admins' `PUT` / `DELETE /api/v1/admin/doctors/{id}/photo`.

The upload is `multipart/form-data` with the file in the field `photo` (what an HTML form and
`curl -F photo=@face.jpg` send): up to 5 MB of JPEG, PNG or WebP, which `domain.doctor_photo`
checks and re-encodes to a 400x400 JPEG. The answer to a GET is always that JPEG, with a strong
ETag (a matching `If-None-Match` gets a 304) and a Cache-Control that lets a browser keep the
versioned address (`?v=`, from `photoUrl`) for good and revalidate any other.

Anonymous callers and patients see the photos of active doctors only (404 otherwise, as the
doctor's own page is); an admin's token also shows a deactivated doctor's, never cached publicly.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Query, UploadFile
from fastapi.responses import Response

from efoy_app.api.admin import ADMIN_ERRORS
from efoy_app.api.deps import AdminUser, DbSession, OptionalUser, finish
from efoy_app.api.doctors import OPTIONAL_AUTH, DoctorId
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    COMMON_ERRORS,
    CamelModel,
    IsoDateTime,
    error_responses,
    shown_in,
)
from efoy_app.domain import doctor_photo
from efoy_app.models import ROLE_ADMIN
from efoy_app.routes import API_ADMIN, API_DOCTORS

router = APIRouter(tags=["doctors"], responses=COMMON_ERRORS)

PUBLIC_PATH = f"{API_DOCTORS}/{{doctor_id}}/photo"
ADMIN_PATH = f"{API_ADMIN}/doctors/{{doctor_id}}/photo"
# The address carries the photo's version: what is fetched under it never changes.
CACHE_VERSIONED = "public, max-age=31536000, immutable"
CACHE_UNVERSIONED = "public, no-cache"  # keep it, but ask (If-None-Match) before showing it
CACHE_ADMIN = "private, no-cache"  # a deactivated doctor's photo, seen with an admin's token
NOT_FOUND = error_responses(404, s404="No such doctor, not an active one, or no photo")


class PhotoOut(CamelModel):
    """`doctor_photo.StoredPhoto` on the wire."""

    doctor_id: int
    photo_url: str
    updated_at: IsoDateTime
    size: int


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or any listed tag, weak or strong (weak comparison)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _version(url: str | None) -> str:
    return url.rpartition("?v=")[2] if url else ""


@router.get(
    PUBLIC_PATH,
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The photo, 400x400 JPEG"},
        304: {"description": "Not modified: the ETag sent in If-None-Match is current"},
        **error_responses(401),
        **NOT_FOUND,
    },
    openapi_extra=OPTIONAL_AUTH,
)
def get_photo(
    doctor_id: DoctorId,
    user: OptionalUser,
    db: DbSession,
    v: Annotated[
        str | None, Query(max_length=32, description="The version from `photoUrl`")
    ] = None,
    if_none_match: Annotated[str | None, Header(max_length=4000)] = None,
) -> Response:
    """Public (a token is optional). A doctor's photo as a 400x400 JPEG."""
    as_admin = user is not None and user.role == ROLE_ADMIN
    data, content_type, updated_at = doctor_photo.photo_of(db, doctor_id, include_inactive=as_admin)
    finish(db, None)
    etag = doctor_photo.photo_etag(data)
    current = _version(doctor_photo.photo_url(doctor_id, updated_at))
    if as_admin:
        cache = CACHE_ADMIN
    else:
        cache = CACHE_VERSIONED if v is not None and v == current else CACHE_UNVERSIONED
    headers = {"ETag": etag, "Cache-Control": cache}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=content_type, headers=headers)


@router.put(
    ADMIN_PATH,
    response_model=PhotoOut,
    tags=["admin"],
    responses={
        **AUTH_ERRORS,
        **ADMIN_ERRORS,
        **error_responses(404, s404="No such doctor"),
        **error_responses(
            413, s413="payload_too_large: the request body is over 5 MB and a little"
        ),
        **error_responses(
            422,
            s422="not_a_picture, photo_too_large (over 5 MB or 40 megapixels), or no `photo`",
        ),
    },
)
def put_photo(
    doctor_id: DoctorId,
    admin: AdminUser,
    db: DbSession,
    photo: Annotated[
        UploadFile,
        File(description="The picture: JPEG, PNG or WebP, at most 5 MB and 40 megapixels"),
    ],
) -> PhotoOut:
    """Set (or replace) a doctor's photo; patients see it at once. Audited (photo_changed)."""
    data = photo.file.read(doctor_photo.MAX_PHOTO_BYTES + 1)  # one byte past is enough to refuse
    stored = doctor_photo.set_photo(db, doctor_id, data, admin)
    return finish(db, PhotoOut.model_validate(stored, context=shown_in(admin.timezone)))


@router.delete(
    ADMIN_PATH,
    status_code=204,
    response_class=Response,
    tags=["admin"],
    responses={**AUTH_ERRORS, **ADMIN_ERRORS, **error_responses(404, s404="No such doctor")},
)
def delete_photo(doctor_id: DoctorId, admin: AdminUser, db: DbSession) -> Response:
    """Remove a doctor's photo: patients see initials again. Removing none is fine (204 too).
    Audited (photo_removed) when there was one."""
    doctor_photo.remove_photo(db, doctor_id, admin)
    return finish(db, Response(status_code=204))
