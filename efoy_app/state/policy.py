"""/policy: the doctors whose cancellation policy is their own (the clinic's is static on the
page). Public: anyone may read what they would get back before they book."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from efoy_app.db import session_scope
from efoy_app.domain.cancellation import doctors_with_own_policy
from efoy_app.state.auth import AuthState


@dataclasses.dataclass
class DoctorPolicy:
    name: str = ""
    speciality: str = ""
    sentences: list[str] = dataclasses.field(default_factory=list)


def _load() -> list[DoctorPolicy]:
    with session_scope() as session:
        return [
            DoctorPolicy(name, speciality, policy.sentences())
            for name, speciality, policy in doctors_with_own_policy(session)
        ]


class PolicyState(AuthState):
    doctor_policies: list[DoctorPolicy] = []

    @rx.event
    async def load_page(self) -> None:
        await self.current_user()
        self.doctor_policies = await asyncio.to_thread(_load)
