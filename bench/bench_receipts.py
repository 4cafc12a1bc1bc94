"""Figures for the PDF receipts (prints numbers; not a pass/fail test).

    .venv/bin/python -m bench.bench_receipts            # 300 of each after a warm-up
    .venv/bin/python -m bench.bench_receipts -n 1000

Each receipt has its own number and patient (a Latin and an Ethiopic name, so three font subsets
are embedded: DejaVu Sans, its bold, Noto Sans Ethiopic bold), ETB and two refunds; each refund
note likewise. The target is a median <= 10 ms and <= 60 KB per file.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from collections.abc import Callable

from reportlab.lib import rl_accel

from bench.bench_booking import pct, report
from bench.receipt_sample import sample_receipt, sample_refund_note
from efoy_app.domain.receipt_doc import ReceiptDoc, RefundLine, RefundNoteDoc
from efoy_app.domain.receipt_pdf import render_receipt, render_refund_note

LATIN = "Zoë Ñúñez-Łukasiewicz"
ETHIOPIC = "አበበ ከበደ"


def receipt(i: int) -> ReceiptDoc:
    base = sample_receipt()
    first = base.refunds[0]
    return dataclasses.replace(
        base,
        number=f"EFOY-2026-{i:06d}",
        patient_name=f"{ETHIOPIC} ({LATIN} {i})",
        refunds=(
            dataclasses.replace(
                first, note_number=f"EFOY-RN-2026-{2 * i:06d}", amount_minor=30_000
            ),
            RefundLine(
                note_number=f"EFOY-RN-2026-{2 * i + 1:06d}",
                refunded_at=first.refunded_at,
                amount_minor=15_000,
                reason="Goodwill refund for the wait",
            ),
        ),
    )


def refund_note(i: int) -> RefundNoteDoc:
    return dataclasses.replace(
        sample_refund_note(),
        number=f"EFOY-RN-2026-{i:06d}",
        receipt_number=f"EFOY-2026-{i:06d}",
        patient_name=f"{ETHIOPIC} ({LATIN} {i})",
    )


def timed(name: str, render: Callable[[int], bytes], n: int) -> tuple[float, float, int]:
    """Render n documents after 20 warm-ups; print wall-clock and CPU lines (CPU time is what a
    render costs when others share the cores); return (median wall ms, median CPU ms, bytes)."""
    for i in range(20):
        render(i)
    wall, cpu, largest = [], [], 0
    for i in range(1_000, 1_000 + n):
        t0, c0 = time.perf_counter(), time.thread_time()
        data = render(i)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
        largest = max(largest, len(data))
    report(name, wall)
    report("  the same, CPU time of the thread", cpu)
    return pct([s * 1000 for s in wall], 50), pct([s * 1000 for s in cpu], 50), largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="documents per case (default 300)")
    n = parser.parse_args().n
    accel = "C accelerator (rl_accel)" if "fp_str" in rl_accel._c_funcs else "pure Python"
    print(f"Python {platform.python_version()}, reportlab number formatting: {accel}")

    t0 = time.perf_counter()
    first = render_receipt(receipt(0))
    cold = (time.perf_counter() - t0) * 1000
    print(f"  first receipt in a process (fonts, Babel, logo) {cold:7.2f} ms")

    def one_receipt(i: int) -> bytes:
        return render_receipt(receipt(i))

    def one_note(i: int) -> bytes:
        return render_refund_note(refund_note(i))

    receipt_ms, receipt_cpu, receipt_bytes = timed(
        "receipt (Latin+Ethiopic, ETB, 2 refunds)", one_receipt, n
    )
    note_ms, note_cpu, note_bytes = timed("refund note (Latin+Ethiopic, ETB)", one_note, n)
    latin = len(render_receipt(dataclasses.replace(receipt(1), patient_name=LATIN)))
    print(
        f"  bytes: receipt {receipt_bytes:,}, refund note {note_bytes:,}, "
        f"receipt with a Latin name only {latin:,} (first {len(first):,})"
    )
    print(
        f"  median: receipt {receipt_ms:.2f} ms ({receipt_cpu:.2f} ms CPU), refund note "
        f"{note_ms:.2f} ms ({note_cpu:.2f} ms CPU); target 10 ms, 60 KB; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
