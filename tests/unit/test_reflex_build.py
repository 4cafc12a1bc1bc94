"""The frontend build's stamp: which inputs change it, which do not, and when a build is current.

A start reuses the previous build only when the stamp kept beside it equals the stamp of the
inputs now and names the very build that is there (efoy_app/reflex_build.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from reflex_base.config import get_config

from efoy_app import reflex_build
from efoy_app.reflex_build import (
    build_facts,
    build_fingerprint,
    config_facts,
    input_files,
    is_current,
    rebuild_reason,
    stamp,
    stamp_path,
    write_stamp,
)

FILES = {
    "rxconfig.py": "config = 1\n",
    "requirements.txt": "reflex==0.10.1\n",
    "efoy_app/__init__.py": "",
    "efoy_app/pages/doctors.py": "def doctors(): ...\n",
    "efoy_app/state/auth.py": "class AuthState: ...\n",
    "assets/efoy.css": "body { color: black }\n",
    "assets/fonts/a.woff2": "font",
    "reflex.lock/bun.lock": "{}\n",
    "reflex.lock/package.json": "{}\n",
    # Not what the frontend is built from:
    "README.md": "# Efoy\n",
    "tests/test_x.py": "def test(): ...\n",
    "efoy_app/templates/email/receipt.html": "<p>Receipt</p>\n",
    "efoy_app/pages/__pycache__/doctors.cpython-311.pyc": "bytecode",
    ".web/app/routes/doctors.jsx": "compiled",
}
ENV = {"REFLEX_API_URL": "http://localhost:3000", "PATH": "/usr/bin", "SMTP_PORT": "2525"}
FACTS = {"package.reflex": "0.10.1", "config.frontend_port": "3000"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_inputs_are_the_app_sources_assets_config_and_locks(root: Path) -> None:
    assert [p.relative_to(root).as_posix() for p in input_files(root)] == [
        "assets/efoy.css",
        "assets/fonts/a.woff2",
        "efoy_app/__init__.py",
        "efoy_app/pages/doctors.py",
        "efoy_app/state/auth.py",
        "reflex.lock/bun.lock",
        "reflex.lock/package.json",
        "requirements.txt",
        "rxconfig.py",
    ]


def test_the_same_inputs_give_the_same_stamp(root: Path) -> None:
    first = stamp(root, ENV, FACTS)
    assert len(first) == 64 and int(first, 16) >= 0
    assert stamp(root, dict(reversed(ENV.items())), dict(reversed(FACTS.items()))) == first


@pytest.mark.parametrize(
    "name",
    [
        "efoy_app/pages/doctors.py",
        "efoy_app/state/auth.py",
        "assets/efoy.css",
        "assets/fonts/a.woff2",
        "rxconfig.py",
        "requirements.txt",
        "reflex.lock/bun.lock",
    ],
)
def test_a_changed_input_file_changes_the_stamp(root: Path, name: str) -> None:
    before = stamp(root, ENV, FACTS)
    with (root / name).open("a") as f:
        f.write("# changed\n")
    assert stamp(root, ENV, FACTS) != before


def test_a_new_or_removed_or_renamed_source_changes_the_stamp(root: Path) -> None:
    before = stamp(root, ENV, FACTS)
    (root / "efoy_app/pages/policy.py").write_text("")
    added = stamp(root, ENV, FACTS)
    assert added != before
    (root / "efoy_app/pages/policy.py").unlink()
    assert stamp(root, ENV, FACTS) == before
    (root / "efoy_app/state/auth.py").rename(root / "efoy_app/state/login.py")
    assert stamp(root, ENV, FACTS) != before


def test_touching_an_input_without_changing_it_keeps_the_stamp(root: Path) -> None:
    """Content, not modification times: a checkout that restores the same files reuses."""
    before = stamp(root, ENV, FACTS)
    os.utime(root / "efoy_app/pages/doctors.py", ns=(1, 1))
    assert stamp(root, ENV, FACTS) == before


@pytest.mark.parametrize(
    "name",
    [
        "README.md",
        "tests/test_x.py",
        "efoy_app/templates/email/receipt.html",
        "efoy_app/pages/__pycache__/doctors.cpython-311.pyc",
        ".web/app/routes/doctors.jsx",
    ],
)
def test_files_the_frontend_is_not_built_from_leave_the_stamp(root: Path, name: str) -> None:
    before = stamp(root, ENV, FACTS)
    (root / name).write_text("something else")
    assert stamp(root, ENV, FACTS) == before


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFLEX_API_URL", "https://efoy.example"),  # baked into env.json
        ("REFLEX_FRONTEND_PATH", "/app"),
        ("VITE_MINIFY", "false"),
        ("NODE_ENV", "development"),
    ],
)
def test_environment_the_build_reads_changes_the_stamp(root: Path, name: str, value: str) -> None:
    assert stamp(root, {**ENV, name: value}, FACTS) != stamp(root, ENV, FACTS)


@pytest.mark.parametrize(
    "name",
    [
        "REFLEX_DB_URL",  # the backend's alone, and may hold a password
        "REFLEX_REDIS_URL",
        "REFLEX_STATES_WORKDIR",
        "SMTP_PORT",  # the demo's SMTP server takes a free port on every start
        "EFOY_JWT_SECRET",
        "__REFLEX_SKIP_COMPILE",  # Reflex's own internal switch, set while serving
    ],
)
def test_environment_only_the_backend_reads_leaves_the_stamp(root: Path, name: str) -> None:
    assert stamp(root, {**ENV, name: "postgresql://u:pw@db/x"}, FACTS) == stamp(root, ENV, FACTS)


def test_a_changed_fact_changes_the_stamp(root: Path) -> None:
    before = stamp(root, ENV, FACTS)
    assert stamp(root, ENV, {**FACTS, "package.reflex": "0.10.2"}) != before
    assert stamp(root, ENV, {**FACTS, "config.frontend_port": "3001"}) != before
    assert stamp(root, ENV, {**FACTS, "bun": "/x/bun 1 2"}) != before


def test_the_config_facts_are_the_resolved_config_less_the_backends_urls() -> None:
    facts = build_facts(get_config())
    assert facts["config.app_name"] == "'efoy_app'"
    assert facts["config.api_url"] == repr(get_config().api_url)
    assert "RadixThemesPlugin" in facts["config.plugins"]
    assert not {"config.db_url", "config.redis_url", "config.async_db_url"} & set(facts)
    assert facts["package.reflex"] == "0.10.1"
    assert facts["python"].count(".") == 2
    assert build_facts(get_config()) == facts  # the same in one process...


def test_config_facts_do_not_depend_on_set_order() -> None:
    """...and in every process: a set's order changes with the interpreter's hash seed."""
    from dataclasses import dataclass, field

    @dataclass
    class Config:
        names: set[str] = field(default_factory=set)
        db_url: str = "postgresql://u:secret@db/x"

    one, two = Config({"b", "a", "c"}), Config({"c", "a", "b"})
    assert config_facts(one) == config_facts(two) == {"config.names": "{'a', 'b', 'c'}"}


def _build(static_dir: Path) -> None:
    static_dir.mkdir(parents=True)
    (static_dir / "index.html").write_text("<html></html>")
    (static_dir / "404.html").write_text("<html></html>")


def test_a_build_is_current_only_with_its_stamp_and_the_same_inputs(tmp_path: Path) -> None:
    web, static = tmp_path / ".web", tmp_path / ".web" / "build" / "client"
    web.mkdir()
    assert not is_current(web, static, "a" * 64)  # no build, no stamp
    assert rebuild_reason(web, static, "a" * 64) == "no build of these inputs yet"
    write_stamp(web, static, "a" * 64)
    assert not stamp_path(web).exists()  # nothing to stamp without a build
    _build(static)
    assert not is_current(web, static, "a" * 64)  # a build, but no stamp (a fresh workdir)
    write_stamp(web, static, "a" * 64)
    assert is_current(web, static, "a" * 64)
    assert not is_current(web, static, "b" * 64)
    assert rebuild_reason(web, static, "b" * 64) == "what it is built from changed"
    assert list(web.glob("*.tmp")) == []


def test_a_build_made_or_removed_by_anything_else_is_not_current(tmp_path: Path) -> None:
    web, static = tmp_path / ".web", tmp_path / ".web" / "build" / "client"
    _build(static)
    write_stamp(web, static, "a" * 64)
    fingerprint = build_fingerprint(static)
    # Reflex's build deletes the folder and makes a new one (a plain `reflex export`, say).
    for name in ("index.html", "404.html"):
        (static / name).unlink()
    static.rmdir()
    _build(static)
    os.utime(static, ns=(5, 5))
    assert build_fingerprint(static) != fingerprint
    assert not is_current(web, static, "a" * 64)
    assert rebuild_reason(web, static, "a" * 64) == "the build was removed or replaced"
    (static / "404.html").unlink()  # a build cut short
    assert build_fingerprint(static) is None and not is_current(web, static, "a" * 64)


def test_the_stamp_lives_in_the_web_folder() -> None:
    assert stamp_path(Path("/x/.web")) == Path("/x/.web/.efoy-build-stamp")
    assert Path(__file__).resolve().parents[2] == reflex_build.ROOT


def test_the_reflex_steps_it_wraps_are_there() -> None:
    """Reflex 0.10.1's `_run_prod` calls these two by module attribute; an upgrade that renames
    them must fail here, not silently build on every start."""
    import inspect

    import reflex.reflex as rx_cli
    from reflex.utils import build

    source = inspect.getsource(rx_cli._run_prod)
    assert "_compile_app(" in source and "build.setup_frontend_prod(" in source
    assert callable(build.setup_frontend)
