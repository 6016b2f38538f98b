"""`ccp run METHOD -i name=value ...`: run one execution and watch it to its end."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ccp.cli.client import connect
from ccp.cli.follow import Terminal, summary, watch


class UsageError(ValueError):
    """A command line that cannot be run (exit code 2, as argparse's own errors)."""


def parse_inputs(items: list[str]) -> dict[str, Any]:
    """`name=value` pairs; a value that parses as JSON is taken as JSON, else as text."""
    inputs: dict[str, Any] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError(f"input {item!r} is not name=value")
        try:
            inputs[key] = json.loads(value)
        except json.JSONDecodeError:
            inputs[key] = value
    return inputs


def run(args: argparse.Namespace) -> int:
    inputs = parse_inputs(args.input or [])
    # With --json, standard output carries only the final JSON line; the rest goes to stderr.
    terminal = Terminal.choose(sys.stderr if args.json else sys.stdout)
    with connect(args.server, args.token, args.config, workers=True) as client:
        job = client.submit(args.method, inputs)
        terminal.line(f"job {job['jobID']} submitted: {args.method} on {client.where}", "dim")
        job = watch(client, job["jobID"], terminal, dismiss_on_interrupt=True)
        document = summary(client, job, terminal)
    if args.json:
        print(json.dumps(document), flush=True)
    return document["exitCode"]
