"""`python -m efoy_app.demo_smtp`: the demo's SMTP server, which delivers every message it
receives into a folder as an `.eml` file (open it with any mail program, or read it as text).

    python -m efoy_app.demo_smtp [--dir var/mail] [--host 127.0.0.1] [--port 0] [--parent-pid PID]

It prints one line once it listens, `efoy-demo-smtp: listening on HOST:PORT` (port 0 takes a
free one; the launcher reads the line), and stops on SIGTERM/SIGINT or once `--parent-pid` is no
longer its parent. File names sort in arrival order: UTC time, a counter, a bit of the subject
(`20261201T162233123456Z-000001-your-receipt.eml`). Each file is 0600 in a 0700 folder (these
are patients' messages) and appears whole: written to a temporary name, then renamed.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import signal
import sys
import tempfile
import threading
import unicodedata
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from efoy_app.demo_secrets import VAR, private_dir

DEFAULT_DIR = VAR / "mail"
PARENT_POLL_SECONDS = 0.5
ANNOUNCE = "efoy-demo-smtp: listening on"
SUBJECT_IN_NAME = 40


def file_name(subject: str, number: int, when: datetime | None = None) -> str:
    """`<UTC time>-<counter>-<subject fragment>.eml`: sortable, and safe on any file system."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    plain = unicodedata.normalize("NFKD", subject).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:SUBJECT_IN_NAME].strip("-")
    return f"{stamp}-{number:06d}-{words or 'message'}.eml"


def write_private(folder: Path, name: str, data: bytes) -> Path:
    """`data` as `folder/name`, mode 0600, appearing all at once (temp file + rename)."""
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp makes it 0600 already
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        target = folder / name
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return target


class MailFolder:
    """An aiosmtpd handler: every accepted message becomes one `.eml` file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_dir(folder)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        headers = BytesHeaderParser(policy=default_policy).parsebytes(data)
        with self._lock:
            number = next(self._numbers)
        write_private(self.folder, file_name(str(headers.get("Subject", "")), number), data)
        return "250 Message accepted for delivery"


class FreePortController(Controller):
    """aiosmtpd's Controller, also on port 0: the port the OS gave is read back before the
    Controller's own self-test connects to it."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_server(folder: Path, host: str = "127.0.0.1", port: int = 0) -> FreePortController:
    """A running server writing into `folder`; `.port` is where it listens; `.stop()` ends it."""
    controller = FreePortController(MailFolder(folder), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m efoy_app.demo_smtp", description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where .eml files go")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument(
        "--parent-pid", type=int, metavar="PID", help="exit once this process is gone"
    )
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        controller = start_server(args.dir, args.host, args.port)
    except OSError as exc:
        print(f"efoy-demo-smtp: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"{ANNOUNCE} {args.host}:{controller.port}", flush=True)
    try:
        # Polling getppid(), as the Stripe sandbox does: an orphan is re-parented at once, and a
        # recycled pid can never pass for the old parent.
        while not stopping.wait(PARENT_POLL_SECONDS):
            if args.parent_pid is not None and os.getppid() != args.parent_pid:
                break
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
