"""Where a login goes on to: the whole address of the page that asked, and only this site's."""

from __future__ import annotations

import pytest

from efoy_app import routes


@pytest.mark.parametrize(
    "target",
    [
        "/payment/success?session_id=cs_test_123",
        "/admin/payments/3",
        "/admin?tab=payments&flagged=1",
        "/doctors/2?day=2026-12-03#slots",
        "/",
    ],
)
def test_paths_of_this_site_are_followed_as_they_are(target: str) -> None:
    assert routes.safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example/x",
        "///evil.example",
        "https://evil.example/x",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/path\\with\\backslashes",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\x7f",
        "evil.example",
        "admin",
        "/" + "a" * routes.NEXT_MAX_LENGTH,
    ],
)
def test_anything_else_goes_to_the_default(target: str | None) -> None:
    assert routes.safe_next(target) == routes.DOCTORS
    assert routes.safe_next(target, default="") == ""


def test_the_page_address_keeps_its_query() -> None:
    assert routes.here("/payment/success", "session_id=cs_1&x=2") == (
        "/payment/success?session_id=cs_1&x=2"
    )
    assert routes.here("/admin/", "") == "/admin"
    assert routes.here("", "") == "/"


def test_login_and_register_links_carry_next_encoded() -> None:
    assert routes.login("/admin?tab=payments&flagged=1") == (
        "/login?next=%2Fadmin%3Ftab%3Dpayments%26flagged%3D1"
    )
    assert routes.register("/appointments?held=7") == "/register?next=%2Fappointments%3Fheld%3D7"
    assert routes.login("/") == routes.LOGIN
    assert routes.register(None) == routes.REGISTER
    assert routes.login(routes.REGISTER) == routes.LOGIN


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/payment/12", 12),
        ("/payment/12/", 12),
        ("/payment/success", None),
        ("/payment/0", None),
        ("/payment/-3", None),
        ("/payment/1e3", None),
        ("/payment/٣", None),  # a digit to str.isdigit, not an id
        (f"/payment/{2**31 - 1}", 2**31 - 1),
        (f"/payment/{2**31}", None),
        (f"/payment/{2**53}", None),
        (f"/payment/{2**63}", None),
        ("/payment/" + "9" * 5000, None),
        ("/doctors/12", None),
        ("/payment/12/extra", None),
    ],
)
def test_path_id_is_an_id_in_range_or_none(path: str, expected: int | None) -> None:
    assert routes.path_id(path, "/payment") == expected
