"""`ccp serve`: the server, on waitress."""

from __future__ import annotations

import argparse
import logging
import signal

LOGGER = logging.getLogger("ccp.serve")


def serve(args: argparse.Namespace) -> int:
    from waitress import serve as waitress_serve

    from ccp import logs
    from ccp.app import create_app, load_config

    config = load_config(args.config)
    logs.setup(config.get("logging", {}).get("level"))
    host = args.host or config["server"].get("bind", {}).get("host", "127.0.0.1")
    port = int(args.port or config["server"].get("bind", {}).get("port", 5000))
    if args.host or args.port:
        public_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        config["server"]["manager"]["base_url"] = config["server"]["url"] = (
            f"http://{public_host}:{port}")
    app = create_app(config)
    manager = app.extensions["ccp"].manager

    def shut_down(signum: int, _frame: object) -> None:
        # Nothing is left running: executions are cancelled, destroyed and archived first.
        print(f"CCP stopping ({signal.Signals(signum).name})", flush=True)
        manager.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    registry = manager.registry
    unreachable = sorted(i for i, problem in manager.reachability.items() if problem)
    print(f"CCP serving on http://{host}:{port} ({len(registry.methods)} methods, "
          f"{len(registry.infrastructures)} infrastructures"
          + (f", unreachable: {', '.join(unreachable)}" if unreachable else "")
          + f"; data in {manager.data_dir})", flush=True)
    waitress_serve(app, host=host, port=port, threads=16, ident="ccp")
    return 0
