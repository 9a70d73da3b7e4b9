"""``spendprint serve`` (the HTTP API on uvicorn) and ``spendprint apikey create|list|revoke``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console, console_err

DEFAULT_DATA_DIR = Path("spendprint-data")

apikey_app = typer.Typer(help="Create, list and revoke API keys of the HTTP server.",
                         no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")

_DATA_DIR_HELP = ("Server data directory: models/<name> (native stores), concordances/, prices/, "
                  "jobs/, the SQLite database and an optional settings.toml.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help=_DATA_DIR_HELP),
    preload: list[str] = typer.Option([], "--preload",
                                      help="Model name to open and factorise at start-up "
                                           "(repeatable)."),
    public_reads: bool | None = typer.Option(None, "--public-reads/--private-reads",
                                             help="Metadata reads without a key (default from "
                                                  "settings: public)."),
    cors_origin: list[str] = typer.Option([], "--cors-origin",
                                          help="Browser origin allowed to call the API (CORS; "
                                               "repeatable; none by default)."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn); OpenAPI at /openapi.json, docs at /docs."""
    import uvicorn

    from ..api.app import create_app
    from ..api.settings import Settings

    settings = Settings.load(data_dir, preload=tuple(preload) or None, public_reads=public_reads,
                             cors_origins=tuple(cors_origin) or None)
    application = create_app(settings)
    console.print(f"spendprint API on http://{host}:{port} (data: {settings.data_dir}); "
                  f"docs at /docs", highlight=False)
    uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=5)


@apikey_app.command("create")
def apikey_create(
    name: str = typer.Argument(..., help="Who or what the key is for (shown in listings)."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help=_DATA_DIR_HELP),
) -> None:
    """Create an API key and print it once on stdout (only a salted hash is stored)."""
    from ..api.auth import KeyStore
    from ..api.settings import Settings

    store = KeyStore(Settings.load(data_dir).db_path)
    info, key = store.create(name)
    console_err.print(f"created key {info.id} for {info.name!r}; store it now, it is not shown "
                      "again:", highlight=False)
    typer.echo(key)


@apikey_app.command("list")
def apikey_list(data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help=_DATA_DIR_HELP)) -> None:
    """List key ids and names (never the keys)."""
    from ..api.auth import KeyStore
    from ..api.settings import Settings

    for row in KeyStore(Settings.load(data_dir).db_path).list():
        state = "revoked" if row["revoked"] else "active"
        console.print(f"{row['id']}  {state:8}  {row['name']}", highlight=False)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str = typer.Argument(..., help="The key id (the 12 hex digits after 'sp_')."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help=_DATA_DIR_HELP),
) -> None:
    """Revoke a key: requests with it get 403 from then on."""
    from ..api.auth import KeyStore
    from ..api.settings import Settings
    from ..errors import ValidationError

    if not KeyStore(Settings.load(data_dir).db_path).revoke(key_id):
        raise ValidationError(f"no API key with id {key_id!r}")
    console.print(f"revoked {key_id}")
