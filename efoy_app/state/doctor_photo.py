"""The photo editor of /admin/doctors/[doctor_id]: the doctor's current photo (or initials),
`Upload photo` and `Remove photo`.

Thin: `domain.doctor_photo` checks, re-encodes, stores and audits; every handler loads the
signed-in user again and refuses anyone but an admin, whatever the page around it did. The
doctor is the one in the page's address, read again by each handler (never trusted from the
browser). The current photo is shown from the database as a data: URL, so an admin also sees a
deactivated doctor's (which the public photo address hides) and sees the new one at once.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import doctor_admin, doctor_photo
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import DomainError, Forbidden, NotFound
from efoy_app.models import ROLE_ADMIN
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.doctors import initials_of, photo_alt
from efoy_app.state.page_status import PageStatus

UPLOAD_ID = "doctor_photo_upload"
ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]}


def _shown(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64," + base64.b64encode(data).decode("ascii")


def _load(user: SessionUser, doctor_id: int) -> tuple[str, str]:
    """(the doctor's name, the photo as a data: URL or "") for an admin; Forbidden otherwise."""
    with session_scope() as session:
        require_role(db_user(session, user), ROLE_ADMIN)
        doctor = doctor_admin.get_doctor(session, doctor_id)
        try:
            data, content_type, _ = doctor_photo.photo_of(session, doctor_id, include_inactive=True)
        except NotFound:
            return doctor.full_name, ""
        return doctor.full_name, _shown(data, content_type)


def _upload(user: SessionUser, doctor_id: int, data: bytes) -> tuple[str, str]:
    with session_scope() as session:
        doctor_photo.set_photo(session, doctor_id, data, db_user(session, user))
    return _load(user, doctor_id)


def _remove(user: SessionUser, doctor_id: int) -> tuple[str, str]:
    with session_scope() as session:
        doctor_photo.remove_photo(session, doctor_id, db_user(session, user))
    return _load(user, doctor_id)


def rejected_sentence(rejected: list[dict]) -> str:
    """What the browser's file picker refused (react-dropzone's codes), as a sentence."""
    codes = {
        str(e.get("code", ""))
        for r in rejected or []
        if isinstance(r, dict)
        for e in (r.get("errors") or [])
        if isinstance(e, dict)
    }
    if "file-too-large" in codes:
        return doctor_photo.TOO_BIG
    if "too-many-files" in codes:
        return "Choose one photo at a time."
    return doctor_photo.NOT_A_PICTURE


class DoctorPhotoState(AuthState, PageStatus):
    """State of the photo editor; the role is checked against the database in every handler."""

    doctor_id: int = 0
    full_name: str = ""
    photo_src: str = ""  # the stored photo as a data: URL; "" shows the initials

    @rx.var
    def initials(self) -> str:
        return initials_of(self.full_name)

    @rx.var
    def photo_alt(self) -> str:
        return photo_alt(self.full_name) if self.full_name else ""

    @rx.var
    def has_photo(self) -> bool:
        return self.photo_src != ""

    def _requested_id(self) -> int | None:
        return routes.path_id(self.router.url.path, routes.ADMIN_DOCTORS)

    def _show(self, doctor_id: int, shown: tuple[str, str]) -> None:
        self.doctor_id = doctor_id
        self.full_name, self.photo_src = shown
        self.forbidden = self.not_found = False

    def _clear(self) -> None:
        self.doctor_id, self.full_name, self.photo_src = 0, "", ""

    async def _admin(self) -> tuple[SessionUser, int] | EventSpec | None:
        """The signed-in user and the page's doctor; a redirect to log in, or None (refused,
        with the page's state saying why)."""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        doctor_id = self._requested_id()
        if doctor_id is None:
            self._clear()
            self.not_found = True
            return None
        return user, doctor_id

    async def _run(
        self, work: Callable[..., tuple[str, str]], user: SessionUser, doctor_id: int, *args: bytes
    ) -> bool:
        """Run one domain call in a thread and show its result; False (and why) on a refusal."""
        try:
            shown = await asyncio.to_thread(work, user, doctor_id, *args)
        except Forbidden:
            self._clear()
            self.forbidden = True
            self.error = "Only an admin can change a doctor's photo."
            return False
        except NotFound:
            self._clear()
            self.not_found = True
            self.error = "Doctor not found."
            return False
        except DomainError as exc:
            self.error = exc.message
            return False
        self._show(doctor_id, shown)
        return True

    @rx.event
    async def load(self) -> EventSpec | None:
        """on_mount of the editor: the doctor's name and current photo."""
        self.loaded, self.busy, self.error, self.notice = False, False, "", ""
        found = await self._admin()
        if not isinstance(found, tuple):
            self.loaded = found is None
            return found
        user, doctor_id = found
        await self._run(_load, user, doctor_id)
        self.loaded = True
        return None

    @rx.event
    async def upload_photo(self, files: list[rx.UploadFile]) -> AsyncIterator[EventSpec | None]:
        """`Upload photo`: the chosen file checked, re-encoded and stored (the role checked
        again); patients see it at once."""
        found = await self._admin()
        if not isinstance(found, tuple):
            yield found
            return
        user, doctor_id = found
        if self.busy:
            return
        self.error, self.notice = "", ""
        if len(files) != 1:
            self.error = "Choose one photo at a time." if files else doctor_photo.NOT_A_PICTURE
            return
        self.busy = True
        yield
        try:
            # One byte past the limit is enough for the domain to refuse it.
            data = await files[0].read(doctor_photo.MAX_PHOTO_BYTES + 1)
            if await self._run(_upload, user, doctor_id, data):
                self.notice = "Photo saved. Patients see it now."
        finally:
            self.busy = False

    @rx.event
    def photo_rejected(self, rejected: list[dict]) -> None:
        """The file picker refused a file before sending it (too large, not a picture)."""
        self.notice = ""
        self.error = rejected_sentence(rejected)

    @rx.event
    async def remove_photo(self) -> AsyncIterator[EventSpec | None]:
        """`Remove photo`: patients see the initials again (the role checked again)."""
        found = await self._admin()
        if not isinstance(found, tuple):
            yield found
            return
        user, doctor_id = found
        if self.busy:
            return
        self.busy, self.error, self.notice = True, "", ""
        yield
        try:
            if await self._run(_remove, user, doctor_id):
                self.notice = "Photo removed. Patients see the initials now."
        finally:
            self.busy = False
