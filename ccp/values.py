"""Reading configuration values: one way to read a boolean, one way to read a size.

Configuration arrives as JSON (Infrastructure descriptors), as YAML, or as text substituted
from the environment (`${CCP_AUTH:-false}`), so `true`, `"true"` and `"yes"` mean the same.
"""

from __future__ import annotations

import re
from typing import Any

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def as_bool(value: Any, default: bool = False) -> bool:
    """true/false, 1/0, yes/no, on/off (any case) -> bool; None -> `default`.

    Anything else is a ValueError: a typo in a switch must not silently mean "off".
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def parse_size(value: Any) -> int | None:
    """'512m', '2g', '1024' (bytes) -> bytes."""
    if value in (None, ""):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[iI]?[bB]?\s*", str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 512m or 2g)")
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
