"""fsync: always with concurrent writers: every write returns only once an fsync covered its
line, the chain still verifies, and across a rotation nothing is left unsynced."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from outguard.ops import audit
from outguard.ops.audit import AuditLog, verify


def last_seq_on_disk(fd: int) -> int:
    """What an fsync of `fd` makes durable: the file as it is now (its last record's seq)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    data = data[: data.rfind(b"\n") + 1]  # complete lines only: another writer may be mid-line
    line = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return json.loads(line)["seq"] if line else 0


@pytest.mark.parametrize("rotate_bytes", [0, 700])
def test_each_writer_returns_after_an_fsync_that_holds_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                rotate_bytes: int) -> None:
    synced: dict[str, int] = {}   # file name -> highest seq an fsync made durable
    calls: list[int] = []
    lock = threading.Lock()

    def fake_fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1]
        reader = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
        try:
            with lock:
                calls.append(fd)
                synced[name] = max(synced.get(name, 0), last_seq_on_disk(reader))
        finally:
            os.close(reader)

    monkeypatch.setattr(audit.os, "fsync", fake_fsync)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, fsync="always", rotate_bytes=rotate_bytes, keep=100)
    returned: list[tuple[str, int]] = []   # (tag, highest synced seq anywhere when write returned)

    def writer(w: int) -> None:
        for i in range(25):
            tag = f"{w}-{i}"
            log.write({"time": "2026-12-01T00:00:00+00:00", "tag": tag})
            with lock:
                returned.append((tag, max(synced.values(), default=0)))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    files = sorted(tmp_path.glob("audit.jsonl*"))
    seq_of = {json.loads(line)["tag"]: json.loads(line)["seq"] for f in files for line in f.read_bytes().splitlines()}
    assert len(seq_of) == 200 and len(calls) <= 200 + len(files)
    assert all(at_return >= seq_of[tag] for tag, at_return in returned)
    if rotate_bytes:
        assert len(files) > 1
        for f in files:   # each file's last line was made durable before the file was rotated away
            last = json.loads(f.read_bytes().splitlines()[-1])["seq"]
            assert synced.get(f.name, 0) >= last or any(v >= last for v in synced.values())
    else:
        assert verify([path])[2] is None


def test_a_failed_fsync_fails_the_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    log = AuditLog(tmp_path / "audit.jsonl", fsync="always")
    monkeypatch.setattr(audit.os, "fsync", broken)
    with pytest.raises(OSError):
        log.write({"time": "2026-12-01T00:00:00+00:00"})
    monkeypatch.undo()
    log.write({"time": "2026-12-01T00:00:00+00:00"})   # the next one syncs both
