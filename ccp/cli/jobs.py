"""`ccp jobs list|follow|download|dismiss`: the jobs of a CCP server, or of this machine's
data dir when no `--server` is given."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ccp.cli.client import connect
from ccp.cli.follow import EXIT_CODES, Terminal, printable, summary, watch

COLUMNS = (("JOB", "jobID"), ("PROCESS", "processID"), ("STATUS", "status"),
           ("PROGRESS", "progress"), ("CREATED", "created"), ("MESSAGE", "message"))
STATUS_STYLES = {"successful": "green", "failed": "red", "dismissed": "yellow",
                 "running": "cyan", "accepted": "blue", "created": "magenta"}


def list_jobs(args: argparse.Namespace) -> int:
    with connect(args.server, args.token, args.config) as client:
        jobs, total = client.jobs(args.status, args.process, args.limit)
    if args.json:
        print(json.dumps({"jobs": jobs, "numberMatched": total}))
        return 0
    rows = [[printable(_cell(job, key)) for _title, key in COLUMNS] for job in jobs]
    terminal = Terminal.choose(sys.stdout)
    if terminal.live:
        from rich.table import Table

        table = Table(*(title for title, _key in COLUMNS),
                      caption=f"{len(jobs)} of {total} job(s)")
        for row in rows:
            table.add_row(*row, style=STATUS_STYLES.get(row[2], ""))
        terminal.console.print(table)
    else:
        widths = [max([len(title)] + [len(row[i]) for row in rows])
                  for i, (title, _key) in enumerate(COLUMNS)]
        for row in [[title for title, _key in COLUMNS], *rows]:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print("  ".join(cells).rstrip())
        print(f"{len(jobs)} of {total} job(s)")
    return 0


def _cell(job: dict[str, Any], key: str) -> str:
    value = job.get(key)
    if key == "progress":
        return f"{value or 0}%"
    if key == "created" and value:
        return str(value)[:19].replace("T", " ")
    return "" if value is None else str(value)


def follow_job(args: argparse.Namespace) -> int:
    terminal = Terminal.choose(sys.stderr if args.json else sys.stdout)
    with connect(args.server, args.token, args.config) as client:
        # Ctrl-C stops watching; the job goes on (`ccp jobs dismiss` ends it).
        job = watch(client, args.job, terminal, dismiss_on_interrupt=False)
        document = summary(client, job, terminal)
    if args.json:
        print(json.dumps(document), flush=True)
    return document["exitCode"]


def download_job(args: argparse.Namespace) -> int:
    default = f"{args.job}-output.zip" if args.outputs else f"ccp-{args.job}.zip"
    target = Path(args.output or default)
    with connect(args.server, args.token, args.config) as client:
        size = client.download(args.job, args.outputs, target)
    print(f"wrote {target} ({size} bytes)")
    return 0


def dismiss_job(args: argparse.Namespace) -> int:
    with connect(args.server, args.token, args.config) as client:
        job = client.dismiss(args.job)
    print(f"job {job['jobID']} {job['status']}: {printable(job.get('message') or '')}")
    if job["status"] in ("successful", "failed"):
        print(f"it had already ended: nothing to dismiss (exit code {EXIT_CODES['failed']})")
        return EXIT_CODES["failed"]
    return 0
