"""Admission: what an execution request must be, and what its requester may still run,
before it becomes a job record (CCPManager.submit stores it, Part 4 keeps it as `created`).

Every refusal is a typed error of ccp.errors: the edge renders it as a 4xx OGC exception.
"""

from __future__ import annotations

import uuid
from typing import Any

from ccp import callbacks, errors, references
from ccp import outputs as output_kinds
from ccp.auth import ANONYMOUS, Requester
from ccp.inputs import InputError, resolve_inputs
from ccp.jobcontrol import manifest
from ccp.jobstore import JobStore
from ccp.model import Method
from ccp.outbound import OutboundPolicy
from ccp.policy import RETRY_AFTER_SECONDS, Policy
from ccp.registry import Registry
from ccp.runtimes import RUNTIME_TYPES


class Admission:
    def __init__(self, registry: Registry, store: JobStore, policy: Policy,
                 outbound: OutboundPolicy, sources: references.Sources) -> None:
        self.registry = registry
        self.store = store
        self.policy = policy
        self.outbound = outbound
        self.sources = sources

    def prepare(self, process_id: str, request: Any, requester: Requester = ANONYMOUS,
                derived_from: str | None = None, method: Method | None = None,
                method_source: str | None = None) -> dict[str, Any]:
        """Validate an execution request for `requester`: the job record to store.

        `method_source` says where the Method came from: `file` (the operator's methods
        folder), `deployed` (through the API) or `archive` (an imported Execution).
        """
        method = method or self.registry.method(process_id)
        if method is None:
            raise errors.NoSuchProcess(process_id)
        if not isinstance(request, dict):
            raise errors.InvalidParameter("the execution request must be a JSON object")
        for key in ("inputs", "outputs"):
            if key in request and not isinstance(request[key], dict):
                raise errors.InvalidParameter(f"'{key}' must be an object keyed by {key[:-1]} id")
        if request.get("response", "raw") not in ("raw", "document"):
            raise errors.InvalidParameter("'response' must be 'raw' or 'document'")
        try:
            output_kinds.selection(method.raw, request)
        except output_kinds.OutputRequestError as err:
            raise errors.InvalidParameter(str(err), title="Invalid output request") from err
        infrastructure = self.registry.infrastructure_of(method)
        if infrastructure is None:
            raise errors.Conflict(
                f"method '{method.id}' needs infrastructure '{method.infrastructure_id}', "
                "which this server does not know", title="Method not executable")
        # Not this server's Method byte for byte: it runs as the one recorded with an
        # Execution (an archive's), under its own identity.
        method_source = method_source or self.registry.source_of(method) or "archive"
        if method_source != "file":
            self.policy.check_may_run_user_method(requester, infrastructure)
        try:
            given, by_reference = references.split(method.inputs, request.get("inputs"))
            inputs = resolve_inputs(method, given, infrastructure)
        except InputError as err:
            if err.code == "MissingParameterValue":
                raise errors.MissingParameter(str(err)) from err
            title = "Unknown input" if err.code == "NoApplicableCode" else None
            raise errors.InvalidParameter(str(err), title=title) from err
        manifest.check_replicas(infrastructure, inputs["ccpreplicas"])
        callbacks.check_subscriber(request, self.outbound)
        if by_reference and \
                "stage-inputs" not in RUNTIME_TYPES[infrastructure.type].load().capabilities:
            raise errors.InvalidParameter(f"infrastructure '{infrastructure.id}' cannot take "
                                          "inputs by reference (href)")
        by_reference = [self.sources.check(reference, requester) for reference in by_reference]
        return {
            "identifier": str(uuid.uuid4()), "process_id": method.id,
            "process_version": method.version, "infrastructure_id": infrastructure.id,
            "request": request, "inputs": inputs, "owner": requester.subject,
            "claims": requester.claims, "derived_from": derived_from,
            "method": method.to_dict(), "method_digest": method.digest,
            "method_source": method_source, "infrastructure": infrastructure.to_dict(),
            "input_references": [reference.to_dict() for reference in by_reference] or None,
        }

    def check_quota(self, requester: Requester, adding_bytes: int = 0) -> None:
        """Refuse what would take one user past their role's limits."""
        limits = self.policy.limits_of(requester)
        if limits.active_executions and \
                self.store.active_count(requester.subject) >= limits.active_executions:
            raise errors.TooManyJobs(
                f"you have {limits.active_executions} executions queued or running, the most "
                "your role may have: wait for some to finish, or dismiss some",
                retry_after=RETRY_AFTER_SECONDS)
        if limits.stored_bytes:
            stored = self.store.stored_bytes(requester.subject)
            if stored + adding_bytes > limits.stored_bytes:
                raise errors.StorageQuotaExceeded(
                    f"your stored archives take {stored} bytes"
                    + (f" and this one {adding_bytes} more" if adding_bytes else "")
                    + f", over your role's quota of {limits.stored_bytes} bytes: delete "
                    "finished jobs you no longer need (DELETE /jobs/{id})")
