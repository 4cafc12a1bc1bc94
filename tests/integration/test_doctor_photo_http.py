"""Doctors' photos over HTTP, on SQLite and PostgreSQL: an admin uploads one
(`PUT /api/v1/admin/doctors/{id}/photo`, multipart field `photo`), anyone fetches it from the
versioned `photoUrl` (image/jpeg, ETag, a 304 for a current If-None-Match, cached for good under
its version), `DELETE` brings the initials back; patients get 403 and anonymous callers 401 on
the admin routes; a deactivated doctor's photo is a 404 to everyone but an admin; bad bytes,
a missing field and a file over 5 MB are 422 JSON, a body far over it a 413.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.models import AuditLog, Doctor, DoctorPhoto
from efoy_app.routes import MAX_ID
from tests.conftest import free_port
from tests.integration.support import BACKENDS, api_on_engine, seeded_engine

TIMEOUT = 30
ADMIN = ("admin@example.com", "admin-demo-pass")
PATIENT = ("patient@example.com", "patient-demo-pass")
FIVE_MB = 5 * 1024 * 1024


@dataclass
class World:
    url: str
    engine: Engine
    admin: dict[str, str]
    patient: dict[str, str]
    active_id: int  # an active demo doctor
    removed_id: int  # an active demo doctor whose photo a test removes
    inactive_id: int  # a demo doctor deactivated for these tests


def _token(url: str, email: str, password: str) -> dict[str, str]:
    r = httpx.post(f"{url}/api/v1/auth/token", json={"email": email, "password": password},
                   timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['accessToken']}"}


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("photos")
    with seeded_engine(request.param, tmp) as engine, api_on_engine(engine, free_port()) as srv:
        with Session(engine) as s:
            doctors = s.exec(select(Doctor).order_by(Doctor.id)).all()
            assert len(doctors) >= 3 and all(d.photo_updated_at is None for d in doctors)
            doctors[2].active = False
            s.add(doctors[2])
            s.commit()
            ids = [d.id for d in doctors[:3]]
        yield World(url=srv.url, engine=engine, admin=_token(srv.url, *ADMIN),
                    patient=_token(srv.url, *PATIENT), active_id=ids[0], removed_id=ids[1],
                    inactive_id=ids[2])  # fmt: skip


def picture(
    colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (640, 480)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def put(w: World, doctor_id: int, data: bytes, headers: dict[str, str] | None = None,
        name: str = "face.png", ctype: str = "image/png") -> httpx.Response:  # fmt: skip
    return httpx.put(f"{w.url}/api/v1/admin/doctors/{doctor_id}/photo",
                     files={"photo": (name, data, ctype)},
                     headers=w.admin if headers is None else headers, timeout=TIMEOUT)  # fmt: skip


def get_photo(w: World, doctor_id: int, headers: dict[str, str] | None = None,
              **params: str) -> httpx.Response:  # fmt: skip
    return httpx.get(f"{w.url}/api/v1/doctors/{doctor_id}/photo", params=params,
                     headers=headers or {}, timeout=TIMEOUT)  # fmt: skip


def listed_photo_url(w: World, doctor_id: int) -> str | None:
    r = httpx.get(f"{w.url}/api/v1/doctors", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    [doctor] = [d for d in r.json() if d["id"] == doctor_id]
    return doctor["photoUrl"]


def audits(w: World, doctor_id: int, action: str) -> int:
    with Session(w.engine) as s:
        rows = s.exec(select(AuditLog).where(AuditLog.entity_type == "doctor",
                                             AuditLog.entity_id == doctor_id,
                                             AuditLog.action == action)).all()  # fmt: skip
        return len(rows)


def test_an_admin_uploads_and_anyone_fetches_it_as_jpeg_with_an_etag_and_a_304(
    world: World,
) -> None:
    assert listed_photo_url(world, world.active_id) is None

    r = put(world, world.active_id, picture())

    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"doctorId", "photoUrl", "updatedAt", "size"}
    assert body["doctorId"] == world.active_id
    assert body["photoUrl"].startswith(f"/api/v1/doctors/{world.active_id}/photo?v=")
    assert listed_photo_url(world, world.active_id) == body["photoUrl"]
    assert audits(world, world.active_id, "photo_changed") == 1

    got = httpx.get(world.url + body["photoUrl"], timeout=TIMEOUT)  # anonymous, as an <img> asks
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = got.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert len(got.content) == body["size"]
    img = Image.open(io.BytesIO(got.content))
    assert (img.format, img.size, len(img.getexif())) == ("JPEG", (400, 400), 0)
    with Session(world.engine) as s:
        assert s.get(DoctorPhoto, world.active_id).data == got.content

    again = httpx.get(world.url + body["photoUrl"], headers={"If-None-Match": etag},
                      timeout=TIMEOUT)  # fmt: skip
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    weak = get_photo(world, world.active_id, {"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = get_photo(world, world.active_id, {"If-None-Match": '"something-older"'})
    assert (stale.status_code, stale.content) == (200, got.content)
    # Without its version (or with an old one) the address may change meaning: revalidate.
    assert stale.headers["cache-control"] == "public, no-cache"
    assert get_photo(world, world.active_id, v="1").headers["cache-control"] == "public, no-cache"


def test_a_new_upload_gets_a_new_url_and_a_new_etag(world: World) -> None:
    first = put(world, world.active_id, picture((10, 10, 200)))
    assert first.status_code == 200, first.text
    before = httpx.get(world.url + first.json()["photoUrl"], timeout=TIMEOUT)
    second = put(world, world.active_id, picture((10, 200, 10)))
    assert second.status_code == 200, second.text
    assert second.json()["photoUrl"] != first.json()["photoUrl"]
    after = httpx.get(
        world.url + second.json()["photoUrl"],
        headers={"If-None-Match": before.headers["etag"]},
        timeout=TIMEOUT,
    )
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]


def test_delete_brings_the_initials_back(world: World) -> None:
    assert put(world, world.removed_id, picture()).status_code == 200

    r = httpx.delete(f"{world.url}/api/v1/admin/doctors/{world.removed_id}/photo",
                     headers=world.admin, timeout=TIMEOUT)  # fmt: skip

    assert (r.status_code, r.content) == (204, b"")
    assert listed_photo_url(world, world.removed_id) is None
    gone = get_photo(world, world.removed_id)
    assert gone.status_code == 404
    assert gone.json() == {"error": {"code": "not_found", "message": "This doctor has no photo."}}
    assert audits(world, world.removed_id, "photo_removed") == 1
    # Removing again is fine and changes nothing (no second audit row).
    again = httpx.delete(f"{world.url}/api/v1/admin/doctors/{world.removed_id}/photo",
                         headers=world.admin, timeout=TIMEOUT)  # fmt: skip
    assert again.status_code == 204
    assert audits(world, world.removed_id, "photo_removed") == 1


def test_patients_get_403_and_anonymous_callers_401_on_the_admin_routes(world: World) -> None:
    path = f"{world.url}/api/v1/admin/doctors/{world.active_id}/photo"
    with Session(world.engine) as s:
        before = s.get(Doctor, world.active_id).photo_updated_at
    cases = [
        (put(world, world.active_id, picture(), world.patient), 403, "forbidden"),
        (put(world, world.active_id, picture(), {}), 401, "unauthorized"),
        (httpx.delete(path, headers=world.patient, timeout=TIMEOUT), 403, "forbidden"),
        (httpx.delete(path, timeout=TIMEOUT), 401, "unauthorized"),
        (put(world, world.active_id, picture(), {"Authorization": "Bearer nonsense"}), 401,
         "invalid_token"),
    ]  # fmt: skip
    for r, status, code in cases:
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    with Session(world.engine) as s:
        assert s.get(Doctor, world.active_id).photo_updated_at == before


def test_an_inactive_doctors_photo_is_a_404_to_all_but_an_admin(world: World) -> None:
    r = put(world, world.inactive_id, picture())
    assert r.status_code == 200, r.text

    for headers in ({}, world.patient):
        hidden = httpx.get(world.url + r.json()["photoUrl"], headers=headers, timeout=TIMEOUT)
        assert hidden.status_code == 404
        assert hidden.json() == {"error": {"code": "not_found", "message": "Doctor not found."}}
    seen = get_photo(world, world.inactive_id, world.admin)
    assert (seen.status_code, seen.headers["content-type"]) == (200, "image/jpeg")
    assert seen.headers["cache-control"] == "private, no-cache"


@pytest.mark.parametrize(
    ("data", "name", "ctype"),
    [
        (b"GIF89a not really", "face.gif", "image/gif"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "face.png", "image/png"),  # a PNG signature only
        (b"\xff\xd8\xff\xe0 just the start of a jpeg", "face.jpg", "image/jpeg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "face.svg", "image/svg+xml"),
        (b"\xff\xfe\x00\x00 not utf-8 \x80\x81", "face.bin", "application/octet-stream"),
    ],
    ids=["gif-text", "png-signature", "jpeg-start", "svg", "binary"],
)
def test_bad_bytes_are_a_422_sentence(world: World, data: bytes, name: str, ctype: str) -> None:
    r = put(world, world.active_id, data, name=name, ctype=ctype)
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": {
            "code": "not_a_picture",
            "message": "That file is not a picture (JPEG, PNG or WebP).",
        }
    }


def test_a_missing_field_a_big_file_and_a_huge_body_are_refused(world: World) -> None:
    missing = httpx.put(f"{world.url}/api/v1/admin/doctors/{world.active_id}/photo",
                        files={"picture": ("x.png", picture(), "image/png")},
                        headers=world.admin, timeout=TIMEOUT)  # fmt: skip
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "validation_error")
    assert "photo" in missing.json()["error"]["message"]

    over = put(world, world.active_id, picture() + b"\0" * FIVE_MB)  # just over: a sentence
    assert over.status_code == 422, over.text
    assert over.json()["error"] == {
        "code": "photo_too_large",
        "message": "That file is larger than 5 MB; choose a smaller photo.",
    }
    huge = put(world, world.active_id, b"\0" * (FIVE_MB + 200 * 1024))  # never read
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "payload_too_large")


def test_unknown_and_out_of_range_doctors(world: World) -> None:
    assert put(world, 999_999, picture()).status_code == 404
    assert get_photo(world, 999_999).status_code == 404
    assert get_photo(world, MAX_ID + 1).status_code == 422
    assert put(world, MAX_ID + 1, picture()).status_code == 422
    assert get_photo(world, world.active_id, v="9" * 33).status_code == 422
