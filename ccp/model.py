"""Method and Infrastructure descriptors: parsed, validated, immutable.

A Method is an OGC process description plus CCP's lifecycle scripts and a link to the
Infrastructure it runs on. Validation collects every problem it finds, so a user fixing a
file sees all of them at once.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ccp import outputs as output_kinds
from ccp import safejson, templating
from ccp.inputs import InputError, check_value
from ccp.runtimes import RUNTIME_TYPES
from ccp.runtimes.settings import Settings, parse_settings

PHASES = ("Launch", "Deploy", "Execute", "Fetch", "Undeploy", "Destroy")
SCRIPT_PHASES = ("deploy", "execute", "undeploy", "cancel")
INFRASTRUCTURE_TYPES = tuple(RUNTIME_TYPES)
CONTROL_INPUTS = ("ccpimage", "ccpmaxtime", "ccpreplicas")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RESERVED_OUTPUT_IDS = ("links",)
EXECUTION_MODES = ("sync-execute", "async-execute")
JOB_CONTROL_OPTIONS = (*EXECUTION_MODES, "dismiss")
DEFAULT_JOB_CONTROL = ["async-execute"]
# 1, 1.2, 1.2.3, 1.2.3.4, each optionally with -pre.release and/or +build: semver and kin.
VERSION_PATTERN = re.compile(
    r"^[0-9]{1,9}(\.[0-9]{1,9}){0,3}(-[0-9A-Za-z.-]{1,40})?(\+[0-9A-Za-z.-]{1,40})?$")
ROLES = ("anonymous", "user", "admin")
# Who may run Methods that users deployed or imported, by Infrastructure type, unless the
# descriptor says otherwise in "access": {"deployedMethods": [...]}. `local` isolates too
# little to run a plain user's own code.
DEFAULT_DEPLOYED_METHOD_ROLES = {"local": ("anonymous", "admin")}

CCPMAXTIME_INPUT = {
    "title": "Maximum execution time",
    "description": "Seconds before the execution is stopped and failed; "
    "capped by the Infrastructure's maximum.",
    # OpenAPI 3.0 (what OGC API - Processes 1.0 descriptions use): a boolean exclusiveMinimum
    "schema": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
    "minOccurs": 0,
    "maxOccurs": 1,
}
CCPREPLICAS_INPUT = {
    "title": "Replicas",
    "description": "Parallel replicas of the runtime (Swarm); each gets ccptaskid 1..N.",
    "schema": {"type": "integer", "minimum": 1, "default": 1},
    "minOccurs": 0,
    "maxOccurs": 1,
}


class DescriptorError(ValueError):
    """A Method or Infrastructure descriptor is invalid; `problems` lists every reason."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(problems))


@dataclass(frozen=True)
class Infrastructure:
    id: str
    name: str
    description: str
    type: str
    settings: Settings = field(default_factory=Settings)  # of the type's settings class
    raw: dict[str, Any] = field(default_factory=dict)
    deployed_method_roles: tuple[str, ...] = ROLES

    @property
    def max_time(self) -> int:
        return self.settings.max_time

    @property
    def max_replicas(self) -> int:
        return self.settings.max_replicas

    @property
    def memory_bytes(self) -> int | None:
        return self.settings.memory

    @property
    def cpus(self) -> float | None:
        return self.settings.cpus

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> Infrastructure:
        problems: list[str] = []
        if not isinstance(data, dict):
            raise DescriptorError(["the descriptor must be a JSON object"], source)
        for key in ("id", "name", "type"):
            if not isinstance(data.get(key), str) or not data.get(key):
                problems.append(f"'{key}' is required and must be a non-empty string")
        if isinstance(data.get("id"), str) and not ID_PATTERN.match(data["id"]):
            problems.append(f"'id' {data['id']!r} may only hold letters, digits, '.', '_', '-'")
        type_name = data.get("type") if isinstance(data.get("type"), str) else None
        runtime_type = RUNTIME_TYPES.get(type_name or "")
        if type_name and runtime_type is None:
            problems.append(f"'type' {type_name!r} is not one of {', '.join(INFRASTRUCTURE_TYPES)}")
        raw_settings = data.get("settings", {})
        if not isinstance(raw_settings, dict):
            problems.append("'settings' must be an object")
            raw_settings = {}
        # An unknown type: check the settings every type has, say nothing of the others.
        settings, settings_problems = parse_settings(
            runtime_type.settings if runtime_type else Settings, raw_settings,
            type_name or "", report_unknown=runtime_type is not None)
        problems += settings_problems
        roles, access_problems = _read_access(data)
        problems += access_problems
        if problems:
            raise DescriptorError(problems, source)
        return cls(
            id=data["id"],
            name=data["name"],
            description=data.get("description", ""),
            type=data["type"],
            settings=settings,
            raw=copy.deepcopy(data),
            deployed_method_roles=roles or DEFAULT_DEPLOYED_METHOD_ROLES.get(
                data["type"], ROLES),
        )


