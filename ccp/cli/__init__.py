"""The `ccp` command: serve, run Methods and watch their jobs, validate, export and import.

`ccp run` and `ccp jobs` talk to a CCP server's HTTP API with `--server URL` (and a token),
or to this machine's configuration in-process without it. Exit codes of commands that watch
a job: 0 successful, 1 failed, 3 dismissed; 2 a bad command line, 4 CCP refused the request
or could not be reached, 130 interrupted (docs/cli.md).
"""

from __future__ import annotations

import argparse
import os
import sys

from ccp import logs
from ccp.cli.client import ClientError
from ccp.cli.follow import EXIT_ERROR, EXIT_INTERRUPTED
from ccp.cli.run import UsageError
from ccp.jobs import STATUS_VALUES

JOB_STATUSES = STATUS_VALUES


def _server_options() -> argparse.ArgumentParser:
    """Where the jobs are: a server, or this machine's configuration."""
    options = argparse.ArgumentParser(add_help=False)
    where = options.add_argument_group("where")
    where.add_argument("--server", default=os.environ.get("CCP_SERVER") or None,
                       metavar="URL", help="a CCP server's URL (default: $CCP_SERVER); "
                       "without it, this machine's CCP in-process")
    where.add_argument("--token", default=os.environ.get("CCP_TOKEN") or None,
                       help="bearer token for --server (default: $CCP_TOKEN)")
    where.add_argument("--config", help="pygeoapi-config.yml for in-process use "
                       "(default: $PYGEOAPI_CONFIG)")
    return options


def build_parser() -> argparse.ArgumentParser:
    from ccp.cli import jobs, local, run, serve

    parser = argparse.ArgumentParser(prog="ccp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    where = _server_options()

    serve_parser = commands.add_parser("serve", help="run the server")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--config", help="pygeoapi-config.yml (default: $PYGEOAPI_CONFIG)")
    serve_parser.set_defaults(handler=serve.serve)

    method_parser = commands.add_parser("method", help="work with Method files")
    method_commands = method_parser.add_subparsers(dest="method_command", required=True)
    validate_parser = method_commands.add_parser("validate", help="check Method JSON files")
    validate_parser.add_argument("files", nargs="+")
    validate_parser.set_defaults(handler=local.validate_method)

    run_parser = commands.add_parser(
        "run", parents=[where], help="run one execution and watch it to its end",
        description="Submit an execution, show its progress and log lines as they come, then "
        "its results, archive and exit code (0 successful, 1 failed, 3 dismissed). "
        "Ctrl-C dismisses it.")
    run_parser.add_argument("method")
    run_parser.add_argument("--input", "-i", action="append", metavar="NAME=VALUE",
                            help="an input (JSON, else text); repeat for more")
    run_parser.add_argument("--json", action="store_true",
                            help="end standard output with one JSON line (the rest on stderr)")
    run_parser.set_defaults(handler=run.run)

    jobs_parser = commands.add_parser("jobs", help="list, follow, download or dismiss jobs")
    jobs_commands = jobs_parser.add_subparsers(dest="jobs_command", required=True)
    list_parser = jobs_commands.add_parser("list", parents=[where], help="a table of jobs, "
                                           "newest first")
    list_parser.add_argument("--status", action="append", choices=JOB_STATUSES,
                             help="only jobs with this status (repeat for more)")
    list_parser.add_argument("--process", action="append", metavar="ID",
                             help="only jobs of this process (repeat for more)")
    list_parser.add_argument("--limit", type=int, default=20, help="at most this many (20)")
    list_parser.add_argument("--json", action="store_true", help="the list as JSON")
    list_parser.set_defaults(handler=jobs.list_jobs)
    follow_parser = jobs_commands.add_parser(
        "follow", parents=[where], help="show a job's log and progress until it ends "
        "(Ctrl-C stops following; the job goes on)")
    follow_parser.add_argument("job")
    follow_parser.add_argument("--json", action="store_true",
                               help="end standard output with one JSON line")
    follow_parser.set_defaults(handler=jobs.follow_job)
    download_parser = jobs_commands.add_parser(
        "download", parents=[where], help="save a finished job's archive zip")
    download_parser.add_argument("job")
    download_parser.add_argument("--outputs", action="store_true",
                                 help="only the outputs (output.zip)")
    download_parser.add_argument("-o", "--output", metavar="FILE", help="where to save it "
                                 "(default: ccp-JOB.zip, or JOB-output.zip with --outputs)")
    download_parser.set_defaults(handler=jobs.download_job)
    dismiss_parser = jobs_commands.add_parser("dismiss", parents=[where],
                                              help="dismiss a queued or running job")
    dismiss_parser.add_argument("job")
    dismiss_parser.set_defaults(handler=jobs.dismiss_job)

    storage_parser = commands.add_parser("storage", help="the archive store")
    storage_commands = storage_parser.add_subparsers(dest="storage_command", required=True)
    retry_parser = storage_commands.add_parser(
        "retry", help="upload archives that were kept on disk because the store was down")
    retry_parser.add_argument("--config")
    retry_parser.set_defaults(handler=local.retry_storage)

    export_parser = commands.add_parser("export", help="write an Execution archive to a zip")
    export_parser.add_argument("job")
    export_parser.add_argument("file")
    export_parser.add_argument("--config")
    export_parser.set_defaults(handler=local.export_job)

    import_parser = commands.add_parser("import", help="register an exported Execution archive")
    import_parser.add_argument("file")
    import_parser.add_argument("--config")
    import_parser.set_defaults(handler=local.import_job)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(os.environ.get("CCP_LOG_LEVEL"))
    try:
        return args.handler(args)
    except UsageError as err:
        parser.error(str(err))
    except ClientError as err:
        print(f"ccp: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ccp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_ERROR

