"""The ``engram`` command: parses arguments and prints; the work happens in the runtime."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

# Local embeddings run in a worker thread beside the event loop; BLAS spinning up a thread
# per core makes both slower on small machines. Must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

app = typer.Typer(help="Engram: a server for stateful LLM agents.", no_args_is_help=True)
console = Console(stderr=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    """Start the server; the database is created and migrated on start."""
    import uvicorn
    from pydantic import ValidationError

    from engram.api.app import create_app
    from engram.config import Settings
    from engram.llm.endpoints import ConfigError
    from engram.store.preflight import DatabaseNotReady, check_database, describe

    overrides = {"data_dir": data_dir} if data_dir else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"ENGRAM_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        console.print(f"[red]Cannot start:[/red] {problems}", markup=True, highlight=False)
        raise typer.Exit(code=2) from None
    if not _is_loopback(host) and not settings.api_keys and not insecure:
        console.print(
            f"[red]Refusing to listen on {host} without an API key.[/red] Set ENGRAM_API_KEY "
            "(clients then send 'Authorization: Bearer <key>'), or pass --insecure to serve "
            "the API to the network unprotected."
        )
        raise typer.Exit(code=2)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = settings.resolved_database_url
    where = describe(url) if settings.database_url else settings.data_dir / "engram.db"
    console.print(f"Engram on http://{host}:{port}  (database: {where})")
    try:
        check_database(url)
        application = create_app(settings)
    except (ConfigError, DatabaseNotReady) as exc:
        console.print(f"[red]Cannot start:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(code=2) from None
    uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=False)


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

    from engram.config import Settings, normalize_database_url
    from engram.store.transfer import TransferError, copy_database

    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    source = settings.resolved_database_url
    target = normalize_database_url(to)
    console.print(f"Copying {source} into {_hide_password(target)}")
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
            console.print(f"[red]Not copied:[/red] {exc}", highlight=False)
            raise typer.Exit(code=1) from None
        except SQLAlchemyError as exc:  # unreachable database, missing rights, ...
            reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
            console.print(
                f"[red]Not copied[/red] (nothing was committed): {reason}", highlight=False
            )
            raise typer.Exit(code=1) from None
    summary = Table("table", "rows", "checksum (sha256)", "verified")
    for report in reports:
        summary.add_row(report.name, str(report.target_rows), report.target_checksum[:16], "yes")
    Console().print(summary)
    console.print(
        f"[green]Copied and verified {sum(r.target_rows for r in reports)} rows in "
        f"{len(reports)} tables.[/green] Start the server with "
        f"ENGRAM_DATABASE_URL={_hide_password(target)}"
    )


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