def _read_access(data: dict) -> tuple[tuple[str, ...], list[str]]:
    """The roles whose deployed or imported Methods may run here (the deploy policy)."""
    access = data.get("access")
    if access is None:
        return (), []
    roles = access.get("deployedMethods") if isinstance(access, dict) else None
    if not isinstance(roles, list) or not all(role in ROLES for role in roles):
        return (), [f"'access.deployedMethods' must be a list of roles ({', '.join(ROLES)})"]
    return tuple(roles), []


@dataclass(frozen=True)
class Method:
    id: str
    version: str
    title: str
    infrastructure_id: str
    scripts: dict[str, str]
    raw: dict[str, Any]

    @property
    def inputs(self) -> dict[str, dict]:
        return self.raw.get("inputs", {})

    @property
    def outputs(self) -> dict[str, dict]:
        return self.raw.get("outputs", {})

    @property
    def execution_modes(self) -> tuple[str, ...]:
        """How the Method may run: sync-execute and/or async-execute."""
        return tuple(option for option in self.raw.get("jobControlOptions", DEFAULT_JOB_CONTROL)
                     if option in EXECUTION_MODES)

    @property
    def default_image(self) -> str | None:
        return self.inputs["ccpimage"].get("schema", {}).get("default")

    @property
    def deterministic(self) -> bool:
        """The same inputs on the same image always give the same outputs: an identical
        earlier Execution may stand in for a new one (ccp/cache.py)."""
        return self.raw.get("deterministic") is True

    @functools.cached_property
    def digest(self) -> str:
        """`sha256:<hex>` of the canonical JSON of the Method: its identity by content
        (worked out once: a Method does not change)."""
        return method_digest(self.raw)

    def sample_inputs(self) -> dict[str, Any]:
        """A value for every input (its default, or a plain one of its type), to try the
        templates with at deploy time."""
        samples = {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": [],
                   "object": {}}
        values = {}
        for name, spec in self.inputs.items():
            schema = spec.get("schema", {})
            if "default" in schema:
                values[name] = copy.deepcopy(schema["default"])
            elif schema.get("enum"):
                values[name] = schema["enum"][0]
            else:
                values[name] = samples.get(schema.get("type", "string"), "x")
        values.setdefault("ccpmaxtime", 1)
        values.setdefault("ccpreplicas", 1)
        return values

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)

    def default_inputs(self) -> dict[str, Any]:
        """Inputs an execution form would start from: every declared default."""
        return {
            name: spec["schema"]["default"]
            for name, spec in self.inputs.items()
            if "default" in spec.get("schema", {})
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> Method:
        problems: list[str] = []
        if not isinstance(data, dict):
            raise DescriptorError(["the descriptor must be a JSON object"], source)
        data = copy.deepcopy(data)
        method_id = data.get("id")
        if not isinstance(method_id, str) or not ID_PATTERN.match(method_id):
            problems.append("'id' is required: letters, digits, '.', '_', '-' (max 128)")
        for key in ("title", "version"):
            if not isinstance(data.get(key), str) or not data.get(key):
                problems.append(f"'{key}' is required and must be a non-empty string")
        if isinstance(data.get("version"), str) and data["version"] and not \
                VERSION_PATTERN.match(data["version"]):
            problems.append(f"'version' {data['version'][:80]!r} is not a version: use numbers "
                            "with dots, e.g. 1.0.0 or 2.1.0-beta.1")
        try:
            safejson.check(data)
        except safejson.JSONRejected as err:
            problems.append(str(err))
        if "description" in data and not isinstance(data["description"], str):
            problems.append("'description' must be a string")
        if "keywords" in data and not (
            isinstance(data["keywords"], list) and all(isinstance(k, str) for k in data["keywords"])
        ):
            problems.append("'keywords' must be a list of strings")
        if data.get("visibility", "private") not in ("private", "shared"):
            problems.append("'visibility' must be 'private' (owner only) or 'shared' (context)")
        if not isinstance(data.get("deterministic", False), bool):
            problems.append("'deterministic' must be true (the same inputs and image always "
                            "give the same outputs: results may be served from the cache) "
                            "or false")
        problems += _check_inputs(data)
        problems += _check_outputs(data)
        problems += _check_job_control(data)
        scripts, script_problems = _read_scripts(data)
        problems += script_problems
        infrastructure_id, link_problems = _read_infrastructure_link(data)
        problems += link_problems
        if problems:
            raise DescriptorError(problems, source)

        for link in data.get("links", []):
            link.setdefault("type", "application/json")  # pygeoapi's OpenAPI reads it
        data["jobControlOptions"] = list(dict.fromkeys(
            data.get("jobControlOptions") or DEFAULT_JOB_CONTROL))
        data["outputTransmission"] = ["value", "reference"]
        data["inputs"].setdefault("ccpmaxtime", copy.deepcopy(CCPMAXTIME_INPUT))
        data["inputs"].setdefault("ccpreplicas", copy.deepcopy(CCPREPLICAS_INPUT))
        return cls(
            id=method_id,
            version=data["version"],
            title=data["title"],
            infrastructure_id=infrastructure_id,
            scripts=scripts,
            raw=data,
        )


def _check_inputs(data: dict) -> list[str]:
    problems = []
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        return ["'inputs' is required and must be an object keyed by input id"]
    for name, spec in inputs.items():
        where = f"input '{name}'"
        if not ID_PATTERN.match(name) or not name.isidentifier():
            problems.append(f"{where}: the id must be a valid identifier (letters, digits, '_')")
        if not isinstance(spec, dict):
            problems.append(f"{where} must be an object")
            continue
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            problems.append(f"{where}: 'schema' is required and must be an object")
            continue
        for occurs in ("minOccurs", "maxOccurs"):
            value = spec.get(occurs)
            if value is not None and value != "unbounded" and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                problems.append(f"{where}: '{occurs}' must be a non-negative integer")
        if "default" in schema:
            try:
                check_value(name, spec, schema["default"])
            except InputError as err:
                problems.append(f"{where}: the default does not match the schema ({err})")
    image = inputs.get("ccpimage")
    if not isinstance(image, dict):
        problems.append("input 'ccpimage' is required (the runtime image)")
    elif isinstance(image.get("schema"), dict):
        schema = image["schema"]
        if schema.get("type") != "string":
            problems.append("input 'ccpimage' must have schema type 'string'")
        if not isinstance(schema.get("default"), str) or not schema.get("default"):
            problems.append("input 'ccpimage' must have a default image in its schema")
    return problems


def _check_outputs(data: dict) -> list[str]:
    outputs = data.get("outputs", {})
    if not isinstance(outputs, dict):
        return ["'outputs' must be an object keyed by output id"]
    problems = []
    for name, spec in outputs.items():
        if name in RESERVED_OUTPUT_IDS:
            problems.append(f"output id '{name}' is reserved")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            problems.append(f"output '{name}' must be an object with a 'schema' object")
            continue
        problems += output_kinds.check_descriptor(name, spec)
    return problems


def _check_job_control(data: dict) -> list[str]:
    """Authors declare how a Method may run: sync-execute and/or async-execute (default
    async-execute only)."""
    options = data.get("jobControlOptions")
    if options is None:
        return []
    if not isinstance(options, list) or not options or not all(
            option in JOB_CONTROL_OPTIONS for option in options):
        return [f"'jobControlOptions' must be a list of {', '.join(JOB_CONTROL_OPTIONS)}"]
    if not any(option in EXECUTION_MODES for option in options):
        return ["'jobControlOptions' must hold sync-execute, async-execute or both"]
    return []


def _read_scripts(data: dict) -> tuple[dict[str, str], list[str]]:
    problems: list[str] = []
    scripts: dict[str, str] = {}
    inputs = data.get("inputs")
    input_names = {*(inputs if isinstance(inputs, dict) else {}), *CONTROL_INPUTS}
    additional = data.get("additionalParameters")
    if not isinstance(additional, dict) or not isinstance(additional.get("parameters"), list):
        return scripts, ["'additionalParameters.parameters' is required (the lifecycle scripts)"]
    for parameter in additional["parameters"]:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            problems.append("each additionalParameters entry needs a 'name'")
            continue
        name = parameter["name"]
        if not name.endswith("-script"):
            continue
        phase = name[: -len("-script")]
        if phase not in SCRIPT_PHASES:
            problems.append(f"'{name}' is not a lifecycle script ({', '.join(SCRIPT_PHASES)})")
            continue
        value = parameter.get("value")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
            problems.append(f"'{name}' value must be a list of strings (script lines)")
            continue
        script = "\n".join(value)
        template_problems = templating.check(script, input_names)
        if template_problems:
            problems += [f"'{name}' is not a valid template: {problem}"
                         for problem in template_problems]
            continue
        scripts[phase] = script
    if "execute" not in scripts and not any("execute" in p for p in problems):
        problems.append("'execute-script' is required")
    return scripts, problems


def _read_infrastructure_link(data: dict) -> tuple[str, list[str]]:
    for link in data.get("links", []) if isinstance(data.get("links"), list) else []:
        if isinstance(link, dict) and link.get("rel") == "compatibleWith":
            href = str(link.get("href", ""))
            infrastructure_id = href.rstrip("/").rsplit("/", 1)[-1]
            if infrastructure_id:
                return infrastructure_id, []
    return "", ["a link with rel 'compatibleWith' to 'infrastructures/<id>' is required"]


def method_digest(document: dict[str, Any]) -> str:
    canonical = safejson.dumps_canonical(document).encode("utf-8")
    return f"sha256:{hashlib.sha256(canonical).hexdigest()}"


def unsafe_scripts(method: Method, limits: templating.Limits = templating.DEFAULT_LIMITS
                   ) -> list[str]:
    """Render the scripts with the Method's own defaults (or plain sample values) in the
    sandbox: what the sandbox refuses or what breaks a limit is a problem. Errors that a
    made-up sample value may cause are not: only safety is judged here."""
    try:
        templating.render_all(method.scripts, method.sample_inputs(), limits)
    except templating.RenderRefused as err:
        return [f"the scripts cannot be rendered safely: {err}"]
    except templating.RenderError:
        pass
    return []
