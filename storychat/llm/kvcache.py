"""Corpus KV snapshots, so a story prefix the model has read before is restored, not recomputed.

Reading the stories (prefill) is most of the cost of an answer. After the
first prefill of a prefix its llama.cpp state is kept in RAM (LRU, bounded)
and on disk (LRU by last use, bounded), keyed by everything that makes the
state valid: model file, context size, KV type and the prefix tokens. After a
restart, or when a user switches back to a collection, the state is loaded
instead. Saving a new snapshot under a label (the collection) drops the older
snapshots of that label: they belong to stories that have since changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"STORYCHAT-KV1\n"


@dataclass(frozen=True)
class Snapshot:
    tokens: tuple[int, ...]
    state: bytes
    label: str = ""

    @property
    def size(self) -> int:
        return len(self.state) + 4 * len(self.tokens)


def snapshot_key(model: Path, n_ctx: int, kv_type: str, flash_attn: bool, tokens: tuple[int, ...]) -> str:
    # Without flash attention llama.cpp stores V transposed: such a state does not load into the other layout.
    stat = model.stat()
    identity = f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{n_ctx}|{kv_type}|fa={flash_attn}"
    digest = hashlib.sha256(identity.encode())
    digest.update(struct.pack(f"<{len(tokens)}i", *tokens))
    return digest.hexdigest()[:32]


class KVCache:
    def __init__(self, directory: Path | None, ram_bytes: int, disk_bytes: int):
        self.directory = directory
        self.ram_bytes = ram_bytes
        self.disk_bytes = disk_bytes
        self._ram: OrderedDict[str, Snapshot] = OrderedDict()
        self._lock = threading.Lock()
        if directory:
            directory.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> tuple[Snapshot, str] | None:
        """The snapshot and where it came from ("ram" or "disk"), or None."""
        with self._lock:
            if key in self._ram:
                self._ram.move_to_end(key)
                return self._ram[key], "ram"
        snapshot = self._read(key)
        if snapshot is None:
            return None
        self._remember(key, snapshot)
        return snapshot, "disk"

    def put(self, key: str, snapshot: Snapshot) -> None:
        if snapshot.label:
            self._forget_label(snapshot.label, keep=key)
        self._remember(key, snapshot)
        self._write(key, snapshot)

    def discard(self, key: str) -> None:
        """Forget a snapshot that turned out not to load."""
        with self._lock:
            self._ram.pop(key, None)
        if self.directory:
            (self.directory / f"{key}.kv").unlink(missing_ok=True)

    def disk_usage(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def _remember(self, key: str, snapshot: Snapshot) -> None:
        if snapshot.size > self.ram_bytes:
            return
        with self._lock:
            self._ram[key] = snapshot
            self._ram.move_to_end(key)
            while sum(s.size for s in self._ram.values()) > self.ram_bytes:
                self._ram.popitem(last=False)

    def _forget_label(self, label: str, keep: str) -> None:
        with self._lock:
            for key in [k for k, s in self._ram.items() if s.label == label and k != keep]:
                del self._ram[key]
        for path in self._files():
            if path.stem != keep and _read_header(path).get("label") == label:
                path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.kv")) if self.directory else []

    def _read(self, key: str) -> Snapshot | None:
        if not self.directory:
            return None
        path = self.directory / f"{key}.kv"
        try:
            with open(path, "rb") as f:
                header = _header(f)
                state = f.read()
        except (OSError, ValueError):
            return None
        os.utime(path)  # last use, for LRU eviction
        return Snapshot(tuple(header["tokens"]), state, header.get("label", ""))

    def _write(self, key: str, snapshot: Snapshot) -> None:
        if not self.directory or snapshot.size > self.disk_bytes:
            return
        header = json.dumps({"tokens": snapshot.tokens, "label": snapshot.label}).encode()
        tmp = self.directory / f"{key}.tmp"
        with open(tmp, "wb") as f:
            f.write(MAGIC + struct.pack("<Q", len(header)) + header)
            f.write(snapshot.state)
        os.replace(tmp, self.directory / f"{key}.kv")
        self._evict_disk()

    def _evict_disk(self) -> None:
        files = sorted(self._files(), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > self.disk_bytes:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)


def _header(f) -> dict:
    if f.read(len(MAGIC)) != MAGIC:
        raise ValueError("not a StoryChat KV snapshot")
    (length,) = struct.unpack("<Q", f.read(8))
    return json.loads(f.read(length))


def _read_header(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return _header(f)
    except (OSError, ValueError):
        return {}
