"""Operator commands on this machine's files: `ccp method validate`, `ccp export`,
`ccp import`, `ccp storage retry`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def validate_method(args: argparse.Namespace) -> int:
    from ccp.model import DescriptorError, unsafe_scripts
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


def _manager(config_path: str | None):
    from ccp.app import load_config
    from ccp.manager import CCPManager

    config = load_config(config_path)
    return CCPManager({**config["server"]["manager"], "processes": {}})


def retry_storage(args: argparse.Namespace) -> int:
    stored = _manager(args.config).recovery.retry_storage()
    for job_id in stored:
        print(f"stored the archive of {job_id}")
    print(f"{len(stored)} archive(s) stored")
    return 0


def export_job(args: argparse.Namespace) -> int:
    manager = _manager(args.config)
    try:
        job = manager.get_job(args.job)
    except Exception:
        print(f"there is no job {args.job!r}", file=sys.stderr)
        return 1
    if not job.stored:
        print(f"job {args.job} has no stored archive ({job.status}: {job.message})",
              file=sys.stderr)
        return 1
    with open(args.file, "wb") as target:
        for chunk in manager.archives.stream_zip(args.job):
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
