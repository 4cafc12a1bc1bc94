"""The outbox over HTTP, on SQLite and PostgreSQL: `GET /api/v1/admin/outbox` (filters, paging,
count), one message, an attachment's bytes, `POST .../retry` (409 unless failed), and 401/403.

Four messages are written straight into each server's database, to addresses carrying this
run's tag so the filters count exactly them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.models import AuditLog, OutboxAttachment, OutboxEmail, User
from efoy_app.routes import MAX_ID
from tests.conftest import free_port
from tests.integration.support import BACKENDS, api_on_engine, seeded_engine

TIMEOUT = 30
TAG = f"obx{uuid.uuid4().hex[:6]}"
BASE = datetime(2031, 5, 6, 7, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ODD_NAME = 'r\u00e9\u00e7u "2031"\r\n/../x.pdf'
HTML = '<p>Hello <b>Ada</b></p><script>alert("x")</script>'
ADMIN = ("admin@example.com", "admin-demo-pass")
PATIENT = ("patient@example.com", "patient-demo-pass")


@dataclass
class World:
    url: str
    engine: Engine
    admin: dict[str, str]
    patient: dict[str, str]
    sent: int
    failed: int
    queued: int
    sending: int
    pdf: int
    odd: int


def _token(url: str, email: str, password: str) -> dict[str, str]:
    r = httpx.post(f"{url}/api/v1/auth/token", json={"email": email, "password": password},
                   timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['accessToken']}"}


def _seed(engine: Engine) -> dict[str, int]:
    ada, bo = f"ada.{TAG}@example.test", f"Bo.{TAG.upper()}@Example.test"
    with Session(engine) as s:
        rows = {
            "sent": OutboxEmail(
                kind="confirmation",
                to_address=ada,
                subject="Booking confirmed",
                body="See you.",
                status="sent",
                attempts=1,
                message_id=f"<1.{TAG}@efoy.test>",
                created_at=BASE,
                next_attempt_at=BASE,
                sent_at=BASE + timedelta(seconds=5),
            ),  # fmt: skip
            "failed": OutboxEmail(
                kind="receipt",
                to_address=ada,
                subject="Your receipt",
                body="Line one\n  indented line two\n",
                html_body=HTML,
                status="failed",
                attempts=5,
                error="550 mailbox unavailable",
                message_id=f"<2.{TAG}@efoy.test>",
                dedupe_key=f"receipt:{TAG}",
                created_at=BASE + timedelta(minutes=1),
                next_attempt_at=BASE + timedelta(hours=2),
            ),  # fmt: skip
            "queued": OutboxEmail(
                kind="reminder",
                to_address=bo,
                subject="Tomorrow at 9",
                body="Reminder.",
                created_at=BASE + timedelta(minutes=2),
                next_attempt_at=BASE + timedelta(minutes=2),
            ),  # fmt: skip
            "sending": OutboxEmail(
                kind="refund_note",
                to_address=bo,
                subject="Refund",
                body="Refunded.",
                status="sending",
                attempts=2,
                created_at=BASE + timedelta(minutes=3),
                next_attempt_at=BASE + timedelta(minutes=3),
                claimed_until=BASE + timedelta(minutes=4),
            ),  # fmt: skip
        }
        s.add_all(rows.values())
        s.flush()
        pdf = OutboxAttachment(email_id=rows["failed"].id, filename="receipt-2031-0001.pdf",
                               content_type="application/pdf", data=PDF)  # fmt: skip
        odd = OutboxAttachment(email_id=rows["failed"].id, filename=ODD_NAME,
                               content_type="text/html; evil", data=b"<b>x</b>")  # fmt: skip
        s.add_all([pdf, odd])
        s.commit()
        return {**{k: v.id for k, v in rows.items()}, "pdf": pdf.id, "odd": odd.id}


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("outbox")
    with seeded_engine(request.param, tmp) as engine, api_on_engine(engine, free_port()) as srv:
        ids = _seed(engine)
        yield World(url=srv.url, engine=engine, admin=_token(srv.url, *ADMIN),
                    patient=_token(srv.url, *PATIENT), **ids)  # fmt: skip


def _get(w: World, path: str, headers: dict[str, str] | None = None, **params: object):
    return httpx.get(f"{w.url}/api/v1/admin/outbox{path}", params=params,
                     headers=w.admin if headers is None else headers, timeout=TIMEOUT)  # fmt: skip


def _ids(r: httpx.Response) -> list[int]:
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()["data"]]


def test_the_list_is_newest_first_with_every_delivery_field(world: World) -> None:
    r = _get(world, "", to=TAG)
    assert _ids(r) == [world.sending, world.queued, world.failed, world.sent]
    assert r.json()["count"] == 4
    failed = r.json()["data"][2]
    assert {k: failed[k] for k in ("kind", "toAddress", "subject", "status", "attempts", "error",
                                   "sentAt", "attachments")} == {
        "kind": "receipt", "toAddress": f"ada.{TAG}@example.test", "subject": "Your receipt",
        "status": "failed", "attempts": 5, "error": "550 mailbox unavailable", "sentAt": None,
        "attachments": 2,
    }  # fmt: skip
    assert datetime.fromisoformat(failed["createdAt"]) == BASE + timedelta(minutes=1)
    assert datetime.fromisoformat(failed["nextAttemptAt"]) == BASE + timedelta(hours=2)
    sent = r.json()["data"][3]
    assert datetime.fromisoformat(sent["sentAt"]) == BASE + timedelta(seconds=5)
    assert (sent["attachments"], "body" in sent) == (0, False)


def test_filters_by_status_kind_and_part_of_the_address_in_any_case(world: World) -> None:
    assert _ids(_get(world, "", to=TAG, status="failed")) == [world.failed]
    assert _ids(_get(world, "", to=TAG, status="sending")) == [world.sending]
    assert _ids(_get(world, "", to=TAG, kind="reminder")) == [world.queued]
    assert _ids(_get(world, "", to=TAG, kind="reminder", status="sent")) == []
    assert _ids(_get(world, "", to=f"ADA.{TAG.upper()}")) == [world.failed, world.sent]
    assert _ids(_get(world, "", to=f"bo.{TAG}@example")) == [world.sending, world.queued]
    # LIKE's wildcards are letters like any other: nothing has a % or an _ in it here.
    assert _ids(_get(world, "", to=f"{TAG}%")) == []
    assert _ids(_get(world, "", to=f"ada_{TAG}")) == []
    assert _get(world, "", to=TAG, status="failed").json()["count"] == 1


def test_pages_count_the_whole_filter_from_either_end(world: World) -> None:
    pages = {off: _get(world, "", to=TAG, limit=2, offset=off) for off in (0, 1, 2, 3, 4, 99)}
    assert [r.json()["count"] for r in pages.values()] == [4] * 6
    assert _ids(pages[0]) == [world.sending, world.queued]
    assert _ids(pages[1]) == [world.queued, world.failed]
    assert _ids(pages[2]) == [world.failed, world.sent]
    assert _ids(pages[3]) == [world.sent]  # the older half: read from the other end
    assert _ids(pages[4]) == _ids(pages[99]) == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bounced"},
        {"kind": "invoice"},
        {"to": "a" * 101},
        {"to": "a\x00b"},
        {"to": "a\x1bb"},
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"offset": MAX_ID + 1},
    ],
)
def test_a_bad_filter_is_a_422_in_the_error_shape(world: World, params: dict) -> None:
    r = _get(world, "", **params)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert set(r.json()) == {"error"}


def test_one_message_has_its_bodies_files_and_delivery(world: World) -> None:
    r = _get(world, f"/{world.failed}")
    assert r.status_code == 200, r.text
    got = r.json()
    times = {k: got.pop(k) for k in ("createdAt", "nextAttemptAt", "claimedUntil", "sentAt")}
    assert got == {
        "id": world.failed, "kind": "receipt", "toAddress": f"ada.{TAG}@example.test",
        "subject": "Your receipt", "body": "Line one\n  indented line two\n", "htmlBody": HTML,
        "messageId": f"<2.{TAG}@efoy.test>", "dedupeKey": f"receipt:{TAG}", "bookingId": None,
        "paymentId": None, "status": "failed", "attempts": 5, "error": "550 mailbox unavailable",
        "canRetry": True,
        "attachments": [
            {"id": world.pdf, "filename": "receipt-2031-0001.pdf",
             "contentType": "application/pdf", "size": len(PDF)},
            {"id": world.odd, "filename": ODD_NAME, "contentType": "text/html; evil", "size": 8},
        ],
    }  # fmt: skip
    assert datetime.fromisoformat(times["createdAt"]) == BASE + timedelta(minutes=1)
    assert (times["claimedUntil"], times["sentAt"]) == (None, None)
    sending = _get(world, f"/{world.sending}").json()
    assert datetime.fromisoformat(sending["claimedUntil"]) == BASE + timedelta(minutes=4)
    assert (sending["canRetry"], sending["attachments"], sending["htmlBody"]) == (False, [], None)


def test_an_attachment_downloads_as_the_exact_bytes_under_a_safe_name(world: World) -> None:
    r = _get(world, f"/{world.failed}/attachments/{world.pdf}")
    assert r.status_code == 200, r.text
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"receipt-2031-0001.pdf\"; filename*=UTF-8''receipt-2031-0001.pdf"
    )
    odd = _get(world, f"/{world.failed}/attachments/{world.odd}")
    assert odd.content == b"<b>x</b>"
    # Not a type a browser would render: a stored type that is not one is sent as bytes.
    assert odd.headers["content-type"] == "application/octet-stream"
    assert odd.headers["content-disposition"] == (
        'attachment; filename="r__u _2031____.._x.pdf"; '
        "filename*=UTF-8''r%C3%A9%C3%A7u%20%222031%22%0D%0A%2F..%2Fx.pdf"
    )
    # An attachment is found through its own message only.
    assert _get(world, f"/{world.sent}/attachments/{world.pdf}").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/999999999", 404),
        (f"/{2**31 - 1}", 404),
        (f"/{2**31}", 422),  # past PostgreSQL's INTEGER: refused, never sent to it
        (f"/{MAX_ID}", 404),
        (f"/{MAX_ID + 1}", 422),
        (f"/{2**63}", 422),
        (f"/{2**64 + 5}", 422),
        ("/0", 422),
        ("/abc", 422),
        ("/{sent}/attachments/999999999", 404),
        (f"/{{sent}}/attachments/{2**31}", 422),
        (f"/{2**40}/attachments/1", 422),
        (f"/{{sent}}/attachments/{2**63}", 422),
        (f"/{2**63}/attachments/1", 422),
    ],
)
def test_unknown_and_huge_ids_are_a_404_or_422(world: World, path: str, status: int) -> None:
    r = _get(world, path.format(sent=world.sent))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == ("not_found" if status == 404 else "validation_error")


def _retry(w: World, email_id: int | str, headers: dict[str, str] | None = None):
    return httpx.post(f"{w.url}/api/v1/admin/outbox/{email_id}/retry",
                      headers=w.admin if headers is None else headers, timeout=TIMEOUT)  # fmt: skip


def test_retry_queues_a_failed_message_now_and_refuses_the_others(world: World) -> None:
    for email_id, status in ((world.sent, "sent"), (world.queued, "queued"),
                             (world.sending, "sending")):  # fmt: skip
        r = _retry(world, email_id)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == {
            "code": "conflict",
            "message": f"Only a failed email can be retried; this one is {status}.",
        }
    before = datetime.now(UTC)
    r = _retry(world, world.failed)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["status"], got["attempts"], got["error"], got["canRetry"]) == (
        "queued", 5, "550 mailbox unavailable", False
    )  # fmt: skip
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(got["nextAttemptAt"])
    assert datetime.fromisoformat(got["nextAttemptAt"]) <= datetime.now(UTC)
    assert _retry(world, world.failed).status_code == 409  # once is enough
    with Session(world.engine) as s:
        row = s.get(OutboxEmail, world.failed)
        assert (row.status, row.attempts, row.claimed_until) == ("queued", 5, None)
        admin = s.exec(select(User).where(User.email == ADMIN[0])).one()
        mine = (AuditLog.entity_type == "outbox_email", AuditLog.entity_id == world.failed)
        trail = s.exec(select(AuditLog).where(*mine)).all()
        assert [(a.actor, a.action, a.from_status, a.to_status, a.details) for a in trail] == [
            (f"user:{admin.id}", "email_retried", "failed", "queued", '{"attempts": 5}')
        ]
    assert _ids(_get(world, "", to=TAG, status="failed")) == []
    assert _retry(world, 999999999).status_code == 404
    assert _retry(world, MAX_ID).status_code == 404
    assert _retry(world, 2**63).status_code == 422


def test_patients_get_403_and_strangers_401_on_every_outbox_route(world: World) -> None:
    paths = ["", f"/{world.failed}", f"/{world.failed}/attachments/{world.pdf}"]
    for headers, status in ((world.patient, 403), ({}, 401)):
        for path in paths:
            r = _get(world, path, headers)
            assert r.status_code == status, (path, r.text)
            assert PDF not in r.content and "Your receipt" not in r.text
        r = _retry(world, world.sent, headers)
        assert r.status_code == status, r.text
    with Session(world.engine) as s:
        assert s.get(OutboxEmail, world.sent).status == "sent"
