"""What a Method's Infrastructure offers (its manifest: GET /infrastructures/{id} `features`
and `limits`), as the plugin uses it: offer only that.

A server without manifests (older CCP) gives None: then everything is offered, as before.
"""

from __future__ import annotations

import copy
import html
from typing import Any

JOB_CONTROL = ("suspend", "extend")


def offered(manifest: dict[str, Any] | None, feature: str) -> bool:
    if manifest is None or not isinstance(manifest.get("features"), dict):
        return True
    return bool(manifest["features"].get(feature, False))


def control_input(input_id: str, spec: dict[str, Any],
                  manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The spec of a CCP control input bounded by the manifest; None: not offered."""
    limits = (manifest or {}).get("limits") or {}
    if input_id == "ccpreplicas":
        if not offered(manifest, "replicas"):
            return None  # the server's default: one replica
        return _with_maximum(spec, limits.get("maxReplicas"))
    if input_id == "ccpmaxtime":
        return _with_maximum(spec, limits.get("maxTime"))
    return spec


def _with_maximum(spec: dict[str, Any], maximum: Any) -> dict[str, Any]:
    if not isinstance(maximum, (int, float)) or isinstance(maximum, bool):
        return spec
    bounded = copy.deepcopy(spec)
    schema = bounded.setdefault("schema", {})
    if isinstance(schema, dict):
        schema["maximum"] = min(maximum, schema.get("maximum", maximum))
    return bounded


def job_control_help(manifest: dict[str, Any] | None, infrastructure: str) -> str:
    """One paragraph of help on what can be done to a running job, if anything."""
    if manifest is None:
        return ""
    actions = [name for name in JOB_CONTROL if offered(manifest, name)]
    if not actions:
        return ""
    words = {"suspend": "suspended and resumed (its time limit stands still meanwhile)",
             "extend": "given more time (up to "
                       f"{(manifest.get('limits') or {}).get('maxTime', '?')} s in all)"}
    return (f"<p>On <i>{html.escape(infrastructure)}</i> a running job can be "
            + " or ".join(words[name] for name in actions)
            + ": in its web page, whose address the log shows.</p>")
