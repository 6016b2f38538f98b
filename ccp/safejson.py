"""JSON from people we do not trust: request bodies and imported archives.

Python's `json` accepts what no other JSON parser does (`NaN`, `Infinity`, integers of any
length) and fails with RecursionError on deep nesting. Everything CCP reads from a client
goes through `loads`, which refuses those with a `JSONRejected` naming the problem, and
`check`, which applies the same bounds to a value already parsed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_INT_DIGITS = 19  # a parse_int argument longer than this cannot fit in 64 bits
INT_BOUND = 2**63 - 1


@dataclass(frozen=True)
class JSONLimits:
    max_depth: int = 64


DEFAULT_LIMITS = JSONLimits()


class JSONRejected(ValueError):
    """A JSON document is malformed or outside CCP's bounds."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONRejected(f"the integer {text[:20]}... has more than {MAX_INT_DIGITS} digits: "
                           "integers must fit in 64 bits")
    value = int(text)
    if abs(value) > INT_BOUND:
        raise JSONRejected(f"the integer {text} does not fit in 64 bits")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected(f"the number {text[:40]} is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise JSONRejected(f"{name} is not a JSON number: only finite numbers are allowed")


def loads(raw: bytes | str, limits: JSONLimits = DEFAULT_LIMITS) -> Any:
    """Parse `raw` as strict JSON within `limits`; JSONRejected says what is wrong."""
    try:
        value = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_reject_constant)
    except JSONRejected:
        raise
    except RecursionError as err:
        raise JSONRejected(f"the JSON is nested deeper than {limits.max_depth} levels") from err
    except json.JSONDecodeError as err:
        raise JSONRejected(f"not valid JSON: {err}") from err
    except (UnicodeDecodeError, ValueError) as err:
        raise JSONRejected(f"not valid JSON: {err}") from err
    check(value, limits)
    return value


def check(value: Any, limits: JSONLimits = DEFAULT_LIMITS) -> None:
    """Refuse nesting deeper than the limit, NUL characters and non-finite or huge numbers."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limits.max_depth:
                raise JSONRejected(f"the JSON is nested deeper than {limits.max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_string(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_string(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > INT_BOUND:
                raise JSONRejected("integers must fit in 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JSONRejected("only finite numbers are allowed (no NaN or Infinity)")


def _check_string(text: Any) -> None:
    if isinstance(text, str) and "\0" in text:
        raise JSONRejected("strings may not contain the NUL character (\\u0000)")


def dumps_canonical(value: Any) -> str:
    """The canonical form CCP hashes: sorted keys, no spaces, UTF-8, finite numbers only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
