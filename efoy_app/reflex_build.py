"""`reflex run`, reusing the previous production frontend build when nothing it is built from
changed.

Reflex 0.10.1's `reflex run --env prod` (reflex/reflex.py `_run_prod`) compiles the pages into
`.web` and then runs `bun run export` (reflex/utils/build.py `build()`, which first deletes
`.web/build`) on every start, changed or not: 10 s and more of each `make run`. No flag skips it:
`--backend-only` skips both steps but then mounts no pages (`run_backend_prod` is called with
`mount_frontend_compiled_app=False`, overwriting REFLEX_MOUNT_FRONTEND_COMPILED_APP), and
REFLEX_SKIP_COMPILE alone skips only the Python compile, never the bun build.

    python -m efoy_app.reflex_build run --env prod --single-port ...

is `python -m reflex run ...` (same arguments, same code path) with those two steps wrapped:

- a stamp (`stamp()`: a SHA-256 over what the build is made from, and which build that was) is
  kept beside the build, in the Reflex web folder (REFLEX_WEB_WORKDIR, default `.web/`), as
  `.efoy-build-stamp`;
- when it matches the inputs and the build there now, the compile only evaluates the pages for
  the backend (REFLEX_SKIP_COMPILE, as Reflex's own workers do) and the bun build is replaced by
  the part of Reflex's set-up that does not build (`setup_frontend`: env.json);
- otherwise the stamp is removed, Reflex compiles and builds as always, and the stamp is written
  once the build succeeded, unless an input changed while it ran (the next start builds again).

A fresh web folder has no stamp, so it always gets a full build. Delete the stamp to force one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import importlib.metadata
import os
import platform
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP_NAME = ".efoy-build-stamp"

# What the compiled pages and the bun build are made from, relative to the project folder.
# All of efoy_app's Python (pages, components and the states they render) rather than a
# guess at which modules a page imports; its email templates never reach the frontend.
SOURCES = ("rxconfig.py", "requirements.txt", "efoy_app/**/*.py", "assets/**/*", "reflex.lock/*")
# Environment the build reads: Reflex's config overrides, Vite's and Node's own switches.
ENV_PREFIXES = ("REFLEX_", "VITE_", "NODE_")
# ...less what only the running backend uses (and what may hold a password).
ENV_IGNORED = frozenset(
    {
        "REFLEX_DB_URL",
        "REFLEX_ASYNC_DB_URL",
        "REFLEX_REDIS_URL",
        "REFLEX_STATES_WORKDIR",
        "REFLEX_UPLOADED_FILES_DIR",
    }
)
# rx.Config fields that never reach the frontend (the database and Redis URLs may hold a
# password); every other field, resolved as Reflex sees it, goes into the stamp.
CONFIG_IGNORED = frozenset({"db_url", "async_db_url", "redis_url", "_non_default_attributes"})


def input_files(root: Path) -> list[Path]:
    """The files the build is made from (see SOURCES), sorted; no bytecode caches."""
    found = {
        path
        for pattern in SOURCES
        for path in root.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }
    return sorted(found)


def build_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment variables the build reads (ENV_PREFIXES less ENV_IGNORED)."""
    return {
        name: value
        for name, value in env.items()
        if name.startswith(ENV_PREFIXES) and name not in ENV_IGNORED
    }


