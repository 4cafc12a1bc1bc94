"""Print how long `python -m efoy_app.launcher` takes to answer, first start vs later ones (not a
test).

    .venv/bin/python -m bench.bench_start [--reuses 2] [--page efoy_app/pages/policy.py]

Each start is the launcher as `make run` runs it (migrate, seed, demo SMTP server, app; no
sandbox), in one folder under /tmp with its own database, web folder (REFLEX_WEB_WORKDIR) and
var/, on one port kept for every start. Figures: from spawning the launcher to the first 200 of
`/ping` and of `/doctors`, and the app's own part (from the launcher's "serving on" line to
`/ping`). Starts: a fresh web folder (full build), `--reuses` more with nothing changed (the build
is reused), one with a VITE_ variable set (an input the build reads: it builds again), and with
`--page`, one after appending a comment to that file (restored afterwards; it builds again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from efoy_app.launcher import reflex_env  # noqa: E402


def _answered(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def one_start(workdir: Path, port: int, extra_env: dict[str, str]) -> str:
    """Start, time the first 200s, stop; returns the figures and what the start said it did."""
    env = reflex_env()
    for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET", "EFOY_HOST"):
        env.pop(name, None)
    env.update(
        {
            "EFOY_ENV": "demo",
            "EFOY_PORT": str(port),
            "REFLEX_DB_URL": f"sqlite:///{workdir / 'efoy.db'}",
            "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
            "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
            "REFLEX_UPLOADED_FILES_DIR": str(workdir / "uploaded_files"),
            "FRONTEND_URL": f"http://localhost:{port}",
            **extra_env,
        }
    )
    command = [sys.executable, "-m", "efoy_app.launcher", "--port", str(port), "--no-sandbox"]
    command += ["--var-dir", str(workdir / "var")]
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    marks: dict[str, float] = {}
    said: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("efoy: serving on"):
                marks.setdefault("serving", time.monotonic() - started)
            if line.startswith(("efoy: reusing", "efoy: building")):
                said.append(" ".join(line.split()[1:4]))  # "reusing the frontend"...

    threading.Thread(target=read, daemon=True).start()
    try:
        for path in ("/ping", "/doctors"):
            while not _answered(f"http://localhost:{port}{path}"):
                if proc.poll() is not None:
                    raise SystemExit(f"the launcher exited with {proc.returncode}")
                time.sleep(0.05)
            marks[path] = time.monotonic() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    app_part = marks["/ping"] - marks.get("serving", 0.0)
    return (
        f"/ping {marks['/ping']:6.1f} s  /doctors {marks['/doctors']:6.1f} s  "
        f"(app after 'serving on': {app_part:5.1f} s)  {', '.join(said) or '?'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuses", type=int, default=2)
    parser.add_argument("--page", type=Path, help="a page file to change for one start")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="efoy-bench-start-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        print(f"fresh web folder     {one_start(workdir, port, {})}", flush=True)
        for n in range(args.reuses):
            print(f"unchanged ({n + 1})        {one_start(workdir, port, {})}", flush=True)
        changed = {"VITE_EFOY_BENCH": "1"}
        print(f"VITE_ variable set   {one_start(workdir, port, changed)}", flush=True)
        print(f"unchanged again      {one_start(workdir, port, changed)}", flush=True)
        if args.page is not None:
            page = ROOT / args.page
            original = page.read_bytes()
            try:
                page.write_bytes(original + b"# bench_start: a changed page\n")
                print(f"{args.page.name} changed {one_start(workdir, port, changed)}", flush=True)
            finally:
                page.write_bytes(original)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
