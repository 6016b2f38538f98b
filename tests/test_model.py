"""Method and Infrastructure validation: every problem named, nothing crashes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ccp.inputs import InputError, resolve_inputs
from ccp.model import DescriptorError, Infrastructure, Method
from ccp.registry import Registry

REPO = Path(__file__).resolve().parent.parent
HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())
LOCAL = Infrastructure.from_dict(json.loads((REPO / "infrastructures" / "local.json").read_text()))


def problems_of(data: dict) -> list[str]:
    with pytest.raises(DescriptorError) as caught:
        Method.from_dict(data)
    return caught.value.problems


def test_example_method_is_valid_and_gets_control_inputs() -> None:
    method = Method.from_dict(HELLO)
    assert method.id == "hello-world"
    assert method.raw["jobControlOptions"] == ["sync-execute", "async-execute"]
    assert method.execution_modes == ("sync-execute", "async-execute")
    left_out = copy.deepcopy(HELLO)
    del left_out["jobControlOptions"]
    assert Method.from_dict(left_out).raw["jobControlOptions"] == ["async-execute"]
    assert {"ccpimage", "ccpmaxtime", "ccpreplicas"} <= set(method.inputs)
    assert method.infrastructure_id == "local"
    assert set(method.scripts) == {"deploy", "execute", "undeploy", "cancel"}


def test_missing_ccpimage_is_named() -> None:
    data = copy.deepcopy(HELLO)
    del data["inputs"]["ccpimage"]
    assert "input 'ccpimage' is required (the runtime image)" in problems_of(data)


def test_bad_template_syntax_names_script_and_line() -> None:
    data = copy.deepcopy(HELLO)
    data["additionalParameters"]["parameters"][1]["value"] = ["echo ok", "echo {{ name "]
    problems = problems_of(data)
    assert any("'execute-script' is not a valid template: line 2" in p for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    data = copy.deepcopy(HELLO)
    del data["title"]
    data["links"] = []
    data["inputs"]["name"]["schema"]["default"] = 5
    problems = problems_of(data)
    assert any("'title'" in p for p in problems)
    assert any("compatibleWith" in p for p in problems)
    assert any("input 'name'" in p and "default" in p for p in problems)


def test_missing_execute_script() -> None:
    data = copy.deepcopy(HELLO)
    data["additionalParameters"]["parameters"] = [
        p for p in data["additionalParameters"]["parameters"] if p["name"] != "execute-script"]
    assert "'execute-script' is required" in problems_of(data)


def test_infrastructure_validation() -> None:
    with pytest.raises(DescriptorError) as caught:
        Infrastructure.from_dict({"id": "x", "name": "X", "type": "kubernetes",
                                  "settings": {"maxTime": -1, "memory": "lots"}})
    text = "; ".join(caught.value.problems)
    assert "'type' 'kubernetes' is not one of" in text
    assert "settings.maxTime" in text
    assert "settings.memory" in text


@pytest.mark.parametrize("inputs, message", [
    ({"nme": "x"}, "unknown input(s): nme"),
    ({"name": 5}, "input 'name' must be of type string"),
    ({"ccpmaxtime": 0}, "ccpmaxtime"),
    ({"ccpmaxtime": "ten"}, "ccpmaxtime"),
    ({"ccpimage": "other:1"}, "read-only"),
    ({"ccpreplicas": 3}, "exceeds the maximum of 1"),
])
def test_resolve_inputs_rejects(inputs: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs(Method.from_dict(HELLO), inputs, LOCAL)
    assert message in str(caught.value)


def test_resolve_inputs_defaults_and_caps_maxtime() -> None:
    resolved = resolve_inputs(Method.from_dict(HELLO), {"ccpmaxtime": 10**9}, LOCAL)
    assert resolved["name"] == "World"
    assert resolved["ccpimage"] == "ccp/busybox:1"
    assert resolved["ccpmaxtime"] == LOCAL.max_time
    assert resolved["ccpreplicas"] == 1


def test_registry_skips_invalid_files_and_names_them(tmp_path: Path) -> None:
    methods = tmp_path / "methods"
    methods.mkdir()
    (methods / "good.json").write_text(json.dumps(HELLO))
    (methods / "broken.json").write_text("{ not json")
    bad = copy.deepcopy(HELLO)
    bad["id"] = "bad"
    del bad["inputs"]["ccpimage"]
    (methods / "bad.json").write_text(json.dumps(bad))
    registry = Registry.from_directories(methods, REPO / "infrastructures")
    assert list(registry.methods) == ["hello-world"]
    reported = {Path(p.file).name: " ".join(p.problems) for p in registry.problems}
    assert "invalid JSON at line 1" in reported["broken.json"]
    assert "ccpimage" in reported["bad.json"]
