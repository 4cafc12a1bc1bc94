"""Figures for slot computation and holding slots (prints numbers; not a pass/fail test).

    .venv/bin/python -m bench.bench_booking      # SQLite (temp file)
    TEST_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test \
        .venv/bin/python -m bench.bench_booking

PostgreSQL runs in a throwaway schema that is dropped afterwards.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from efoy_app.db import make_engine
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.errors import SlotTaken
from efoy_app.domain.scheduling import Slot, upcoming_free_slots
from efoy_app.models import Doctor, User
from efoy_app.seed import load_demo_data

REPEAT_SLOTS = 30
HOLDS = 300
THREADS = 8


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"  {name:<44} n={len(ms):<4} mean={statistics.mean(ms):7.2f} ms  p50={pct(ms, 50):7.2f}"
        f"  p95={pct(ms, 95):7.2f}  p99={pct(ms, 99):7.2f}"
    )


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()


@contextmanager
def postgres_engine(url: str) -> Iterator[Engine]:
    schema = f"efoy_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        SQLModel.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_slots(engine: Engine) -> list[tuple[int, Slot]]:
    with Session(engine) as s:
        doctor_ids = list(s.exec(select(Doctor.id).order_by(Doctor.id)))
        everything: list[tuple[int, Slot]] = []
        per_run = []
        for _ in range(REPEAT_SLOTS):
            start = time.perf_counter()
            found = [(d, slot) for d in doctor_ids for slot in upcoming_free_slots(s, d)]
            per_run.append(time.perf_counter() - start)
            everything = found
    report(f"14 days x {len(doctor_ids)} doctors ({len(everything)} slots)", per_run)
    return everything


def make_patients(engine: Engine, n: int, prefix: str = "bench") -> list[User]:
    with Session(engine, expire_on_commit=False) as s:
        users = [
            User(email=f"{prefix}{i}@example.com", password_hash="!", full_name=f"B{i}")
            for i in range(n)
        ]
        s.add_all(users)
        s.commit()
        return users


def bench_holds(engine: Engine, free: list[tuple[int, Slot]]) -> None:
    patients = make_patients(engine, HOLDS * 2)
    sequential = free[:HOLDS]
    latencies = []
    start = time.perf_counter()
    with Session(engine, expire_on_commit=False) as s:
        for patient, (doctor_id, slot) in zip(patients, sequential, strict=False):
            t0 = time.perf_counter()
            hold_slot(s, patient=patient, doctor_id=doctor_id, starts_at=slot.starts_at)
            latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    report(f"hold_slot, 1 thread ({len(latencies) / total:.0f}/s)", latencies)

    parallel = free[HOLDS : HOLDS * 2]
    lock = threading.Lock()
    latencies, taken = [], 0
    work = list(zip(patients[HOLDS:], parallel, strict=False))

    def worker(items: list) -> None:
        nonlocal taken
        with Session(engine, expire_on_commit=False) as s:
            for patient, (doctor_id, slot) in items:
                t0 = time.perf_counter()
                try:
                    hold_slot(s, patient=patient, doctor_id=doctor_id, starts_at=slot.starts_at)
                except SlotTaken:
                    with lock:
                        taken += 1
                with lock:
                    latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(work[i::THREADS],)) for i in range(THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - start
    report(f"hold_slot, {THREADS} threads ({len(latencies) / total:.0f}/s)", latencies)
    if taken:
        print(f"  (unexpected: {taken} slot_taken)")


CONTENDERS = 100


def bench_one_slot(engine: Engine, doctor_id: int, slot: Slot) -> None:
    """CONTENDERS patients hold the same slot at the same moment, a thread and a session each:
    exactly one must win; the others hear "slot just taken"."""
    patients = make_patients(engine, CONTENDERS, "contender")
    barrier = threading.Barrier(CONTENDERS)
    lock = threading.Lock()
    latencies: list[float] = []
    outcomes: list[str] = []

    def contend(patient: User) -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            t0 = time.perf_counter()
            try:
                hold_slot(s, patient=patient, doctor_id=doctor_id, starts_at=slot.starts_at)
                outcome = "won"
            except SlotTaken:
                outcome = "taken"
            except Exception as exc:  # counted, so a wrong answer shows in the figures
                outcome = type(exc).__name__
            with lock:
                latencies.append(time.perf_counter() - t0)
                outcomes.append(outcome)

    threads = [threading.Thread(target=contend, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report(f"{CONTENDERS} holds on one slot at once", latencies)
    counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    print(f"  outcomes: {counts} (exactly one must win)")


def run(name: str, engine_cm: Callable[[], contextmanager]) -> None:  # type: ignore[type-arg]
    print(f"{name}:")
    with engine_cm() as engine:
        with Session(engine) as s:
            load_demo_data(s)
        free = bench_slots(engine)
        bench_holds(engine, free)
        bench_one_slot(engine, *free[-1])


def on_both_databases(run: Callable[[str, Callable[[], Any]], None]) -> None:
    """`run(name, make_engine)` on SQLite, then on PostgreSQL when TEST_DATABASE_URL is set."""
    run("SQLite", sqlite_engine)
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        run("PostgreSQL", lambda: postgres_engine(url))
    else:
        print("PostgreSQL: skipped (set TEST_DATABASE_URL)")


def main() -> None:
    on_both_databases(run)


if __name__ == "__main__":
    main()
