"""The benchmark's messages: tests/samples/mix.py's units, generated once per seed and
cached on disk in chunks (in parallel processes), so a second run starts at once.

The cache key is the seed, the chunk's unit range and a hash of the generators' source:
a change to any sample generator starts a new cache. Default place:
$SURETY_BENCH_CACHE, else /tmp/surety-bench-cache.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "samples"
CHUNK = 200  # units per cache file

Message = tuple[str, bytes]  # (kind, raw)


def _path() -> None:
    for entry in (str(ROOT), str(ROOT / "tests")):
        if entry not in sys.path:
            sys.path.insert(0, entry)


def cache_root() -> Path:
    """Where the chunks live."""
    return Path(os.environ.get("SURETY_BENCH_CACHE", "/tmp/surety-bench-cache"))  # noqa: S108


def _version() -> str:
    digest = hashlib.sha256()
    for source in sorted(SAMPLES.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _chunk(seed: int, start: int) -> list[Message]:
    _path()
    from samples import mix  # noqa: PLC0415

    return [m for i in range(start, start + CHUNK) for m in mix.unit(seed, i)]


def _chunk_file(seed: int, start: int) -> Path:
    return cache_root() / _version() / f"seed-{seed}" / f"units-{start:07d}.pickle"


def _load_or_make(seed: int, start: int) -> list[Message]:
    path = _chunk_file(seed, start)
    if path.exists():
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]  # noqa: S301
    chunk = _chunk(seed, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(chunk))
    tmp.replace(path)
    return chunk


def _starts(count: int) -> Iterator[int]:
    # A unit is one or two messages: ``count`` units hold at least ``count`` messages.
    yield from range(0, count, CHUNK)


def messages(seed: int, count: int, *, workers: int | None = None) -> list[Message]:
    """The first ``count`` messages of the seed's mix (a pair cut at the end loses its
    password mail), generating the chunks not cached yet in ``workers`` processes."""
    starts = list(_starts(count))
    missing = [s for s in starts if not _chunk_file(seed, s).exists()]
    if missing:
        with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
            list(pool.map(_load_or_make, [seed] * len(missing), missing))
    out: list[Message] = []
    for start in starts:
        out += _load_or_make(seed, start)
        if len(out) >= count:
            break
    return out[:count]
