"""``wfrun serve [DIR]``: parse the options, make the token, print the login URL once, run uvicorn.

Binding anything but loopback needs ``--host`` explicitly and warns without
TLS (``--certfile``/``--keyfile``): the token would cross the network in clear.
uvicorn's access log is off (the login URL carries the token in its query);
:mod:`workflow_runner.serve.app` logs requests without query strings instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workflow_runner.errors import WorkflowError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the runs and workflows over an authenticated HTTP API",
                       description="Serve the workflows under DIR and every run of the run store over HTTP (JSON API, "
                                   "OpenAPI at /docs). Runs are started as ordinary background wfrun runs: stopping the "
                                   "server stops none of them. Authentication: the token in $WFRUN_HOME/serve/token.")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="folder whose workflows are served (default: .)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything else is reachable from other machines)")
    p.add_argument("--port", "-p", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    p.add_argument("--certfile", metavar="PEM", help="TLS certificate (with --keyfile): serve https")
    p.add_argument("--keyfile", metavar="PEM", help="TLS private key")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="also accept this Host header name (e.g. the DNS name of a public bind; repeatable)")
    p.add_argument("--graceful-timeout", type=float, default=3.0, metavar="SECONDS",
                   help="on shutdown, wait this long for open requests and event streams (default 3)")


def settings_from(args: argparse.Namespace) -> Any:
    from workflow_runner.serve.settings import ServeSettings, load_or_create_token
    from workflow_runner.state.rundir import wfrun_home

    root = Path(args.dir)
    if not root.is_dir():
        raise WorkflowError(f"wfrun serve: {args.dir}: not a directory")
    if bool(args.certfile) != bool(args.keyfile):
        raise WorkflowError("wfrun serve: --certfile and --keyfile go together")
    for option, value in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if value and not Path(value).is_file():
            raise WorkflowError(f"wfrun serve: {option} {value}: no such file")
    if not 0 <= args.port <= 65535:
        raise WorkflowError(f"wfrun serve: --port {args.port}: must be 0..65535")
    home = wfrun_home()
    return ServeSettings(root=root.resolve(), home=home, token=load_or_create_token(home), host=args.host,
                         port=args.port, certfile=Path(args.certfile) if args.certfile else None,
                         keyfile=Path(args.keyfile) if args.keyfile else None, allowed_hosts=list(args.allowed_host),
                         graceful_timeout=args.graceful_timeout)


def main(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from workflow_runner.serve.app import create_app
    from workflow_runner.serve.settings import LOOPBACK, is_loopback

    settings = settings_from(args)
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    access = logging.getLogger("wfrun.serve")  # one line per request: method, path (never the query), status, time
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    if settings.host not in LOOPBACK and not is_loopback(settings.host):
        print(f"wfrun serve: warning: listening on {settings.host}, reachable from other machines", file=sys.stderr)
        if not settings.tls:
            print("wfrun serve: warning: without --certfile/--keyfile the token and all data cross the network "
                  "unencrypted", file=sys.stderr)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections: without it a response written in two pieces waits ~40 ms for the
    # client's delayed ACK (Nagle), every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        raise WorkflowError(f"wfrun serve: cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    settings.port = sock.getsockname()[1]  # --port 0: the one the system chose
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=settings.graceful_timeout,
                            ssl_certfile=str(settings.certfile) if settings.certfile else None,
                            ssl_keyfile=str(settings.keyfile) if settings.keyfile else None, lifespan="on")
    server = uvicorn.Server(config)
    app.state.should_exit = lambda: server.should_exit  # open event streams end at once on Ctrl-C/SIGTERM
    print(f"wfrun serve: serving {settings.root} on {settings.public_url()}  (API docs: {settings.public_url()}/docs)")
    print(f"wfrun serve: open this login URL once (it sets a cookie): {settings.public_url()}/login?token={settings.token}")
    print(f"wfrun serve: API clients send 'Authorization: Bearer' with the token in {settings.home / 'serve' / 'token'}",
          flush=True)
    server.run(sockets=[sock])
    return 0
