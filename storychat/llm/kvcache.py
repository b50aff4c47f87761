"""Corpus KV snapshots, so a story prefix the model has read before is restored, not recomputed.

Reading the stories (prefill) is most of the cost of an answer. A snapshot is
a file llama.cpp writes and reads itself (``llama_state_save_file`` and
``llama_state_load_file``), so the state streams between the context and the
disk with no copy in Python, whatever its size. Files are keyed by everything
that makes a state valid (model file, context size, KV type, flash-attention
layout, prefix tokens) and kept within ``disk_bytes``, least recently used
first out. Saving a new snapshot under a label (the collection) drops the
older snapshots of that label: they belong to stories that have since changed.
A labelled snapshot keeps its prefix tokens beside it, so after a change the
engine can restore it and recompute only from the first changed token on.

There is no RAM copy: the OS page cache holds recently written or read files,
and restoring from it ran as fast as from a buffer in this process
(docs/benchmarks.md). ``ram_bytes`` bounds how much of the most recently used
snapshots stays there; older ones are dropped from the page cache, so they do
not push the model's own pages out of memory. A restore says "ram" for a
snapshot within that budget, "disk" for one read from storage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

GiB = 2**30
SPEED_PROBE_BYTES = 64 * 2**20


class SnapshotError(RuntimeError):
    """A snapshot could not be saved; the message says why and what to do."""


def snapshot_key(model: Path, n_ctx: int, kv_type: str, flash_attn: bool, tokens: tuple[int, ...]) -> str:
    # Without flash attention llama.cpp stores V transposed: such a state does not load into the other layout.
    stat = model.stat()
    identity = f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{n_ctx}|{kv_type}|fa={flash_attn}"
    digest = hashlib.sha256(identity.encode())
    digest.update(struct.pack(f"<{len(tokens)}i", *tokens))
    return digest.hexdigest()[:32]


class KVCache:
    def __init__(self, directory: Path, disk_bytes: int, ram_bytes: int = 0, read_bytes_per_s: float | None = None):
        self.directory = directory
        self.disk_bytes = disk_bytes
        self.ram_bytes = ram_bytes
        self._read_speed = read_bytes_per_s
        self._in_memory: OrderedDict[str, int] = OrderedDict()  # key -> size, most recently used last
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):  # a write cut short by a crash
            stale.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.kv"

    def find(self, key: str) -> tuple[Path, str] | None:
        """The snapshot file and where its bytes are ("ram" or "disk"), or None."""
        path = self.path(key)
        try:
            os.utime(path)  # last use, for LRU eviction
        except OSError:
            return None
        with self._lock:
            return path, "ram" if key in self._in_memory else "disk"

    def used(self, key: str) -> None:
        """A snapshot was just read or written: it is in the page cache now."""
        self._keep_in_memory(key, self.path(key))

    def labelled(self, label: str) -> tuple[str, list[int]] | None:
        """The key and prefix tokens of the snapshot filed under ``label``, or None."""
        for path in self.directory.glob("*.label"):
            if label and _read_label(path) == label:
                try:
                    data = (self.directory / f"{path.stem}.prefix").read_bytes()
                except OSError:
                    return None
                return path.stem, list(struct.unpack(f"<{len(data) // 4}i", data))
        return None

    def save(self, key: str, label: str, size: int, write: Callable[[Path], bool], prefix: Sequence[int] = ()) -> Path:
        """Have ``write`` create the snapshot file (``size`` bytes), then make room for it.

        Raises SnapshotError, with the reason and the fix, when it does not fit
        the budget or the disk, or when writing fails.
        """
        if size > self.disk_bytes:
            raise SnapshotError(
                f"KV snapshot not saved: it takes {size / GiB:.2f} GiB, more than --cache-disk "
                f"({self.disk_bytes / GiB:.2f} GiB). Raise --cache-disk to keep snapshots of this size."
            )
        self._evict(self.disk_bytes - size)
        self._check_free(size)
        tmp = self.directory / f"{key}.tmp"
        if not write(tmp):
            tmp.unlink(missing_ok=True)
            self._check_free(size)
            raise SnapshotError(f"KV snapshot not saved: llama.cpp could not write {tmp}.")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # on disk before it has its name; also lets the page cache drop it later
        path = self.path(key)
        os.replace(tmp, path)
        (self.directory / f"{key}.label").write_text(label, encoding="utf-8")
        if label:
            (self.directory / f"{key}.prefix").write_bytes(struct.pack(f"<{len(prefix)}i", *prefix))
            self._forget_label(label, keep=key)
        self._keep_in_memory(key, path)
        return path

    def discard(self, key: str) -> None:
        """Forget a snapshot that turned out not to load."""
        with self._lock:
            self._in_memory.pop(key, None)
        self.path(key).unlink(missing_ok=True)
        (self.directory / f"{key}.label").unlink(missing_ok=True)
        (self.directory / f"{key}.prefix").unlink(missing_ok=True)

    def disk_usage(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def read_speed(self) -> float:
        """Bytes per second this directory's disk reads (not its page cache): measured once, then kept."""
        if self._read_speed:
            return self._read_speed
        record = self.directory / "read-speed.json"
        try:
            self._read_speed = float(json.loads(record.read_text())["bytes_per_s"])
        except (OSError, ValueError, KeyError):
            self._read_speed = measure_read_speed(self.directory)
            record.write_text(json.dumps({"bytes_per_s": self._read_speed, "probe_bytes": SPEED_PROBE_BYTES}))
        return self._read_speed

    def _check_free(self, size: int) -> None:
        free = shutil.disk_usage(self.directory).free
        if free < size:
            raise SnapshotError(
                f"KV snapshot not saved: the disk holding {self.directory} has {free / GiB:.2f} GiB free and the "
                f"snapshot needs {size / GiB:.2f} GiB. Free some space, point --cache-dir at another disk, or pass "
                "--cache-disk 0 to take no snapshots."
            )

    def _keep_in_memory(self, key: str, path: Path) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        with self._lock:
            self._in_memory[key] = size
            self._in_memory.move_to_end(key)
            dropped = []
            while self._in_memory and sum(self._in_memory.values()) > self.ram_bytes:
                dropped.append(self._in_memory.popitem(last=False)[0])
        for old in dropped:
            drop_from_page_cache(self.path(old))

    def _forget_label(self, label: str, keep: str) -> None:
        for path in self.directory.glob("*.label"):
            if path.stem != keep and _read_label(path) == label:
                self.discard(path.stem)

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.kv"))

    def _evict(self, room: int) -> None:
        """Delete the least recently used snapshots until the rest take at most ``room`` bytes."""
        files = sorted(self._files(), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > room:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            self.discard(oldest.stem)


def _read_label(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def drop_from_page_cache(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure_read_speed(directory: Path, size: int = SPEED_PROBE_BYTES) -> float:
    """Write ``size`` bytes, drop them from the page cache, and time reading them back."""
    path = directory / "read-speed.tmp"
    chunk = os.urandom(2**20)
    try:
        with open(path, "wb") as f:
            for _ in range(size // len(chunk)):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        drop_from_page_cache(path)
        buffer = bytearray(8 * 2**20)
        fd = os.open(path, os.O_RDONLY)
        try:
            started = time.perf_counter()
            while os.readv(fd, [buffer]):
                pass
            elapsed = time.perf_counter() - started
        finally:
            os.close(fd)
    finally:
        path.unlink(missing_ok=True)
    return size / max(elapsed, 1e-6)
