"""Methods and Infrastructures known to the server.

Files in `methods/` and `infrastructures/` are read at start-up; each invalid file is reported
with its name and every problem, and skipped: one bad file never stops the server.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccp.model import DescriptorError, Infrastructure, Method

LOGGER = logging.getLogger(__name__)


@dataclass
class Problem:
    file: str
    problems: list[str]

    def __str__(self) -> str:
        return f"{self.file}: " + "; ".join(self.problems)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DescriptorError([f"invalid JSON at line {err.lineno} column {err.colno}: "
                               f"{err.msg}"], str(path)) from err
    except (OSError, UnicodeDecodeError) as err:
        raise DescriptorError([f"cannot read the file: {err}"], str(path)) from err


def load_method_file(path: Path) -> Method:
    return Method.from_dict(read_json(path), str(path))


def load_infrastructure_file(path: Path) -> Infrastructure:
    return Infrastructure.from_dict(read_json(path), str(path))


@dataclass
class Registry:
    methods: dict[str, Method] = field(default_factory=dict)
    infrastructures: dict[str, Infrastructure] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    read_only: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_directories(cls, methods_dir: Path, infrastructures_dir: Path) -> Registry:
        registry = cls()
        for path in sorted(infrastructures_dir.glob("*.json")):
            try:
                infrastructure = load_infrastructure_file(path)
            except DescriptorError as err:
                registry._report(path, err.problems)
                continue
            if infrastructure.id in registry.infrastructures:
                registry._report(path, [f"duplicate infrastructure id '{infrastructure.id}'"])
                continue
            registry.infrastructures[infrastructure.id] = infrastructure
        for path in sorted(methods_dir.glob("*.json")):
            try:
                method = load_method_file(path)
            except DescriptorError as err:
                registry._report(path, err.problems)
                continue
            if method.id in registry.methods:
                registry._report(path, [f"duplicate method id '{method.id}'"])
                continue
            registry.methods[method.id] = method
            registry.read_only.add(method.id)
            if method.infrastructure_id not in registry.infrastructures:
                LOGGER.warning("%s: infrastructure '%s' is unknown: the method is listed but "
                               "not executable", path, method.infrastructure_id)
        return registry

    def _report(self, path: Path, problems: list[str]) -> None:
        problem = Problem(str(path), problems)
        self.problems.append(problem)
        LOGGER.error("skipping invalid file %s", problem)

    def method(self, method_id: str) -> Method | None:
        return self.methods.get(method_id)

    def infrastructure_of(self, method: Method) -> Infrastructure | None:
        return self.infrastructures.get(method.infrastructure_id)

    def is_executable(self, method: Method) -> bool:
        return method.infrastructure_id in self.infrastructures

    def put(self, method: Method) -> None:
        with self._lock:
            self.methods = {**self.methods, method.id: method}

    def remove(self, method_id: str) -> None:
        with self._lock:
            self.methods = {k: v for k, v in self.methods.items() if k != method_id}
