"""The typer application: shared options, and one command per module of this package."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import call, demo, export, ops, show_limits
from ._settings import Settings

__all__ = ["app"]

app = typer.Typer(
    name="zoom-async",
    help=(
        "Zoom's REST API from the command line, within your plan's rate limits.\n\n"
        "Credentials come from ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (or the "
        "flags below); ZOOM_BASE_URL and ZOOM_TOKEN_URL point it elsewhere (a proxy, a regional "
        "endpoint, FakeZoom on a port). Exit codes: 0 ok, 1 Zoom error, 2 usage, 3 credentials, "
        "4 not found, 5 rate limit or quota, 6 network, 130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zoom-async {__version__}")
        raise typer.Exit()


@app.callback()
def shared_options(
    ctx: typer.Context,
    account_id: Annotated[
        str | None, typer.Option(envvar="ZOOM_ACCOUNT_ID", help="Server-to-Server OAuth account")
    ] = None,
    client_id: Annotated[str | None, typer.Option(envvar="ZOOM_CLIENT_ID")] = None,
    client_secret: Annotated[
        str | None, typer.Option(envvar="ZOOM_CLIENT_SECRET", show_default=False)
    ] = None,
    plan: Annotated[
        str,
        typer.Option(
            envvar="ZOOM_PLAN", help="the account's plan: pro (conservative) or business_plus"
        ),
    ] = "pro",
    budget_share: Annotated[
        float,
        typer.Option(
            min=0.01, max=1.0, help="the part of the account's limits to use (other apps share)"
        ),
    ] = 1.0,
    base_url: Annotated[
        str | None, typer.Option(envvar="ZOOM_BASE_URL", help="API root [https://api.zoom.us/v2]")
    ] = None,
    token_url: Annotated[
        str | None,
        typer.Option(envvar="ZOOM_TOKEN_URL", help="token endpoint [https://zoom.us/oauth/token]"),
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option(
            envvar="ZOOM_REDIS_URL",
            help="share the limits with other processes through Redis (redis://host:6379/0; "
            "Sentinel: redis+sentinel://host:26379/service)",
        ),
    ] = None,
    redis_cluster: Annotated[
        bool,
        typer.Option(
            "--redis-cluster",
            envvar="ZOOM_REDIS_CLUSTER",
            help="the --redis URL names a node of a Redis Cluster (or Valkey cluster)",
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="show the version")
    ] = False,
) -> None:
    ctx.obj = Settings(
        account_id=account_id,
        client_id=client_id,
        client_secret=client_secret,
        plan=plan,
        budget_share=budget_share,
        base_url=base_url,
        token_url=token_url,
        redis_url=redis,
        redis_cluster=redis_cluster,
    )


app.command(name="call")(call.call)
app.command(name="export")(export.export)
app.command(name="limits")(show_limits.limits)
app.command(name="demo")(demo.demo)
ops_app = typer.Typer(help="Find Zoom API operations.", no_args_is_help=True)
ops_app.command(name="search")(ops.search)
app.add_typer(ops_app, name="ops")
