"""Reading booleans and sizes from configuration."""

from __future__ import annotations

import pytest

from ccp.values import as_bool, parse_size


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (1, True), (0, False), ("true", True), ("TRUE", True),
    (" yes ", True), ("on", True), ("1", True), ("false", False), ("no", False),
    ("off", False), ("0", False), ("", False),
])
def test_as_bool(value: object, expected: bool) -> None:
    assert as_bool(value) is expected


def test_as_bool_default_and_refusals() -> None:
    assert as_bool(None) is False and as_bool(None, default=True) is True
    for value in ("maybe", 2, 1.0, [], "tru"):
        with pytest.raises(ValueError, match="is not a boolean"):
            as_bool(value)


@pytest.mark.parametrize("value, expected", [
    ("512m", 512 * 2**20), ("2g", 2 * 2**30), ("1024", 1024), (4096, 4096), ("64Mi", 64 * 2**20),
    ("1 kB", 1024), (None, None), ("", None),
])
def test_parse_size(value: object, expected: int | None) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "1t", "-1m", True])
def test_parse_size_refusals(value: object) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(value)
