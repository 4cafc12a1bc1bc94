"""Create an admin account from the command line: the first one of a new clinic, which has no
demo data in production, and any after it.

    python -m efoy_app.admin_account --email ada@clinic.example --name "Ada Lovelace"

The password is asked twice at the terminal (never an argument, so it stays out of the shell's
history and the process list), or read from standard input with `--password-stdin`. The database
is the app's (`REFLEX_DB_URL`), already migrated (`reflex db migrate`, which the launcher runs).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from pydantic import ValidationError

from efoy_app.db import session_scope
from efoy_app.domain.auth import create_admin
from efoy_app.domain.errors import DomainError
from efoy_app.settings import get_settings


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise SystemExit("efoy: the two passwords differ; nothing was created.")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True, help="the admin's full name")
    parser.add_argument("--timezone", default="UTC", help="IANA name, e.g. Africa/Addis_Ababa")
    parser.add_argument("--password-stdin", action="store_true")
    args = parser.parse_args(argv)
    try:
        get_settings()  # the app's own settings: run it with the environment the app has
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(f"efoy: the settings are not usable: {reasons}", file=sys.stderr)
        return 2
    password = _password(args.password_stdin)
    try:
        with session_scope() as session:
            user = create_admin(
                session,
                email=args.email,
                password=password,
                full_name=args.name,
                timezone=args.timezone,
            )
    except DomainError as exc:
        print(f"efoy: {exc.message}", file=sys.stderr)
        return 1
    print(f"efoy: admin {user.email} created; sign in at /login and open /admin/doctors.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
