"""``floodwatch serve``: the public map and API with uvicorn."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from floodwatch.cli.context import ctx_of
from floodwatch.core.db import check_reachable, session_factory
from floodwatch.core.errors import InputError, NotFoundError


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0: every interface)")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free one)")
                    ] = 8000,
    region: Annotated[str | None, typer.Option(
        help="the region shown (default: the web_map region setting, hue)")] = None,
) -> None:
    """Serve the public map, the API (/docs) and the CAP feed until Ctrl-C or SIGTERM."""
    import uvicorn

    from floodwatch.hydro.settings import HydroSettings
    from floodwatch.web_map.app import create_app
    from floodwatch.web_map.context import WebAppSettings
    from floodwatch.web_map.queries import read_region
    from floodwatch.web_map.settings import WebMapSettings

    c = ctx_of(ctx)
    check_reachable(c.engine)
    web = WebMapSettings()
    if region:
        web = web.model_copy(update={"region": region})
    with session_factory(c.engine)() as session:
        if read_region(session, web.region) is None:
            raise NotFoundError(f"no region {web.region!r} in the store: load it first "
                                f"(floodwatch region load {web.region})")
    app = create_app(c.store, web, WebAppSettings(), engine=c.engine,
                     feeds=HydroSettings().feeds)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    typer.echo(f"serving the {web.region} flood map at {_url(host, bound)} "
               f"(API docs: {_url(host, bound)}docs; Ctrl-C to stop)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", server_header=False,
                                           proxy_headers=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
