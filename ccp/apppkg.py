"""OGC Application Packages (OGC API - Processes Part 2, classes ogcapppkg and docker) as CCP
Methods, and back.

A package is `{"processDescription": {"process": <OGC process description>}, "executionUnit":
<unit>}`. CCP runs two kinds of execution unit:
- its own, `{"type": "ccp", "image": ..., "infrastructure": "<id>", "scripts": {"deploy":
  [...], "execute": [...], "undeploy": [...], "cancel": [...]}}`: the Method's runtime image,
  Infrastructure and lifecycle scripts (each member may instead be in the process
  description, as a Method file has them: additionalParameters, a compatibleWith link);
- a container image, as Part 2's docker class has it: `{"type": "docker" (or "oci"),
  "image": ..., "command": ...}`, run on a docker Infrastructure (the one named by
  "infrastructure", else the first of type docker). The command is the execute script, run
  by the image's /bin/sh: a string (shell form, a CCP template: `{{ name }}` is an input as
  one quoted word), or a list of arguments (exec form), each literal text or exactly one
  input, `"{{ name }}"`. Part 2's `config` (CPUs, memory) is not taken: the Infrastructure's
  limits apply.
A unit by reference, a CWL workflow or any other kind is refused with 415, saying which
kinds are supported. A body that is a Method itself (no executionUnit) deploys as before.
"""

from __future__ import annotations

import copy
import re
import shlex
from typing import Any

from ccp import errors
from ccp.model import Infrastructure, Method

MEDIA_TYPE = "application/ogcapppkg+json"
DOCKER_TYPES = ("docker", "oci")
DOCKER_INFRASTRUCTURES = ("docker", "swarm")
SUPPORTED = ("CCP runs execution units of type 'ccp' (a runtime image and lifecycle scripts) "
             "and 'docker' or 'oci' (a container image and a command), given inline")
INPUT_WORD = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
TEMPLATE_MARKS = ("{{", "{%", "{#")
MAX_IMAGE = 512


def is_package(body: Any) -> bool:
    return isinstance(body, dict) and ("processDescription" in body or "executionUnit" in body)


def method_document(body: dict[str, Any], infrastructures: dict[str, Infrastructure]
                    ) -> dict[str, Any]:
    """The Method descriptor a package describes (to validate as any Method); 415 for an
    execution unit CCP does not run, 400 for a package that is not one."""
    process = body.get("processDescription")
    if isinstance(process, dict) and isinstance(process.get("process"), dict):
        process = process["process"]
    if not isinstance(process, dict):
        raise errors.InvalidParameter("'processDescription' must be an object holding "
                                      "'process', the OGC process description")
    document = copy.deepcopy(process)
    unit = _the_unit(body.get("executionUnit"))
    if unit is None:
        return document  # the description is a whole Method
    kind = str(unit.get("type", "")).lower()
    if kind == "ccp":
        return _apply(document, unit.get("image"), unit.get("infrastructure"),
                      unit.get("scripts"))
    infrastructure = _docker_infrastructure(unit.get("infrastructure"), infrastructures)
    return _apply(document, _image(unit.get("image")), infrastructure,
                  {"execute": _command(unit.get("command"))}, image_fixed=True)


def _the_unit(unit: Any) -> dict[str, Any] | None:
    if unit is None:
        return None
    if isinstance(unit, list):
        if len(unit) != 1:
            raise errors.UnsupportedMediaType(f"{SUPPORTED}: one execution unit, not "
                                              f"{len(unit)}")
        unit = unit[0]
    if not isinstance(unit, dict):
        raise errors.UnsupportedMediaType(f"{SUPPORTED}; this one is not an object")
    if "href" in unit:
        raise errors.UnsupportedMediaType(f"{SUPPORTED}, not by reference ({_show(unit)})")
    if "value" in unit or "cwlVersion" in unit or "class" in unit:
        raise errors.UnsupportedMediaType(f"{SUPPORTED}; CWL and other workflow documents "
                                          "are not run here")
    kind = str(unit.get("type", "")).lower()
    if kind != "ccp" and kind not in DOCKER_TYPES:
        raise errors.UnsupportedMediaType(f"{SUPPORTED}, not {_show(unit.get('type'))}")
    return unit


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _image(image: Any) -> str:
    if not isinstance(image, str) or not image.strip() or len(image) > MAX_IMAGE or any(
            char.isspace() for char in image):
        raise errors.InvalidParameter("a docker execution unit needs 'image', a container "
                                      f"image reference (at most {MAX_IMAGE} characters)")
    return image


