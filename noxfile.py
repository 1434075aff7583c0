"""Developer sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``docs``, ``bench``..."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


def install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """The full test suite (unit tests with respx, end to end against FakeZoom)."""
    install(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "zoom_async", "tests", "benchmarks", "codegen")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    install(session)
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Rate and overhead benchmarks against FakeZoom on a local port."""
    install(session)
    session.run("python", "benchmarks/bench_limits.py", *session.posargs)
    session.run("python", "benchmarks/bench_limits.py", "--transport", "aiohttp", *session.posargs)
    session.run("python", "benchmarks/bench_memory.py")
    session.run("python", "benchmarks/bench_priorities.py", "--transport", "aiohttp")
    # requests/s over time per category (zoom-async vs gather vs aiolimiter), then the PNGs
    # and table in benchmarks/results/ that README.md shows
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/bench_burst.py")  # HTTP/2 row: hypercorn, from [bench]
    session.run("python", "benchmarks/bench_first_wave.py")
    session.run("python", "benchmarks/bench_timeline.py")
    session.run("python", "benchmarks/plots.py")
    session.run("python", "benchmarks/bench_overhead.py")
    session.run("python", "benchmarks/bench_import.py")
    session.run("python", "benchmarks/bench_pagination.py", "--users", "2000")


@nox.session
def codegen(session: nox.Session) -> None:
    """Regenerate the catalog, the typed API and webhook models from ../shared/zoom-openapi
    (``nox -s codegen -- --check`` only checks they are up to date)."""
    install(session)
    session.run("python", "-m", "codegen", "catalog", *session.posargs)
    session.run("python", "-m", "codegen", "api", *session.posargs)
    session.run("python", "-m", "codegen.webhook_events")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs.yml) into site/; any warning fails the build."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})
