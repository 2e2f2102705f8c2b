"""The mail stack helper (deploy/dev/stackctl.py) waits and explains itself, without a stack."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from stack import stackctl


class Clock:
    """A clock that moves only when the waiter pauses."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        """Sleep, instantly."""
        self.now += seconds


def _probe(open_ports: set[int], probes: list[int]) -> Callable[[int], bool]:
    def probe(port: int) -> bool:
        probes.append(port)
        return port in open_ports
    return probe


def test_the_timeout_names_each_port_that_stayed_shut_and_its_service() -> None:
    """After the timeout the error names every port nothing listens on, with its service,
    and no port that answered."""
    clock = Clock()
    up = {25, 2527, 143, 24, 2528, 2529}
    with pytest.raises(stackctl.StackError) as caught:
        stackctl.wait(stackctl.PORTS, 30, probe=_probe(up, []), clock=clock, pause=clock.pause)
    message = str(caught.value)
    assert message == ("mail stack not up after 30 s (dovecot, capture): nothing listens on "
                       "127.0.0.1 port 993 (Dovecot IMAPS), 2526 (capture server)")
    assert 29.9 <= clock.now <= 30.2


def test_a_port_that_answered_is_not_probed_again() -> None:
    """Each port is probed until it answers once (every probe is a connection the servers
    log), and the wait ends as soon as the last one answers."""
    clock = Clock()
    probes: list[int] = []
    up = {25}

    def pause(seconds: float) -> None:
        clock.pause(seconds)
        up.add(143)

    ports = stackctl.ports_of(["postfix", "dovecot"])[:3]  # 25, 2527, 143
    up.add(2527)
    stackctl.wait(ports, 5, probe=_probe(up, probes), clock=clock, pause=pause)
    assert probes == [25, 2527, 143, 143]


def test_a_check_that_fails_ends_the_wait_early() -> None:
    """A started server that already exited is reported at once, not after the timeout."""
    clock = Clock()

    def exited() -> None:
        raise stackctl.StackError("the capture server exited at start")

    with pytest.raises(stackctl.StackError, match="exited at start"):
        stackctl.wait(stackctl.PORTS, 30, probe=_probe(set(), []), clock=clock,
                      pause=clock.pause, check=exited)
    assert clock.now == 0


def test_unknown_services_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt service name is a usage error that lists the known ones."""
    with pytest.raises(SystemExit) as caught:
        stackctl.main(["start", "dovecto"])
    assert caught.value.code == 2
    assert "unknown service dovecto (choose from postfix, dovecot, capture)" in (
        capsys.readouterr().err)
