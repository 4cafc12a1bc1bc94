"""Whether the phone menu is open: the navbar's only state, apart from who is signed in."""

from __future__ import annotations

import reflex as rx


class NavState(rx.State):
    """The phone menu (below the desktop breakpoint the links live behind a Menu button)."""

    menu_open: bool = False

    @rx.event
    def toggle_menu(self) -> None:
        self.menu_open = not self.menu_open

    @rx.event
    def close_menu(self) -> None:
        self.menu_open = False
