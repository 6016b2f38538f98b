"""The one wait loop of every runtime: a script's end, cancel() and the deadline."""

from __future__ import annotations

import pytest

from ccp.runtimes.base import Instance, RuntimeCancelled, RuntimeTimeout
from ccp.runtimes.deadline import wait_for_script


def test_returns_when_the_script_ends() -> None:
    answers = iter([False, False, True])
    stopped: list[bool] = []
    wait_for_script(lambda _seconds: next(answers), Instance("x", "local"), 60,
                    stop=lambda: stopped.append(True))
    assert stopped == []


def test_cancel_stops_the_script_and_raises() -> None:
    instance = Instance("x", "local")
    instance.cancelled.set()
    stopped: list[bool] = []
    with pytest.raises(RuntimeCancelled):
        wait_for_script(lambda _seconds: False, instance, 60, stop=lambda: stopped.append(True))
    assert stopped == [True]


def test_past_the_deadline_stops_the_script_and_raises() -> None:
    stopped: list[bool] = []
    with pytest.raises(RuntimeTimeout, match="still running after"):
        wait_for_script(lambda _seconds: False, Instance("x", "local"), -1,
                        stop=lambda: stopped.append(True))
    assert stopped == [True]


def test_without_stop_it_only_raises() -> None:
    with pytest.raises(RuntimeTimeout):
        wait_for_script(lambda _seconds: False, Instance("x", "local"), -1)
