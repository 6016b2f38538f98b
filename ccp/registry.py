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

from ccp import templating
from ccp.auth import Requester
from ccp.methodstore import MethodStore
from ccp.model import DescriptorError, Infrastructure, Method, unsafe_scripts

LOGGER = logging.getLogger(__name__)


@dataclass
class Problem:
    file: str
    problems: list[str]

    def __str__(self) -> str:
        return f"{self.file}: " + "; ".join(self.problems)


def may_see(requester: Requester, document: dict[str, Any], owner: str | None,
            context: str | None) -> bool:
    """A deployed Method is public when deployed without auth, else its owner's, or shared
    with the owner's context."""
    return (requester.sees_everything or owner is None or owner == requester.subject
            or (document.get("visibility") == "shared" and context in requester.contexts))


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


class RegistryConflict(ValueError):
    """A deploy or replace that clashes with what is there (duplicate id, reused version)."""


class ReadOnlyMethod(PermissionError):
    """Methods from the methods/ folder are managed as files, not through the API."""


@dataclass
class Registry:
    """File Methods (read-only) plus Methods deployed through the API (in the database)."""

    file_methods: dict[str, Method] = field(default_factory=dict)
    infrastructures: dict[str, Infrastructure] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    store: MethodStore | None = None
    _parsed: dict[tuple[str, str], Method] = field(default_factory=dict, repr=False)
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
            if method.id in registry.file_methods:
                registry._report(path, [f"duplicate method id '{method.id}'"])
                continue
            registry.file_methods[method.id] = method
            if method.infrastructure_id not in registry.infrastructures:
                LOGGER.warning("%s: infrastructure '%s' is unknown: the method is listed but "
                               "not executable", path, method.infrastructure_id)
        return registry

    def _report(self, path: Path, problems: list[str]) -> None:
        problem = Problem(str(path), problems)
        self.problems.append(problem)
        LOGGER.error("skipping invalid file %s", problem)

    def _parse(self, document: dict[str, Any]) -> Method | None:
        key = (str(document.get("id")), str(document.get("version")))
        with self._lock:
            if key not in self._parsed:
                try:
                    self._parsed[key] = Method.from_dict(document)
                except DescriptorError as err:
                    LOGGER.error("stored method %s is invalid: %s", key, err)
                    return None
            return self._parsed[key]

    def deployed(self) -> dict[str, tuple[Method, str | None, str | None]]:
        if self.store is None:
            return {}
        found = {}
        for method_id, (document, owner, context) in self.store.current().items():
            method = self._parse(document)
            if method is not None and method_id not in self.file_methods:
                found[method_id] = (method, owner, context)
        return found

    @property
    def methods(self) -> dict[str, Method]:
        deployed = {method_id: entry[0] for method_id, entry in self.deployed().items()}
        return {**deployed, **self.file_methods}

    def method(self, method_id: str) -> Method | None:
        return self.methods.get(method_id)

    def owner_of(self, method_id: str) -> str | None:
        return self.deployed().get(method_id, (None, None, None))[1]

    def visible_to(self, requester: Requester) -> dict[str, Method]:
        """The Methods a requester may see: file Methods are public; a deployed one is its
        owner's, or shared with a context. One read of the deployed Methods."""
        visible = {
            method_id: method
            for method_id, (method, owner, context) in self.deployed().items()
            if may_see(requester, method.raw, owner, context)
        }
        return {**visible, **self.file_methods}

    def is_read_only(self, method_id: str) -> bool:
        return method_id in self.file_methods

    def method_version(self, method_id: str, version: str,
                       requester: Requester | None = None) -> Method | None:
        """One version of a Method; with a requester, only if they may see it."""
        file_method = self.file_methods.get(method_id)
        if file_method is not None:
            return file_method if file_method.version == version else None
        found = self.store.version(method_id, version) if self.store else None
        if found is None:
            return None
        document, owner, context = found
        if requester is not None and not may_see(requester, document, owner, context):
            return None
        return self._parse(document)

    def versions(self, method_id: str, requester: Requester) -> list[str]:
        """The versions of a Method the requester may see, oldest first."""
        if method_id in self.file_methods:
            return [self.file_methods[method_id].version]
        if self.store is None:
            return []
        return [version for version, document, owner, context in self.store.versions(method_id)
                if may_see(requester, document, owner, context)]

    def source_of(self, method: Method) -> str | None:
        """`file` or `deployed` when `method` is, byte for byte, this server's Method of its
        id and version; None when the server has no such Method (it came from elsewhere)."""
        file_method = self.file_methods.get(method.id)
        if file_method is not None:
            return "file" if file_method.digest == method.digest else None
        known = self.method_version(method.id, method.version)
        return "deployed" if known is not None and known.digest == method.digest else None

    def infrastructure_of(self, method: Method) -> Infrastructure | None:
        return self.infrastructures.get(method.infrastructure_id)

    def is_executable(self, method: Method) -> bool:
        return method.infrastructure_id in self.infrastructures

    def check_deployable(self, method: Method,
                         limits: templating.Limits = templating.DEFAULT_LIMITS) -> None:
        """Refuse a Method that cannot run here: unknown Infrastructure, or scripts that the
        sandbox refuses or that break the template limits with the Method's own defaults."""
        if method.infrastructure_id not in self.infrastructures:
            raise DescriptorError([f"unknown infrastructure '{method.infrastructure_id}' "
                                   f"(known: {', '.join(sorted(self.infrastructures))})"])
        problems = unsafe_scripts(method, limits)
        if problems:
            raise DescriptorError(problems)

    def deploy(self, method: Method, owner: str | None, context: str | None = None) -> None:
        history = self.store.versions(method.id) if self.store else []
        if self.method(method.id) is not None or any(
                entry[2] != owner for entry in history):
            # The same answer whoever holds the id (an undeployed Method keeps it for its
            # owner): it says nothing of their Method.
            raise RegistryConflict(f"the process id '{method.id}' is taken: choose another id "
                                   f"(to change a Method of yours, PUT /processes/{method.id})")
        self._put(method, owner, context)

    def replace(self, method: Method, owner: str | None, context: str | None = None) -> None:
        if self.is_read_only(method.id):
            raise ReadOnlyMethod(f"'{method.id}' comes from the methods folder and is read-only")
        self._put(method, owner, context)

    def _put(self, method: Method, owner: str | None, context: str | None) -> None:
        if self.store is None:
            raise RuntimeError("no method store")
        if not self.store.put(method.id, method.version, method.to_dict(), owner, context):
            raise RegistryConflict(
                f"version '{method.version}' of '{method.id}' already exists with other "
                "content: give the changed Method a new version")

    def undeploy(self, method_id: str) -> None:
        if self.is_read_only(method_id):
            raise ReadOnlyMethod(f"'{method_id}' comes from the methods folder and is read-only")
        if self.store is None or not self.store.undeploy(method_id):
            raise KeyError(method_id)
