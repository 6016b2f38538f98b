"""OGC API - Processes - Part 1: Core 1.0, conformance class `ogc-process-description`
(/conf/ogc-process-description/...), against a live server, with every process it lists:
the example Methods, the control inputs CCP adds (ccpimage, ccpmaxtime, ccpreplicas) and a
deployed Method with mixed-type inputs and outputs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests
from conftest import REPO, ServerProcess
from ogc import (
    INPUT_DESCRIPTION,
    OUTPUT_DESCRIPTION,
    PROCESS,
    SCHEMA_OBJECT,
    get,
    live_server,  # noqa: F401  (the `live` fixture)
    validate,
)

MIXED = "ogc-mixed-types"


@pytest.fixture(scope="module")
def descriptions(live: ServerProcess) -> dict[str, dict[str, Any]]:
    """Every process description the server has, a Method with oneOf inputs deployed first."""
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method = copy.deepcopy(method)
    method["id"] = MIXED
    method["inputs"]["size"] = {
        "title": "A number or a word", "minOccurs": 0,
        "schema": {"oneOf": [{"type": "number", "minimum": 0},
                             {"type": "string", "enum": ["small", "large"]}]}}
    method["outputs"]["report"] = {
        "title": "A report as text or as JSON",
        "schema": {"oneOf": [{"type": "string", "contentMediaType": "text/plain"},
                             {"type": "object", "contentMediaType": "application/json"}]}}
    response = requests.post(f"{live.url}/processes", json=method, timeout=30)
    assert response.status_code == 201, response.text
    ids = [summary["id"] for summary in get(live, "/processes").json()["processes"]]
    assert MIXED in ids and len(ids) > 5
    return {process_id: get(live, f"/processes/{process_id}").json() for process_id in ids}


def test_conformance_process_description_json_encoding(descriptions: dict[str, Any]) -> None:
    """/conf/ogc-process-description/json-encoding: every JSON process description validates
    against process.yaml."""
    for process_id, description in descriptions.items():
        try:
            validate(description, PROCESS)
        except AssertionError as err:
            raise AssertionError(f"{process_id}: {err}") from None


def test_conformance_process_description_inputs(descriptions: dict[str, Any]) -> None:
    """/conf/ogc-process-description/inputs-def, /conf/ogc-process-description/input-def:
    every input is listed under `inputs` keyed by its identifier, validates against
    inputDescription.yaml, and its `schema` is a schema.yaml fragment (OpenAPI 3.0 Schema
    Object: e.g. exclusiveMinimum is a boolean beside minimum)."""
    for process_id, description in descriptions.items():
        assert isinstance(description["inputs"], dict)
        assert {"ccpimage", "ccpmaxtime", "ccpreplicas"} <= set(description["inputs"])
        for input_id, spec in description["inputs"].items():
            try:
                validate(spec, INPUT_DESCRIPTION)
                validate(spec["schema"], SCHEMA_OBJECT)
            except AssertionError as err:
                raise AssertionError(f"{process_id} input {input_id}: {err}") from None
    ccpmaxtime = descriptions["hello-world"]["inputs"]["ccpmaxtime"]["schema"]
    assert ccpmaxtime["minimum"] == 0 and ccpmaxtime["exclusiveMinimum"] is True


def test_conformance_process_description_outputs(descriptions: dict[str, Any]) -> None:
    """/conf/ogc-process-description/outputs-def, /conf/ogc-process-description/output-def:
    every output is listed under `outputs` keyed by its identifier, validates against
    outputDescription.yaml, and its `schema` is a schema.yaml fragment."""
    for process_id, description in descriptions.items():
        assert isinstance(description["outputs"], dict)
        for output_id, spec in description["outputs"].items():
            try:
                validate(spec, OUTPUT_DESCRIPTION)
                validate(spec["schema"], SCHEMA_OBJECT)
            except AssertionError as err:
                raise AssertionError(f"{process_id} output {output_id}: {err}") from None


def test_conformance_process_description_mixed_types(descriptions: dict[str, Any]) -> None:
    """/conf/ogc-process-description/input-mixed-type,
    /conf/ogc-process-description/output-mixed-type: an input or output of mixed type is a
    `oneOf` whose sub-schemas are each schema.yaml fragments, the first being the default
    format; the description keeps them as deployed and in order."""
    mixed = descriptions[MIXED]
    size = mixed["inputs"]["size"]["schema"]["oneOf"]
    report = mixed["outputs"]["report"]["schema"]["oneOf"]
    assert [schema["type"] for schema in size] == ["number", "string"]
    assert [schema["type"] for schema in report] == ["string", "object"]
    for schema in size + report:
        validate(schema, SCHEMA_OBJECT)
