"""The doctor directory: search by name, filter by speciality (the rules live in domain.doctors)."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain.doctors import DoctorView, list_doctors, list_specialities
from efoy_app.state.auth import AuthState
from efoy_app.state.page_status import PageStatus

ALL_SPECIALITIES = "all"


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
    slot_minutes: int = 30
    href: str = ""

    @classmethod
    def of(cls, view: DoctorView) -> DoctorCard:
        words = [w for w in view.full_name.replace("Dr.", "").split() if w[:1].isalpha()]
        initials = "".join(w[0] for w in words[:2]).upper()
        return cls(
            id=view.id,
            full_name=view.full_name,
            initials=initials,
            speciality=view.speciality,
            bio=view.bio,
            fee_display=view.fee_display,
            currency=view.currency,
            timezone=view.timezone,
            slot_minutes=view.slot_minutes,
            href=routes.doctor(view.id),
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
        self.loaded = True

    @rx.event
    async def load_page(self) -> None:
        await self.current_user()
        await self._reload()

    @rx.event
    async def set_search(self, value: str) -> None:
        self.search = value[:100]
        await self._reload()

    @rx.event
    async def set_speciality(self, value: str) -> None:
        self.speciality = value or ALL_SPECIALITIES
        await self._reload()

    @rx.event
    async def clear_filters(self) -> None:
        self.search, self.speciality = "", ALL_SPECIALITIES
        await self._reload()
