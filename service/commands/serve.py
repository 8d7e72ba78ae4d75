"""``jobmatch serve`` and ``jobmatch keys create | list | revoke``."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli_app import app, fail, keys_app

#: uvicorn closes an idle connection after 5 s by default, often shorter than an
#: officer's pause between two pages: the next request then pays for a new connection
#: (and may race the close). 75 s is what common proxies use.
KEEP_ALIVE_SECONDS = 75


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each loads the model once).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    keep_alive: Annotated[
        int, typer.Option(min=1, help="Seconds an idle client connection is kept open.")
    ] = KEEP_ALIVE_SECONDS,
) -> None:
    """Serve the API (/api/v1, docs at /docs) and the web interface at http://HOST:PORT/."""
    import uvicorn

    from service.settings import get_settings
    from service.store.migrate import ensure_schema

    settings = get_settings()
    try:
        ensure_schema(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - tell the user what failed, not a traceback
        raise fail(f"could not prepare the store: {type(exc).__name__}: {exc}") from None
    typer.echo(f"jobmatch serving on http://{host}:{port}/ (API docs at http://{host}:{port}/docs)")
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,  # paths may carry worker ids; request metrics are in /metrics
        timeout_keep_alive=keep_alive,
    )


def _session():
    from service.settings import get_settings
    from service.store.db import make_engine, session_scope
    from service.store.migrate import ensure_schema

    url = get_settings().database_url
    ensure_schema(url)
    return session_scope(make_engine(url))


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin | officer | employer")],
    region: Annotated[
        str | None, typer.Option(help="Officer's region code prefix, e.g. 5424.")
    ] = None,
    employer: Annotated[
        str | None, typer.Option(help="Employer's employer_id, e.g. E0001.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Who holds the key (free text).")] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3660, help="Days until the key expires (default: never)."),
    ] = None,
) -> None:
    """Create an API key. The key is printed alone on the last line, and only this once."""
    from datetime import UTC, datetime, timedelta

    from service.auth import create_key, validate_scope
    from service.store.models import Employer

    try:
        validate_scope(role, region, employer)
    except ValueError as exc:
        raise fail(str(exc)) from None
    expires_at = (
        None
        if expires_in_days is None
        else datetime.now(UTC).replace(tzinfo=None) + timedelta(days=expires_in_days)
    )
    with _session() as session:
        if employer and session.get(Employer, employer) is None:
            typer.secho(
                f"warning: employer {employer} is not in the store yet; the key works once it is",
                fg=typer.colors.YELLOW,
                err=True,
            )
        new = create_key(
            session,
            role,
            region_prefix=region,
            employer_id=employer,
            name=name,
            expires_at=expires_at,
        )
    scope = new.region_prefix or new.employer_id or "all"
    until = f", expires {new.expires_at:%Y-%m-%d %H:%M} UTC" if new.expires_at else ""
    typer.echo(f"created key {new.row_id}: role {new.role.value}, scope {scope}{until}")
    typer.echo("store it now; it is not shown again:")
    typer.echo(new.key)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (id, role, scope, name, state, created, expires, revoked); never the
    keys themselves."""
    from sqlalchemy import select

    from service.auth import key_state
    from service.store.models import ApiKey

    with _session() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        typer.echo("id\trole\tscope\tname\tstate\tcreated_at\texpires_at\trevoked_at")
        for r in rows:
            scope = r.region_prefix or r.employer_id or "all"
            typer.echo(
                f"{r.id}\t{r.role}\t{scope}\t{r.name or ''}\t{key_state(r)}\t"
                f"{r.created_at:%Y-%m-%d %H:%M}\t{r.expires_at or ''}\t{r.revoked_at or ''}"
            )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The id shown by `keys list`.")],
) -> None:
    """Revoke a key (it stops working within seconds in running services)."""
    from service.auth import revoke_key

    with _session() as session:
        row = revoke_key(session, key_id)
        if row is None:
            raise fail(f"no key with id {key_id}; see `jobmatch keys list`")
    typer.echo(f"revoked key {key_id}")
