"""The one pygeoapi processor that wraps any Method: its description is the Method itself."""

from __future__ import annotations

from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from ccp.model import Method


class CCPProcessor(BaseProcessor):
    def __init__(self, processor_def: dict[str, Any]) -> None:
        method: Method = processor_def["method"]
        super().__init__({"name": method.id}, method.to_dict())
        self.method = method

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        # Executions need the job store, a worker and a runtime: only the manager runs them.
        raise ProcessorExecuteError("CCP Methods run asynchronously through the CCP manager")

    def __repr__(self) -> str:
        return f"<CCPProcessor> {self.method.id} {self.method.version}"
