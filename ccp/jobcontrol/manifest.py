"""What an Infrastructure offers: its manifest of features, from its runtime and settings.

A client (the web UI, the code stubs, the QGIS plugin) offers a feature only when the
manifest says true; the server refuses an absent one with 409 (`FeatureUnavailable`). Every
feature is named, true or false, so a client sees what is missing as well as what is there.
"""

from __future__ import annotations

from typing import Any

from ccp import errors
from ccp.model import Infrastructure
from ccp.runtimes import RUNTIME_TYPES

FEATURES: dict[str, str] = {
    "dismiss": "dismiss a queued or running execution (DELETE /jobs/{id})",
    "logs": "log lines while it runs (GET /jobs/{id}/logs)",
    "suspend": "suspend and resume a running execution; its time limit stands still",
    "extend": "extend a running execution's time limit, up to maxTime in all",
    "replicas": "more than one replica per execution (ccpreplicas)",
    "memoryLimit": "a memory limit on every execution",
    "cpuLimit": "a CPU limit on every execution",
    "healthChecks": "scheduled checks that the engine answers",
    "healthProbe": "scheduled probe runs of a tiny instance",
    "verify": "compare what runs on the engine with the job store",
}


def capabilities_of(infrastructure: Infrastructure) -> frozenset[str]:
    return RUNTIME_TYPES[infrastructure.type].load().capabilities


def features(infrastructure: Infrastructure) -> dict[str, bool]:
    capabilities = capabilities_of(infrastructure)
    settings = infrastructure.settings
    return {
        "dismiss": True,
        "logs": True,
        "suspend": "suspend" in capabilities and settings.max_suspend > 0,
        "extend": settings.extend,
        "replicas": "replicas" in capabilities and settings.max_replicas > 1,
        "memoryLimit": "memory-limit" in capabilities and settings.memory is not None,
        "cpuLimit": "cpu-limit" in capabilities and settings.cpus is not None,
        "healthChecks": True,
        "healthProbe": "health-probe" in capabilities and settings.probe_image is not None,
        "verify": "verify" in capabilities,
    }


def manifest(infrastructure: Infrastructure) -> dict[str, Any]:
    """`features` and the `limits` that go with them."""
    offered = features(infrastructure)
    settings = infrastructure.settings
    return {
        "features": offered,
        "limits": {
            "maxTime": settings.max_time,
            "maxReplicas": settings.max_replicas if offered["replicas"] else 1,
            "maxSuspendSeconds": settings.max_suspend if offered["suspend"] else 0,
            "memoryBytes": settings.memory if offered["memoryLimit"] else None,
            "cpus": settings.cpus if offered["cpuLimit"] else None,
        },
    }


def require(infrastructure: Infrastructure, feature: str) -> None:
    """Refuse with 409 what the Infrastructure does not offer."""
    if not features(infrastructure)[feature]:
        offered = sorted(name for name, on in features(infrastructure).items() if on)
        raise errors.FeatureUnavailable(
            f"infrastructure '{infrastructure.id}' does not offer '{feature}' "
            f"({FEATURES[feature]}); its manifest (GET /infrastructures/{infrastructure.id}) "
            f"offers: {', '.join(offered)}", feature)


def check_replicas(infrastructure: Infrastructure, replicas: int) -> None:
    """Refuse more replicas than the Infrastructure offers (its runtime may run one only,
    whatever maxReplicas says)."""
    most = manifest(infrastructure)["limits"]["maxReplicas"]
    if replicas > most:
        raise errors.InvalidParameter(
            f"'ccpreplicas' {replicas} exceeds the {most} replica(s) infrastructure "
            f"'{infrastructure.id}' runs (its manifest: GET /infrastructures/"
            f"{infrastructure.id})")


def job_control(infrastructure: Infrastructure | None) -> tuple[str, ...]:
    """What a client (a code stub, say) may do to a running job on this Infrastructure."""
    if infrastructure is None:
        return ()
    offered = features(infrastructure)
    return (("suspend", "resume") if offered["suspend"] else ()) + (
        ("extend",) if offered["extend"] else ())
