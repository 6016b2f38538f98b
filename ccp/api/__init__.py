"""The HTTP edge for OGC API - Processes (Part 1) and CCP's own routes, one module per kind
of resource. Each route asks the manager and maps nothing itself: domain errors are raised by
name and rendered once, in ccp.app."""

from __future__ import annotations

from flask import Blueprint

from ccp.api import (
    apidoc,
    downloads,
    infrastructures,
    jobcontrol,
    jobs,
    landing,
    metrics,
    outputfiles,
    part4,
    processes,
    results,
)

BLUEPRINTS: tuple[Blueprint, ...] = (landing.blueprint, apidoc.blueprint, apidoc.swagger_files,
                                     processes.blueprint, jobs.blueprint, results.blueprint,
                                     downloads.blueprint, infrastructures.blueprint,
                                     part4.blueprint, metrics.blueprint,
                                     outputfiles.blueprint, jobcontrol.blueprint)
