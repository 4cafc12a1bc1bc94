"""What a page says about its own loading, work and trouble, declared once for every page state.

A Reflex mixin, not a parent state: Reflex copies a mixin's vars into each state that takes it, so
every page keeps its own `loaded`, `error`, ... (a parent state would share one set between pages).
A page uses the ones it needs; the others stay at their defaults.
"""

from __future__ import annotations

import reflex as rx


class PageStatus(rx.State, mixin=True):
    """The status vars of a page: loaded yet, working, its last error or notice, refused, absent."""

    loaded: bool = False
    busy: bool = False
    error: str = ""
    notice: str = ""
    forbidden: bool = False
    not_found: bool = False
