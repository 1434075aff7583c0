"""``zoom-async call METHOD PATH``: one request to any endpoint, the answer as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ._errors import ExitCode, fail, run
from ._output import print_json
from ._settings import Settings

__all__ = ["call"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def parse_params(pairs: list[str]) -> dict[str, str | list[str]]:
    """``-p key=value`` pairs; a key given twice becomes a list (``?k=a&k=b``)."""
    params: dict[str, str | list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"-p takes key=value, not {pair!r}")
        if key in params:
            previous = params[key]
            params[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[key] = value
    return params


def parse_body(body: str | None) -> Any:
    """``--json`` as text, ``@file.json``, or ``-`` for stdin."""
    if body is None:
        return None
    source = "--json"
    if body == "-":
        body, source = sys.stdin.read(), "stdin"
    elif body.startswith("@"):
        path = Path(body[1:])
        try:
            body, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        fail(f"{source} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def call(
    ctx: typer.Context,
    method: Annotated[str, typer.Argument(help="GET, POST, PUT, PATCH or DELETE")],
    path: Annotated[str, typer.Argument(help="e.g. /users/me or /users/jo@example.com/meetings")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="query parameter key=value (repeatable)"),
    ] = None,
    json_body: Annotated[
        str | None,
        typer.Option("--json", "-j", help="request body: JSON text, @file.json, or - for stdin"),
    ] = None,
    pretty: Annotated[
        bool | None,
        typer.Option("--pretty/--compact", help="indented or one-line JSON [pretty on a terminal]"),
    ] = None,
    all_pages: Annotated[
        bool,
        typer.Option(
            "--all", "-a", help="a GET list endpoint: every item of every page, one JSON per line"
        ),
    ] = False,
) -> None:
    """Send one request and print the answer as JSON.

    Examples: ``zoom-async call GET /users -p status=inactive -p page_size=50``;
    ``zoom-async call POST /users/me/meetings --json '{"topic": "Sync", "type": 2}'``;
    ``zoom-async call GET /users --all | jq -r .email``.
    """
    settings: Settings = ctx.obj
    verb = method.upper()
    if verb not in METHODS:
        fail(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if all_pages and (verb != "GET" or json_body is not None):
        fail("--all lists every page of a GET endpoint; it takes no --json body")

    async def send() -> int:
        params = parse_params(param or [])
        body = parse_body(json_body)
        async with settings.client(priority="interactive") as zoom:
            if all_pages:
                async for item in zoom.paginate(path, params=params or None):
                    print_json(item, pretty=False)  # JSON Lines: one item per line
                return int(ExitCode.OK)
            answer = await zoom.request(verb, path, params=params or None, json=body)
        if answer is not None:
            print_json(answer, pretty=pretty)
        return int(ExitCode.OK)

    raise typer.Exit(run(send()))