def stamp(root: Path, env: Mapping[str, str], facts: Mapping[str, str]) -> str:
    """SHA-256 over the input files (path and content), the build's environment and `facts`
    (the resolved Reflex config and the versions of what builds it: `build_facts()`)."""
    digest = hashlib.sha256()

    def add(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big") + data)

    for path in input_files(root):
        add("file", path.relative_to(root).as_posix(), hashlib.sha256(path.read_bytes()).digest())
    for name, value in sorted(build_env(env).items()):
        add("env", name, value)
    for name, value in sorted(facts.items()):
        add("fact", name, value)
    return digest.hexdigest()


def _canonical(value: object) -> str:
    """A text for a config value that is the same in every process (sets sorted, enums by value)."""
    if isinstance(value, enum.Enum):
        return repr(value.value)
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_canonical(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def config_facts(config: object) -> dict[str, str]:
    """The Reflex config's fields (less CONFIG_IGNORED) as stable texts."""
    return {
        f"config.{field.name}": _canonical(getattr(config, field.name, None))
        for field in dataclasses.fields(config)  # type: ignore[arg-type]
        if field.name not in CONFIG_IGNORED
    }


def _reflex_distributions() -> Iterable[importlib.metadata.Distribution]:
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("reflex"):  # reflex, reflex-base, the reflex-components-* packages
            yield dist


def build_facts(config: object) -> dict[str, str]:
    """What else the build depends on: the resolved config, Python's, Reflex's packages' and
    bun's versions (a bun reinstall changes its binary's size or time)."""
    facts = config_facts(config)
    facts["python"] = platform.python_version()
    for dist in _reflex_distributions():
        facts[f"package.{dist.metadata['Name'].lower()}"] = dist.version
    bun = os.environ.get("REFLEX_BUN_PATH") or shutil.which("bun")
    if bun:
        binary = Path(bun).resolve()
        with contextlib.suppress(OSError):  # no bun: Reflex itself says so
            info = binary.stat()
            facts["bun"] = f"{binary} {info.st_size} {info.st_mtime_ns}"
    return facts


def stamp_path(web_dir: Path) -> Path:
    return web_dir / STAMP_NAME


def build_fingerprint(static_dir: Path) -> str | None:
    """Which build is in `static_dir` (Reflex deletes and remakes the folder on every build, so
    one made by anything else, a plain `reflex export` say, no longer matches); None if there is
    no finished one (Reflex writes 404.html after the bun build)."""
    try:
        marks = [static_dir.stat(), (static_dir / "index.html").stat()]
        (static_dir / "404.html").stat()
    except OSError:
        return None
    return " ".join(str(mark.st_mtime_ns) for mark in marks)


def stamp_text(inputs: str, static_dir: Path) -> str | None:
    """What the stamp file holds for a build made from `inputs`, or None without a build."""
    built = build_fingerprint(static_dir)
    return None if built is None else f"inputs {inputs}\nbuild {built}\n"


def is_current(web_dir: Path, static_dir: Path, inputs: str) -> bool:
    """Whether the build in `static_dir` is the one made from exactly these inputs."""
    try:
        kept = stamp_path(web_dir).read_text()
    except OSError:
        return False
    expected = stamp_text(inputs, static_dir)
    return expected is not None and kept == expected


def write_stamp(web_dir: Path, static_dir: Path, inputs: str) -> None:
    """Record that the build now in `static_dir` was made from `inputs` (written whole: a
    reader never sees half of one)."""
    text = stamp_text(inputs, static_dir)
    if text is None:
        return
    path = stamp_path(web_dir)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def reuse_line(static_dir: Path, web_dir: Path) -> str:
    return (
        f"efoy: reusing the frontend build in {static_dir} (nothing it is built from changed; "
        f"delete {stamp_path(web_dir)} to rebuild)"
    )


def rebuild_reason(web_dir: Path, static_dir: Path, inputs: str) -> str:
    """Why the build cannot be reused, for the line the start prints."""
    try:
        kept = stamp_path(web_dir).read_text().splitlines()
    except OSError:
        return "no build of these inputs yet"
    if kept[:1] != [f"inputs {inputs}"]:
        return "what it is built from changed"
    return "the build was removed or replaced"


def build_line(reason: str) -> str:
    return f"efoy: building the frontend ({reason})"


def install() -> None:
    """Wrap Reflex's compile and frontend build steps (`_run_prod` calls both by module
    attribute, inside its lock on the web folder) so that an unchanged build is reused."""
    import reflex.reflex as rx_cli
    from reflex.utils import build, prerequisites
    from reflex_base import constants
    from reflex_base.config import get_config
    from reflex_base.environment import environment

    compile_app: Callable[..., None] = rx_cli._compile_app
    setup_frontend_prod: Callable[[Path], None] = build.setup_frontend_prod
    inputs: str | None = None  # the stamp of this prod start's inputs, taken before compiling
    reuse = False

    def web_dirs() -> tuple[Path, Path]:
        web_dir = prerequisites.get_web_dir()
        return web_dir, web_dir / constants.Dirs.STATIC

    def current() -> str:
        return stamp(ROOT, os.environ, build_facts(get_config()))

    def compile_or_reuse(*args: object, **kwargs: object) -> None:
        nonlocal inputs, reuse
        if environment.REFLEX_ENV_MODE.get() != constants.Env.PROD:
            compile_app(*args, **kwargs)  # dev and preview: as always
            return
        web_dir, static_dir = web_dirs()
        inputs = current()
        reuse = is_current(web_dir, static_dir, inputs)
        if reuse:
            print(reuse_line(static_dir, web_dir), flush=True)
            environment.REFLEX_SKIP_COMPILE.set(True)  # evaluate pages for the backend only
        else:
            print(build_line(rebuild_reason(web_dir, static_dir, inputs)), flush=True)
            stamp_path(web_dir).unlink(missing_ok=True)
        compile_app(*args, **kwargs)

    def build_or_reuse(root: Path) -> None:
        if reuse:
            build.setup_frontend(root)  # env.json, as a full start writes it; no bun build
            return
        setup_frontend_prod(root)  # exits the process if the build fails
        if inputs is not None and inputs == current():  # nothing changed while it built
            write_stamp(*web_dirs(), inputs)

    rx_cli._compile_app = compile_or_reuse
    build.setup_frontend_prod = build_or_reuse


def main(argv: list[str] | None = None) -> None:
    """`python -m reflex ARGS`, with `install()` applied first."""
    install()
    from reflex.reflex import cli

    cli(args=sys.argv[1:] if argv is None else argv, prog_name="reflex")


if __name__ == "__main__":
    main()
