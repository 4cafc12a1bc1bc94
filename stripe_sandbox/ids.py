"""Identifiers and secrets shaped like Stripe's (prefix, underscore, random letters and digits)."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """`new_id("pi")` -> "pi_3Qx...": the same length as Stripe's ids, so column sizes fit."""
    return f"{prefix}_{random_token(length)}"


def checkout_session_id() -> str:
    return f"cs_test_{random_token(58)}"


def client_secret(object_id: str) -> str:
    """Stripe's `{id}_secret_{random}` form: clients split it to find the object id."""
    return f"{object_id}_secret_{random_token(25)}"


def webhook_secret() -> str:
    return f"whsec_{random_token(32)}"
