"""Files are replaced whole or not at all (nepse/atomic.py)."""

from __future__ import annotations

import pytest

from nepse.atomic import atomic_file, write_atomic
from nepse.errors import NepseError
from tests.unit.store.test_database_errors import mounted


def test_a_file_is_replaced_whole(tmp_path):
    path = tmp_path / "sub" / "index.html"
    write_atomic(path, b"old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["index.html"]


def test_a_failure_mid_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "meta.json"
    write_atomic(path, b'{"ok": 1}')
    with pytest.raises(RuntimeError), atomic_file(path) as fh:
        fh.write(b'{"half')
        raise RuntimeError("the writer died")
    assert path.read_bytes() == b'{"ok": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_a_full_disk_says_so_and_leaves_no_empty_file():
    with mounted("64k") as disk:
        path = disk / "drift.html"
        write_atomic(path, b"yesterday's page")
        with pytest.raises(NepseError, match=r"cannot write .*drift\.html: the disk is full"):
            write_atomic(path, b"x" * 1_000_000)
        assert path.read_bytes() == b"yesterday's page"
        assert [p.name for p in disk.iterdir()] == ["drift.html"]
