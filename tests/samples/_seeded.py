"""Deterministic stand-ins for the random bytes that encryption libraries draw.

pypdf (AES salts and IVs, file IDs), msoffcrypto-tool (salts, keys) and pyzipper
(AES salts) all draw from ``secrets`` / ``Cryptodome.Random``. A sample must be
the same bytes for the same arguments (Message-IDs are derived from content), so
while building one we replace those sources with a hash chain seeded from the
arguments. The replacement is process-wide for the duration of the ``with``
block; a lock serialises builders. Never use this outside test data.
"""

from __future__ import annotations

import hashlib
import importlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()


class HashStream:
    """An endless byte stream: SHA-256 in counter mode over a seed."""

    def __init__(self, seed: str | bytes) -> None:
        self._seed = seed.encode() if isinstance(seed, str) else seed
        self._counter = 0
        self._buffer = b""

    def read(self, n: int) -> bytes:
        """Return the next ``n`` bytes."""
        while len(self._buffer) < n:
            block = self._seed + self._counter.to_bytes(8, "big")
            self._buffer += hashlib.sha256(block).digest()
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


class _RandomModule:
    """Mimics ``Cryptodome.Random`` (``new().read(n)``) over a :class:`HashStream`."""

    def __init__(self, stream: HashStream) -> None:
        self._stream = stream

    def new(self, *_args: Any) -> HashStream:
        return self._stream

    def get_random_bytes(self, n: int) -> bytes:
        return self._stream.read(n)


@contextmanager
def seeded_randomness(seed: str | bytes) -> Iterator[HashStream]:
    """Make ``secrets.token_bytes`` and pyzipper's AES salt deterministic inside the block."""
    stream = HashStream(seed)
    with _LOCK:
        original_token_bytes = secrets.token_bytes
        zipfile_aes: Any
        try:
            zipfile_aes = importlib.import_module("pyzipper.zipfile_aes")
        except ImportError:  # pragma: no cover - pyzipper is in the test environment
            zipfile_aes = None
        original_random = getattr(zipfile_aes, "Random", None)

        def token_bytes(nbytes: int | None = None) -> bytes:
            return stream.read(32 if nbytes is None else nbytes)

        secrets.token_bytes = token_bytes
        if zipfile_aes is not None:
            zipfile_aes.Random = _RandomModule(stream)
        try:
            yield stream
        finally:
            secrets.token_bytes = original_token_bytes
            if zipfile_aes is not None:
                zipfile_aes.Random = original_random
