"""Webhook delivery: signed as Stripe signs, POSTed in the background, retried with back-off.

Each (event, endpoint) pair is a Job. A Job is sent by its own task, so a slow or failing
endpoint never holds up an API answer or another delivery. Tests can pause deliveries and
release them in reverse order, or drop, duplicate and delay them (see faults.py).

As at Stripe, a delivery that fails for any reason (refused connection, timeout, non-2xx) is
retried with back-off until it succeeds or runs out of attempts (about an hour by default,
where Stripe keeps going for three days). Every job not yet delivered is kept in the store
(kind "pending_webhook"), so with `--state` a restarted sandbox carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from .events import type_matches
from .ids import new_id
from .views import present

if TYPE_CHECKING:
    from .runtime import Sandbox

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
PENDING = "pending_webhook"


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 keyed with the whole whsec_ string over "t.body">`."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Job:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    secret: str
    delay: float = 0.0
    id: str = field(default_factory=lambda: new_id("pwh"))
    attempts: int = 0


class Dispatcher:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.paused = False
        self.held: list[Job] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=5000)
        self.in_flight = 0
        self._client: httpx.AsyncClient | None = None

    # Which endpoints get an event -------------------------------------------------------------

    def endpoints_for(self, type_: str) -> list[dict[str, Any]]:
        return [
            endpoint
            for endpoint in self.sb.store.all("webhook_endpoint")
            if endpoint["status"] == "enabled"
            and any(type_matches(p, type_) for p in endpoint["enabled_events"])
        ]

    def enqueue(self, event: dict[str, Any], endpoints: list[dict[str, Any]]) -> int:
        """Queue one delivery per endpoint, applying any webhook fault; returns jobs queued."""
        queued = 0
        for endpoint in endpoints:
            job = Job(
                event["id"], event["type"], endpoint["id"], endpoint["url"], endpoint["_secret"]
            )
            fault = self.sb.faults.take_webhook()
            copies = 1
            if fault is not None and fault.mode == "drop":
                self._record(job, 0, None, "dropped by fault injection", 0.0)
                continue
            if fault is not None and fault.mode == "duplicate":
                copies = 2
            if fault is not None and fault.mode == "delay":
                job.delay = fault.delay_seconds
            for copy in range(copies):
                if copy:
                    job = replace(job, id=new_id("pwh"))
                queued += 1
                self._remember(job)
                if self.paused:
                    self.held.append(job)
                else:
                    self.sb.spawn(self._deliver(job))
        return queued

    def resend(self, event: dict[str, Any], endpoint_id: str | None = None) -> int:
        endpoints = self.endpoints_for(event["type"])
        if endpoint_id is not None:
            endpoints = [e for e in self.sb.store.all("webhook_endpoint") if e["id"] == endpoint_id]
        return self.enqueue(event, endpoints)

    # Pause and release --------------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True

    def resume(self, order: str = "fifo") -> int:
        """Release held deliveries one after another, in arrival order or reversed."""
        self.paused = False
        jobs, self.held = self.held, []
        if order == "reverse":
            jobs.reverse()
        if jobs:
            self.sb.spawn(self._release(jobs))
        return len(jobs)

    async def _release(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.delay:
                self.sb.spawn(self._deliver(job))
            elif not await self._attempt(job, 1):
                self.sb.spawn(self._deliver(job, first_attempt=2))

    # Sending ------------------------------------------------------------------------------------

    async def _deliver(self, job: Job, first_attempt: int = 1) -> None:
        """Try, then back off base, 2*base, 4*base... (capped) until 2xx or out of attempts."""
        config = self.sb.config
        if job.delay and first_attempt == 1:
            await asyncio.sleep(job.delay)
        attempt = first_attempt
        while True:
            if attempt > first_attempt or first_attempt > 1:
                backoff = config.retry_base * 2 ** min(attempt - 2, 60)
                await asyncio.sleep(min(backoff, config.retry_cap))
            if not self._endpoint_live(job):
                self._forget(job)
                return
            if await self._attempt(job, attempt):
                return
            if attempt >= config.max_attempts:
                self._forget(job)  # given up, as Stripe does; a resend starts afresh
                return
            attempt += 1

    def resume_pending(self) -> int:
        """After a restart: carry on with every delivery not yet made (the back-off resumes)."""
        resumed = 0
        for record in self.sb.store.all(PENDING):
            endpoint = self.sb.store.get(record["endpoint_id"], "webhook_endpoint")
            event = self.sb.store.get(record["event_id"], "event")
            if endpoint is None or event is None:
                self.sb.store.delete(record["id"])
                continue
            job = Job(
                event["id"],
                event["type"],
                endpoint["id"],
                endpoint["url"],
                endpoint["_secret"],
                id=record["id"],
                attempts=record["attempts"],
            )
            self.sb.spawn(self._deliver(job, first_attempt=job.attempts + 1))
            resumed += 1
        return resumed

    def _remember(self, job: Job) -> None:
        self.sb.store.put(
            {
                "id": job.id,
                "object": PENDING,
                "event_id": job.event_id,
                "endpoint_id": job.endpoint_id,
                "attempts": job.attempts,
            }
        )

    def _forget(self, job: Job) -> None:
        self.sb.store.delete(job.id)

    def _endpoint_live(self, job: Job) -> bool:
        endpoint = self.sb.store.get(job.endpoint_id, "webhook_endpoint")
        return endpoint is not None and endpoint["status"] == "enabled"

    async def _attempt(self, job: Job, attempt: int) -> bool:
        event = self.sb.store.get(job.event_id, "event")
        if event is None:
            self._forget(job)
            return True
        payload = json.dumps(present(self.sb, event), indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, job.secret, int(time.time())),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        self.in_flight += 1
        try:
            response = await self._http().post(job.url, content=payload, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.TimeoutException:
            error = f"timed out after {self.sb.config.webhook_timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            self.in_flight -= 1
        self._record(job, attempt, status, error, time.monotonic() - started)
        job.attempts = attempt
        if error is None:
            event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            self.sb.store.put(event)
            self._forget(job)
        elif self.sb.store.get(job.id, PENDING) is not None:  # not cancelled by a reset meanwhile
            self._remember(job)
        return error is None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.sb.config.webhook_timeout)
        return self._client

    def _record(
        self, job: Job, attempt: int, status: int | None, error: str | None, seconds: float
    ) -> None:
        self.log.append(
            {
                "event_id": job.event_id,
                "type": job.event_type,
                "endpoint": job.endpoint_id,
                "url": job.url,
                "attempt": attempt,
                "status_code": status,
                "error": error,
                "delivered": error is None,
                "time": time.time(),
                "duration_ms": round(seconds * 1000, 1),
            }
        )

    # Housekeeping -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        pending = sum(1 for t in self.sb.tasks if not t.done())
        return {
            "paused": self.paused,
            "held": len(self.held),
            "in_flight": self.in_flight,
            "background_tasks": pending,
        }

    def reset(self) -> None:
        self.paused = False
        self.held.clear()
        self.log.clear()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