def _docker_infrastructure(wanted: Any, infrastructures: dict[str, Infrastructure]) -> str:
    if wanted is not None:
        found = infrastructures.get(str(wanted))
        if found is None or found.type not in DOCKER_INFRASTRUCTURES:
            raise errors.InvalidParameter(
                f"'infrastructure' {_show(wanted)} is not a docker or swarm Infrastructure "
                "of this server")
        return found.id
    candidates = sorted((i.id != "docker", i.id) for i in infrastructures.values()
                        if i.type == "docker")
    if not candidates:
        raise errors.Conflict("this server has no docker Infrastructure to run a container "
                              "image on", title="No docker Infrastructure")
    return candidates[0][1]


def _command(command: Any) -> str:
    if isinstance(command, str) and command.strip():
        return command
    if isinstance(command, list) and command and all(isinstance(arg, str) for arg in command):
        return " ".join(_argument(arg) for arg in command)
    raise errors.InvalidParameter("a docker execution unit needs 'command': a string (run by "
                                  "/bin/sh) or a list of arguments")


def _argument(arg: str) -> str:
    if match := INPUT_WORD.match(arg):
        return "{{ " + match.group(1) + " }}"
    if any(mark in arg for mark in TEMPLATE_MARKS):
        raise errors.InvalidParameter(
            "in a command list each argument is literal text or exactly one input, "
            f"\"{{{{ name }}}}\": {_show(arg)}; use the string form for more")
    return shlex.quote(arg)


def _apply(document: dict[str, Any], image: Any, infrastructure: Any, scripts: Any,
           image_fixed: bool = False) -> dict[str, Any]:
    """Put a unit's image, Infrastructure and scripts into the Method descriptor; a container
    unit fixes the image (ccpimage read-only), a ccp unit gives its default."""
    if image is not None:
        inputs = document.setdefault("inputs", {})
        if isinstance(inputs, dict):
            given = inputs.get("ccpimage")
            spec: dict[str, Any] = given if isinstance(given, dict) else {
                "title": "Runtime image", "minOccurs": 0, "maxOccurs": 1}
            schema: dict[str, Any] = spec["schema"] if isinstance(spec.get("schema"),
                                                                  dict) else {}
            spec["schema"] = {**schema, "type": "string", "default": image}
            if image_fixed:
                spec["schema"]["readOnly"] = True
            inputs["ccpimage"] = spec
    if infrastructure is not None:
        links = [link for link in document.get("links", []) if not (
            isinstance(link, dict) and link.get("rel") == "compatibleWith")] \
            if isinstance(document.get("links"), list) else []
        document["links"] = [*links, {"rel": "compatibleWith",
                                      "href": f"infrastructures/{infrastructure}"}]
    if scripts is not None:
        if not isinstance(scripts, dict):
            raise errors.InvalidParameter("'scripts' of a ccp execution unit must be an "
                                          "object: phase -> lines")
        additional = document.get("additionalParameters")
        kept = [p for p in additional.get("parameters", []) if not (
            isinstance(p, dict) and str(p.get("name", "")).endswith("-script"))] \
            if isinstance(additional, dict) and isinstance(additional.get("parameters"),
                                                           list) else []
        document["additionalParameters"] = {"parameters": [
            *kept, *({"name": f"{phase}-script", "value": lines}
                     for phase, lines in scripts.items())]}
    return document


def package_of(method: Method) -> dict[str, Any]:
    """The package that deploys this Method again: its description and a ccp unit."""
    process = method.to_dict()
    additional = process.pop("additionalParameters", {})
    others = [p for p in additional.get("parameters", []) if not (
        isinstance(p, dict) and str(p.get("name", "")).endswith("-script"))]
    if others:
        process["additionalParameters"] = {"parameters": others}
    process["links"] = [link for link in process.get("links", [])
                        if link.get("rel") != "compatibleWith"]
    return {
        "processDescription": {"process": process},
        "executionUnit": {"type": "ccp", "image": method.default_image,
                          "infrastructure": method.infrastructure_id,
                          "scripts": {phase: script.split("\n")
                                      for phase, script in method.scripts.items()}},
    }
