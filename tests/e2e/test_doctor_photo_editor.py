"""The photo editor in Chromium, on /admin/doctors/[doctor_id] (the region named "Photo" that
`photo_editor()` draws): an admin sees the initials, uploads a photo through the file picker
and sees it, patients' pages show it (loaded from its public address, 400 pixels wide) with
"Photo of Dr. …" as its text, a file that is not a picture is refused with a sentence (whether
the browser or the server catches it), `Remove photo` brings the initials back; axe finds
nothing serious in the editor.

The page itself is the admin doctor page's (another branch of issue 13), which places
`photo_editor()` in it; this test was run here against a stand-in page holding only the editor.
"""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Page, expect
from sqlmodel import select

from efoy_app.models import AuditLog, Doctor, DoctorPhoto, User
from tests.e2e.axe import report, serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, log_in

NOT_A_PICTURE = "That file is not a picture (JPEG, PNG or WebP)."


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 450), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _choose(page: Page, name: str, mime: str, data: bytes) -> None:
    region = page.get_by_role("region", name="Photo")
    with page.expect_file_chooser() as chooser:
        region.get_by_role("button", name="Upload photo").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def _doctor(server: AppServer) -> tuple[int, str]:
    with server.session() as s:
        doctor, user = s.exec(
            select(Doctor, User)
            .join(User, User.id == Doctor.user_id)
            .where(Doctor.active.is_(True))  # type: ignore[attr-defined]
            .order_by(Doctor.id)
        ).first()
        return doctor.id, user.full_name


def test_an_admin_uploads_a_photo_patients_see_it_and_removing_it_brings_initials_back(
    app_server: AppServer, page: Page
) -> None:
    doctor_id, name = _doctor(app_server)
    alt = f"Photo of {name}" if name.startswith("Dr.") else f"Photo of Dr. {name}"
    initials = "".join(w[0] for w in name.replace("Dr.", "").split()[:2]).upper()
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin/doctors/{doctor_id}")
    region = page.get_by_role("region", name="Photo")
    expect(region.get_by_text(initials, exact=True)).to_be_visible()
    expect(region.get_by_role("button", name="Remove photo")).to_have_count(0)
    assert serious_violations(page, "#doctor-photo") == [], report(
        serious_violations(page, "#doctor-photo")
    )

    # A GIF: the browser's picker refuses it before sending it, with the sentence.
    _choose(page, "face.gif", "image/gif", b"GIF89a")
    expect(region.get_by_role("alert")).to_have_text(NOT_A_PICTURE)
    with app_server.session() as s:
        assert s.get(DoctorPhoto, doctor_id) is None

    _choose(page, "face.png", "image/png", _png())
    expect(region.get_by_role("status")).to_have_text("Photo saved. Patients see it now.")
    expect(region.get_by_role("alert")).to_have_count(0)
    expect(region.get_by_role("img", name=alt)).to_be_visible()
    expect(region.get_by_role("button", name="Remove photo")).to_be_visible()
    with app_server.session() as s:
        saved = s.get(DoctorPhoto, doctor_id).data

    # Bytes that claim to be a PNG: the browser sends them, the server refuses them (the
    # notice goes, the sentence comes) and the photo stays as it was.
    _choose(page, "notes.png", "image/png", b"just some notes, not a picture")
    expect(region.get_by_role("alert")).to_have_text(NOT_A_PICTURE)
    expect(region.get_by_role("status")).to_have_count(0)
    expect(region.get_by_role("img", name=alt)).to_be_visible()
    with app_server.session() as s:
        row = s.get(DoctorPhoto, doctor_id)
        assert row.data == saved and Image.open(io.BytesIO(row.data)).size == (400, 400)
        admin = s.exec(select(User).where(User.email == DEMO_ADMIN[0])).one()
        actions = s.exec(
            select(AuditLog.action, AuditLog.actor).where(
                AuditLog.entity_type == "doctor",
                AuditLog.entity_id == doctor_id,
                AuditLog.action.startswith("photo_"),  # type: ignore[attr-defined]
            )
        ).all()
        assert [tuple(a) for a in actions] == [("photo_changed", f"user:{admin.id}")]

    for path in ("/doctors", f"/doctors/{doctor_id}"):
        page.goto(app_server.url + path)
        photo = page.get_by_role("img", name=alt)
        expect(photo).to_be_visible()
        expect(photo).to_have_attribute(
            "src", re.compile(rf"^/api/v1/doctors/{doctor_id}/photo\?v=\d+$")
        )
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
        )
        assert photo.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [400, 400]

    page.goto(f"{app_server.url}/admin/doctors/{doctor_id}")
    region = page.get_by_role("region", name="Photo")
    region.get_by_role("button", name="Remove photo").click()
    expect(region.get_by_role("status")).to_have_text(
        "Photo removed. Patients see the initials now."
    )
    expect(region.get_by_text(initials, exact=True)).to_be_visible()
    expect(region.get_by_role("img", name=alt)).to_have_count(0)
    with app_server.session() as s:
        assert s.get(DoctorPhoto, doctor_id) is None
        assert s.get(Doctor, doctor_id).photo_updated_at is None
    page.goto(f"{app_server.url}/doctors/{doctor_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_role("img", name=alt)).to_have_count(0)
