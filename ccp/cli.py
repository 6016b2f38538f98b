"""`ccp serve`, `ccp method validate`, `ccp run`, `ccp export`, `ccp import`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from ccp.model import DescriptorError


def serve(args: argparse.Namespace) -> int:
    from waitress import serve as waitress_serve

    from ccp.app import create_app, load_config

    config = load_config(args.config)
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
        print(f"CCP stopping (signal {signum})", flush=True)
        manager.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    print(f"CCP serving on http://{host}:{port}", flush=True)
    waitress_serve(app, host=host, port=port, threads=16, ident="ccp")
    return 0


def validate_method(args: argparse.Namespace) -> int:
    from ccp.model import unsafe_scripts
    from ccp.registry import load_method_file

    failed = 0
    for name in args.files:
        try:
            method = load_method_file(Path(name))
            problems = unsafe_scripts(method)
            if problems:
                raise DescriptorError(problems)
        except DescriptorError as err:
            failed += 1
            for problem in err.problems:
                print(f"{name}: {problem}")
            continue
        print(f"{name}: valid method '{method.id}' version {method.version}")
    return 1 if failed else 0


def run_method(args: argparse.Namespace) -> int:
    """Submit one execution to a running server's manager, in-process, and wait for it."""
    import time

    from ccp.app import create_app, load_config

    app = create_app(load_config(args.config))
    manager = app.extensions["ccp"].manager
    inputs = {}
    for item in args.input or []:
        key, _, value = item.partition("=")
        try:
            inputs[key] = json.loads(value)
        except json.JSONDecodeError:
            inputs[key] = value
    job_id = manager.submit(args.method, {"inputs": inputs})
    while (job := manager.get_job(job_id))["status"] in ("accepted", "running"):
        time.sleep(0.2)
    manager.stop()
    print(json.dumps({"jobID": job_id, "status": job["status"], "message": job["message"]}))
    return 0 if job["status"] == "successful" else 1


def _manager(config_path: str | None):
    from ccp.app import load_config
    from ccp.manager import CCPManager

    config = load_config(config_path)
    return CCPManager({**config["server"]["manager"], "processes": {}})


def retry_storage(args: argparse.Namespace) -> int:
    stored = _manager(args.config).retry_storage()
    for job_id in stored:
        print(f"stored the archive of {job_id}")
    print(f"{len(stored)} archive(s) stored")
    return 0


def export_job(args: argparse.Namespace) -> int:
    from ccp import archive

    manager = _manager(args.config)
    try:
        job = manager.get_job(args.job)
    except Exception:
        print(f"there is no job {args.job!r}", file=sys.stderr)
        return 1
    if not job.get("stored"):
        print(f"job {args.job} has no stored archive ({job['status']}: {job['message']})",
              file=sys.stderr)
        return 1
    with open(args.file, "wb") as target:
        for chunk in archive.stream_zip(manager.storage, args.job):
            target.write(chunk)
    print(f"exported {args.job} to {args.file}")
    return 0


def import_job(args: argparse.Namespace) -> int:
    from ccp import errors

    manager = _manager(args.config)
    try:
        job_id = manager.import_archive(Path(args.file))
    except errors.CCPError as err:
        print(f"{args.file}: {err.detail}", file=sys.stderr)
        return 1
    print(f"imported {args.file} as job {job_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the server")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--config", help="pygeoapi-config.yml (default: $PYGEOAPI_CONFIG)")
    serve_parser.set_defaults(handler=serve)

    method_parser = commands.add_parser("method", help="work with Method files")
    method_commands = method_parser.add_subparsers(dest="method_command", required=True)
    validate_parser = method_commands.add_parser("validate", help="check Method JSON files")
    validate_parser.add_argument("files", nargs="+")
    validate_parser.set_defaults(handler=validate_method)

    run_parser = commands.add_parser("run", help="run one execution and wait for it")
    run_parser.add_argument("method")
    run_parser.add_argument("--input", "-i", action="append", help="name=value (JSON or text)")
    run_parser.add_argument("--config")
    run_parser.set_defaults(handler=run_method)

    storage_parser = commands.add_parser("storage", help="the archive store")
    storage_commands = storage_parser.add_subparsers(dest="storage_command", required=True)
    retry_parser = storage_commands.add_parser(
        "retry", help="upload archives that were kept on disk because the store was down")
    retry_parser.add_argument("--config")
    retry_parser.set_defaults(handler=retry_storage)

    export_parser = commands.add_parser("export", help="write an Execution archive to a zip")
    export_parser.add_argument("job")
    export_parser.add_argument("file")
    export_parser.add_argument("--config")
    export_parser.set_defaults(handler=export_job)

    import_parser = commands.add_parser("import", help="register an exported Execution archive")
    import_parser.add_argument("file")
    import_parser.add_argument("--config")
    import_parser.set_defaults(handler=import_job)

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
