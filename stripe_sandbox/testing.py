"""Start a real sandbox process for a test suite and drive its `/_sandbox` controls.

    with SandboxProcess.start(webhook_url=..., webhook_secret="whsec_...") as sandbox:
        client = stripe.StripeClient(sandbox.api_key, base_addresses={"api": sandbox.url})
        sandbox.control("faults/api", {"count": 1, "status": 500})

A subprocess, not an in-process app, so tests talk HTTP exactly as the Efoy app does.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .runtime import WEBHOOK_SECRET_ENV as SECRET_ENV

LISTENING = "stripe-sandbox listening on "
LOG_DIR_ENV = "EFOY_TEST_LOG_DIR"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SandboxError(RuntimeError):
    """The sandbox did not start, or a control call was refused."""


class SandboxProcess:
    api_key = "sk_test_sandbox"

    def __init__(self, process: subprocess.Popen[str], url: str, output: deque[str]) -> None:
        self.process = process
        self.url = url
        self.output = output
        self._http = httpx.Client(base_url=url, timeout=30)

    @classmethod
    def start(
        cls,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        state: Path | None = None,
        retry_base: float | None = None,
        extra_args: list[str] | None = None,
        timeout: float = 20.0,
    ) -> SandboxProcess:
        """Run `python -m stripe_sandbox --port 0` and wait for its listening line.

        The secret goes by environment (not visible in `ps`); `--parent-pid` makes the sandbox
        exit with this process, even if the test run is killed."""
        command = [sys.executable, "-m", "stripe_sandbox", "--port", "0"]
        command += ["--parent-pid", str(os.getpid())]
        if webhook_url:
            command += ["--webhook", webhook_url]
        if state is not None:
            command += ["--state", str(state)]
        if retry_base is not None:
            command += ["--retry-base", str(retry_base)]
        command += extra_args or []
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        env.pop(SECRET_ENV, None)
        if webhook_secret:
            env[SECRET_ENV] = webhook_secret
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        output: deque[str] = deque(maxlen=200)
        lines: queue.Queue[str | None] = queue.Queue()
        # A test run's log folder (tests/log_scan.py) keeps all output, to scan it for secrets.
        log_dir = os.environ.get(LOG_DIR_ENV)
        log = (Path(log_dir) / f"sandbox-{process.pid}.log").open("a") if log_dir else None

        def pump() -> None:  # keep reading so the pipe never fills and blocks the server
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line.rstrip("\n"))
                lines.put(line)
                if log is not None:
                    log.write(line)
                    log.flush()
            lines.put(None)
            if log is not None:
                log.close()

        threading.Thread(target=pump, daemon=True, name="stripe-sandbox-output").start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(0.01, remaining))
            except queue.Empty:
                line = ""
            if line is None or remaining <= 0:
                process.kill()
                process.wait()
                raise SandboxError("stripe sandbox did not start:\n" + "\n".join(output))
            if line.startswith(LISTENING):
                return cls(process, line[len(LISTENING) :].strip(), output)

    def control(
        self, path: str, json: dict[str, Any] | None = None, *, method: str = "POST"
    ) -> dict[str, Any]:
        """POST (or GET) `/_sandbox/<path>`; raises SandboxError on a 4xx/5xx other than a
        payment outcome (`.../pay` and `.../authenticate` answer 402/400 with a JSON outcome)."""
        path = path.removeprefix("/").removeprefix("_sandbox/")
        response = self._http.request(method, f"/_sandbox/{path}", json=json)
        body = response.json()
        if response.status_code >= 400 and "outcome" not in body:
            raise SandboxError(f"{method} /_sandbox/{path} -> {response.status_code}: {body}")
        return body

    def stripe_client(self, **options: Any) -> Any:
        """A `stripe.StripeClient` pointed at this sandbox (imported lazily: tests only)."""
        import stripe

        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, **options)

    def stop(self) -> None:
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
