"""`seqtui serve`: the app in a browser, through textual-serve.

Each browser tab that connects gets its own app process on the runs root, read-only unless the
server was started with --writable. The command line dispatches here (as it does to the app).
"""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from seqtui.settings.errors import SeqtuiError
from seqtui.store.layout import default_root

console = Console(highlight=False)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve_command(root: Path, writable: bool) -> str:
    """The command textual-serve runs for each browser that connects: the app on `root`."""
    import shlex

    return shlex.join(
        [sys.executable, "-m", "seqtui", "--root", str(Path(root).resolve())] + ([] if writable else ["--read-only"])
    )


def allowed(origin: str | None, host: str, public_url: str, local: bool) -> bool:
    """Whether a request may reach the app: a page of another origin may neither read the runs nor
    start app processes (its Origin must be the address served), and a local server answers only
    to local names or its public URL's (a foreign name resolved to 127.0.0.1 is refused)."""
    from urllib.parse import urlsplit

    host = host.lower()
    public = urlsplit(public_url).netloc.lower()
    if local and host != public and not _local_name(host):
        return False
    if origin is None:
        return True  # not a browser's cross-site request (curl, the same page's navigation)
    origin_host = urlsplit(origin).netloc.lower()
    if local and _local_name(origin_host) and _port(origin_host) == _port(host):
        return True  # a page from this machine's own server: 127.0.0.1 and localhost are one
    return origin_host in (host, public)


def _local_name(netloc: str) -> bool:
    name = netloc.split("]")[0] + "]" if netloc.startswith("[") else netloc.rsplit(":", 1)[0]
    return name in ("localhost", "127.0.0.1", "[::1]")


def _port(netloc: str) -> str:
    tail = netloc.split("]")[-1]
    return tail.rsplit(":", 1)[1] if ":" in tail else ""


def guarded_server() -> type:
    """textual-serve's server with `allowed` checked on every request, the websocket's included."""
    from aiohttp import web
    from textual_serve.server import Server

    class Guarded(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            local = self.host in LOCAL_HOSTS

            @web.middleware
            async def guard(request: web.Request, handler):
                if not allowed(request.headers.get("Origin"), request.host, self.public_url, local):
                    return web.Response(status=403, text="seqtui serve: this page may not reach these runs\n")
                return await handler(request)

            app.middlewares.append(guard)
            return app

    return Guarded


def _check_free(host: str, port: int) -> None:
    """Refuse a port another process listens on, as the server would, but before saying anything."""
    import socket

    try:
        family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            probe.bind((host, port))
    except OSError as error:
        raise SeqtuiError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None


def serve(args: Namespace) -> int:
    try:
        server_class = guarded_server()
    except ImportError:
        raise SeqtuiError("seqtui serve needs textual-serve: pip install textual-serve") from None
    if not 1 <= args.port <= 65535:
        raise SeqtuiError(f"--port {args.port}: a port is 1-65535")
    root = args.root or default_root()
    if not Path(root).is_dir():
        raise SeqtuiError(f"the runs root {root} does not exist (give --root, or start a run first)")
    mode = "writable: the browser can start, stop and delete runs" if args.writable else "read-only"
    if args.host not in LOCAL_HOSTS:
        print(
            f"seqtui: warning: serving on {args.host}: anyone who reaches port {args.port} sees these runs"
            + (" and can change them" if args.writable else "")
            + "; 127.0.0.1 with ssh -L is safer",
            file=sys.stderr,
        )
    if args.host in LOCAL_HOSTS:
        where = "localhost"
    elif args.host in ("0.0.0.0", "::", ""):
        import socket

        where = socket.getfqdn()  # a browser cannot use a wildcard address
    else:
        where = f"[{args.host}]" if ":" in args.host else args.host
    url = args.public_url or f"http://{where}:{args.port}"
    _check_free(args.host, args.port)  # before the banner: a port in use is the only thing said
    console.print(f"seqtui on {escape(str(root))} in a browser: {url} ({mode}; ctrl+c stops serving)")
    if args.host in LOCAL_HOSTS:
        console.print(f"from a laptop: ssh -L {args.port}:localhost:{args.port} THIS-HOST, then open {url}")
    server = server_class(
        serve_command(root, args.writable), host=args.host, port=args.port, title="seqtui", public_url=url
    )
    try:
        server.serve()
    except OSError as error:
        raise SeqtuiError(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}") from None
    return 0
