"""The doctor directory: search by name or speciality, filter by speciality (the rules live in
domain.doctors). Both live in the URL (`/doctors?q=cardio&speciality=Cardiology`), so a search
can be shared and the back button comes back to it."""

from __future__ import annotations

import asyncio
import dataclasses
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain.doctors import DoctorView, list_doctors, list_specialities
from efoy_app.domain.timezones import zone_display_name as zone_name
from efoy_app.state.auth import AuthState
from efoy_app.state.page_status import PageStatus

ALL_SPECIALITIES = "all"
MAX_SEARCH = 100


def directory_url(search: str, speciality: str) -> str:
    """/doctors with the search and the filter in its query, the bare path without either."""
    query: dict[str, str] = {}
    if search.strip():
        query["q"] = search.strip()
    if speciality and speciality != ALL_SPECIALITIES:
        query["speciality"] = speciality
    return f"{routes.DOCTORS}?{urlencode(query)}" if query else routes.DOCTORS


def initials_of(full_name: str) -> str:
    """ "Dr. Anna Schmidt" -> "AS": what stands in for a doctor without a photo."""
    words = [w for w in full_name.replace("Dr.", "").split() if w[:1].isalpha()]
    return "".join(w[0] for w in words[:2]).upper()


def photo_alt(full_name: str) -> str:
    """The photo's text alternative: "Photo of Dr. Anna Schmidt" (a name typed without the
    title gets it)."""
    name = full_name.strip()
    return f"Photo of {name}" if name.startswith(("Dr.", "Dr ")) else f"Photo of Dr. {name}"


@dataclasses.dataclass
class DoctorCard:
    """One doctor as the directory shows them."""

    id: int = 0
    full_name: str = ""
    initials: str = ""
    speciality: str = ""
    bio: str = ""
    fee_display: str = ""
    currency: str = ""
    timezone: str = ""
    zone_name: str = ""
    slot_minutes: int = 30
    href: str = ""
    photo_url: str = ""  # "" when the doctor has no photo: the initials are shown
    photo_alt: str = ""

    @classmethod
    def of(cls, view: DoctorView) -> DoctorCard:
        return cls(
            id=view.id,
            full_name=view.full_name,
            initials=initials_of(view.full_name),
            speciality=view.speciality,
            bio=view.bio,
            fee_display=view.fee_display,
            currency=view.currency,
            timezone=view.timezone,
            zone_name=zone_name(view.timezone),
            slot_minutes=view.slot_minutes,
            href=routes.doctor(view.id),
            photo_url=view.photo_url or "",
            photo_alt=photo_alt(view.full_name),
        )


def _directory(search: str, speciality: str) -> tuple[list[DoctorCard], list[str]]:
    with session_scope() as session:
        views = list_doctors(
            session,
            search=search,
            speciality=None if speciality == ALL_SPECIALITIES else speciality,
        )
        return [DoctorCard.of(v) for v in views], list_specialities(session)


class DoctorsState(AuthState, PageStatus):
    """State of /doctors."""

    search: str = ""
    speciality: str = ALL_SPECIALITIES
    specialities: list[str] = []
    doctors: list[DoctorCard] = []

    @rx.var
    def result_count_label(self) -> str:
        n = len(self.doctors)
        return "1 doctor" if n == 1 else f"{n} doctors"

    async def _reload(self) -> None:
        self.doctors, self.specialities = await asyncio.to_thread(
            _directory, self.search, self.speciality
        )
        if self.speciality != ALL_SPECIALITIES and self.speciality not in self.specialities:
            self.speciality = ALL_SPECIALITIES  # a stale or made-up link: show everyone
            self.doctors, self.specialities = await asyncio.to_thread(
                _directory, self.search, self.speciality
            )
        self.loaded = True

    def _sync_url(self) -> EventSpec | None:
        """Put the search in the address bar (replacing the entry: one per search, not per key)."""
        url = directory_url(self.search, self.speciality)
        if url == directory_url(*self._url_filters()):
            return None
        return rx.redirect(url, replace=True)

    def _url_filters(self) -> tuple[str, str]:
        params = self.router.url.query_parameters
        search = str(params.get("q", ""))[:MAX_SEARCH]
        return search, str(params.get("speciality", "")) or ALL_SPECIALITIES

    @rx.event
    async def load_page(self) -> None:
        await self.current_user()
        self.search, self.speciality = self._url_filters()
        await self._reload()

    @rx.event
    async def set_search(self, value: str) -> EventSpec | None:
        self.search = value[:MAX_SEARCH]
        await self._reload()
        return self._sync_url()

    @rx.event
    async def set_speciality(self, value: str) -> EventSpec | None:
        self.speciality = value or ALL_SPECIALITIES
        await self._reload()
        return self._sync_url()

    @rx.event
    async def clear_filters(self) -> EventSpec | None:
        self.search, self.speciality = "", ALL_SPECIALITIES
        await self._reload()
        return self._sync_url()
