"""systemd's service notifications (sd_notify): ready, alive, status, stopping.

Under ``Type=notify`` systemd passes a datagram socket in ``NOTIFY_SOCKET``; each
notification is one datagram of ``KEY=value`` lines (the whole protocol: no library is
needed for it). With ``WatchdogSec=`` it passes ``WATCHDOG_USEC`` too, and restarts the
service when no ``WATCHDOG=1`` came for that long: the loop says it is alive after each
message and every second while it waits, so only a loop that stopped moving is restarted.
Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

log = structlog.get_logger("daemon.notify")


class Notifier:
    """The service manager's notification socket, if there is one."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self._address = address
        self._socket: socket.socket | None = None
        self._failed = False
        usec = env.get("WATCHDOG_USEC", "")
        watched = usec.isdigit() and int(usec) > 0 and env.get("WATCHDOG_PID", str(os.getpid())
                                                               ) == str(os.getpid())
        # Said alive at most every second, and at least twice a watchdog period.
        self._every = min(1.0, int(usec) / 2e6) if watched else None
        self._last = -1e9
        if address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
            # The reader processes fork from this one: they must not speak for it.
            os.set_inheritable(self._socket.fileno(), False)

    @property
    def watched(self) -> bool:
        """Whether systemd's watchdog waits for WATCHDOG=1."""
        return self._every is not None

    def send(self, *lines: str) -> None:
        """One notification (READY=1, STATUS=..., STOPPING=1), never waited for: one
        that cannot go is dropped (the first such failure is logged); the daemon's work
        never depends on it."""
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as err:
            if not self._failed:
                log.warning("notify.failed", error=str(err), socket=self._address.lstrip("\0"))
            self._failed = True

    def alive(self) -> None:
        """WATCHDOG=1, when a watchdog waits for it (at most once a second)."""
        if self._every is None:
            return
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
