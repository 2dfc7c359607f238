"""The ``engram`` command: parses arguments and prints; the work happens in the runtime."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# Local embeddings run in a worker thread beside the event loop; BLAS spinning up a thread
# per core makes both slower on small machines. Must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from rich.console import Console

if TYPE_CHECKING:
    from engram.config import Settings
    from engram.store.datadir_lock import DataDirLock

app = typer.Typer(help="Engram: a server for stateful LLM agents.", no_args_is_help=True)
console = Console(stderr=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _show_version(value: bool) -> None:
    if value:
        from engram import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Engram: a server for stateful LLM agents."""


def _refuse(message: str, *, outcome: str = "Cannot start") -> NoReturn:
    """One line on stderr and exit 2: a problem the user can fix needs no traceback."""
    console.print(f"[red]{outcome}:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _load_settings(data_dir: Path | None) -> Settings:
    from pydantic import ValidationError

    from engram.config import Settings

    try:
        return Settings(data_dir=data_dir) if data_dir else Settings()
    except ValidationError as exc:
        _refuse(
            "; ".join(
                f"ENGRAM_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
                for error in exc.errors()
            )
        )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8283, help="Port to listen on."),
    data_dir: Path | None = typer.Option(
        None, help="Where the SQLite database lives (default ~/.engram or ENGRAM_DATA_DIR)."
    ),
    insecure: bool = typer.Option(
        False, help="Allow listening on a non-loopback address without ENGRAM_API_KEY."
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Start the server; the database is created and migrated on start.

    Before any of that: the port is bound, and a SQLite data dir is locked for this
    process, so a second server on the same port or data dir stops before it touches
    the database (and so before it could mark the first one's runs as interrupted)."""
    from engram.store.datadir_lock import (
        DataDirLocked,
        DataDirUnusable,
        lock_database_file,
        sqlite_file,
    )

    settings = _load_settings(data_dir)
    if not _is_loopback(host) and not settings.api_keys and not insecure:
        _refuse(
            f"refusing to listen on {host} without an API key. Set ENGRAM_API_KEY "
            "(clients then send 'Authorization: Bearer <key>'), or pass --insecure to serve "
            "the API to the network unprotected."
        )
    listener = _bind(host, port)
    database = sqlite_file(settings.resolved_database_url)
    try:
        # Held until the process exits; PostgreSQL replicas share a database and take none.
        held = lock_database_file(database) if database else None
    except (DataDirLocked, DataDirUnusable) as exc:
        _refuse(str(exc))
    # The heavy imports come after the refusals: a second server says so at once.
    import uvicorn

    from engram.api.app import create_app
    from engram.llm.endpoints import ConfigError
    from engram.store.preflight import DatabaseNotReady, check_database, migrate_database

    _configure_logging(log_level)
    _print_banner(settings, host, port)
    try:
        check_database(settings.resolved_database_url)
        migrate_database(settings.resolved_database_url)
        application = create_app(settings, schema_migrated=True)
    except (ConfigError, DatabaseNotReady) as exc:
        _refuse(str(exc))
    config = uvicorn.Config(
        application, host=host, port=port, log_level=log_level, access_log=False
    )
    uvicorn.Server(config).run(sockets=[listener])
    if held is not None:
        held.release()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use is refused before any start-up work.
    The server then serves on this very socket, so nothing can take the port meanwhile."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        _refuse(f"cannot listen on {host}: {exc.strerror}")
    # "localhost" has an IPv4 and an IPv6 address; clients try IPv4 first.
    found.sort(key=lambda entry: entry[0] != socket.AF_INET)
    family, kind, proto, _, address = found[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            _refuse(
                f"port {port} on {host} is in use (another engram server?): stop it, or "
                "pick another port with --port"
            )
        _refuse(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    listener.set_inheritable(True)
    return listener


def _configure_logging(log_level: str) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces each of its autogenerate plugins on every start; nothing to act on.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _print_banner(settings: Settings, host: str, port: int) -> None:
    """What this server is and what it runs on, before the first log line."""
    from engram import __version__

    console.print(f"Engram {__version__}", highlight=False, markup=False)
    for label, value in [
        ("database", _database_line(settings)),
        ("embeddings", _embedding_line(settings)),
        ("sandbox", _sandbox_line(settings)),
        ("reranker", _reranker_line(settings)),
        ("listening", f"http://{_url_host(host)}:{port}"),
    ]:
        console.print(f"  {label:<11} {value}", highlight=False, soft_wrap=True, markup=False)


def _database_line(settings: Settings) -> str:
    from engram.store.datadir_lock import sqlite_file
    from engram.store.preflight import describe

    url = settings.resolved_database_url
    database = sqlite_file(url)
    if database is not None:
        return f"{database} (SQLite, locked by process {os.getpid()})"
    kind = "PostgreSQL" if url.startswith("postgresql") else "in memory"
    return f"{describe(url)} ({kind})"


def _sandbox_line(settings: Settings) -> str:
    from engram.tools.confinement import sandbox_in_force

    in_force = sandbox_in_force(settings)
    return f"{in_force.name}: {in_force.description}"


def _embedding_line(settings: Settings) -> str:
    from engram.memory.local_embedding import LocalEmbeddingUnavailable, locate_model_dir

    try:
        return f"local all-MiniLM-L6-v2 found at {locate_model_dir(settings.embedding_model_dir)}"
    except LocalEmbeddingUnavailable as exc:
        return f"local all-MiniLM-L6-v2 MISSING: {exc}"


def _reranker_line(settings: Settings) -> str:
    from engram.memory.rerank.config import kind_for
    from engram.memory.rerank.http import endpoint_of

    kind = kind_for(settings.reranker_url or "", settings.reranker_kind)
    if not settings.reranker_url or kind is None:
        return "off"
    name = f"{kind}:{settings.reranker_model}" if settings.reranker_model else kind
    return (
        f"{name} at {endpoint_of(kind, settings.reranker_url)}, top "
        f"{settings.rerank_candidates} candidates, on failure: {settings.reranker_on_failure}"
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@app.command()
def version() -> None:
    """Print the version."""
    from engram import __version__

    typer.echo(__version__)


@app.command()
def doctor() -> None:
    """Say which sandbox custom tools run in here, why, and what the others lack."""
    from pydantic import ValidationError

    from engram.config import Settings
    from engram.tools.confinement import all_probes, sandbox_in_force

    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "ENGRAM_" + "_".join(str(part) for part in error["loc"]).upper()
            console.print(f"[red]{name}[/red]: {error['msg']}", highlight=False)
        raise typer.Exit(code=2) from None
    in_force = sandbox_in_force(settings)
    colour = {"none": "red", "unconfined": "yellow"}.get(in_force.name, "green")
    out = Console(soft_wrap=True)
    out.print(f"ENGRAM_SANDBOX={settings.sandbox}", highlight=False)
    out.print(
        f"sandbox in force: [{colour}]{in_force.name}[/{colour}] ({in_force.description})",
        highlight=False,
    )
    for name, probe in all_probes(settings).items():
        state = "works" if probe.available else "unavailable"
        out.print(f"  {name:<11} {state}: {probe.reason}", highlight=False, markup=False)
    if in_force.refused:
        raise typer.Exit(code=1)


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("migrate")
def db_migrate(
    to: str = typer.Option(..., "--to", help="The empty database to copy into: postgresql://…"),
    data_dir: Path | None = typer.Option(
        None,
        help="The deployment to copy (default ~/.engram, ENGRAM_DATA_DIR or ENGRAM_DATABASE_URL).",
    ),
) -> None:
    """Copy every agent, message, block, passage and run into another database, verified
    table by table; stop the server first. Nothing is committed unless every table matches."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError

    from engram.store.transfer import TransferError, copy_database

    settings = _load_settings(data_dir)
    source = settings.resolved_database_url
    target = _target_url(to)
    held = _lock_source(settings)
    console.print(f"Copying {source} into {_hide_password(target)}", soft_wrap=True)
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=max(total, 1))
            bar.update(tasks[table], completed=done if total else 1)

        try:
            reports = copy_database(source, target, progress)
        except TransferError as exc:
            console.print(f"[red]Not copied:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        except SQLAlchemyError as exc:  # unreachable database, missing rights, ...
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            console.print(
                f"[red]Not copied[/red] (nothing was committed): {reason}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(code=1) from None
    if held is not None:
        held.release()
    summary = Table("table", "rows", "checksum (sha256)", "verified")
    for report in reports:
        summary.add_row(report.name, str(report.target_rows), report.target_checksum[:16], "yes")
    Console().print(summary)
    console.print(
        f"[green]Copied and verified {sum(r.target_rows for r in reports)} rows in "
        f"{len(reports)} tables.[/green] Start the server with "
        f"ENGRAM_DATABASE_URL={_hide_password(target)}",
        soft_wrap=True,
    )


def _target_url(to: str) -> str:
    """``--to`` as a URL SQLAlchemy can open, or one line saying what is wrong with it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from engram.config import normalize_database_url

    expected = "expected postgresql://user:password@host/database or sqlite:///path/engram.db"
    try:
        url = make_url(normalize_database_url(to))
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        _refuse(f"--to {to!r} is not a database URL: {expected}", outcome="Not copied")
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        _refuse(
            f"--to: Engram runs on PostgreSQL or SQLite, not {url.get_backend_name()}",
            outcome="Not copied",
        )
    return url.render_as_string(hide_password=False)


def _lock_source(settings: Settings) -> DataDirLock | None:
    """A SQLite deployment to copy must exist, and no server may be writing to it while
    it is copied (the lock also keeps one from starting meanwhile)."""
    from engram.store.datadir_lock import (
        DataDirLocked,
        DataDirUnusable,
        lock_database_file,
        sqlite_file,
    )

    database = sqlite_file(settings.resolved_database_url)
    if database is None:
        return None
    if not database.is_file():
        _refuse(
            f"there is no Engram database in {database.parent} (no {database.name}): pass "
            "the data dir the server uses with --data-dir",
            outcome="Not copied",
        )
    try:
        return lock_database_file(database)
    except (DataDirLocked, DataDirUnusable) as exc:
        _refuse(str(exc), outcome="Not copied")


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
