import os
import stat

import pytest

from genomekit.fileio import atomic_path, atomic_write, file_sha256, write_json


def test_atomic_write_replaces_whole_file_and_sets_normal_permissions(tmp_path):
    path = tmp_path / "a.txt"
    with atomic_write(path, "w") as f:
        f.write("one")
    assert path.read_text() == "one"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("two, half-written")
        raise RuntimeError("killed")
    assert path.read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left behind


def test_atomic_path_and_json(tmp_path):
    path = tmp_path / "sub" / "b.bin"
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"xyz")
        assert not path.exists()
    assert path.read_bytes() == b"xyz"
    write_json(tmp_path / "c.json", {"k": [1, 2]})
    assert (tmp_path / "c.json").read_text().startswith("{")


def test_file_sha256_reads_in_blocks_and_takes_a_prefix(tmp_path):
    import hashlib

    data = os.urandom((1 << 20) + 123)  # more than one block
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(path, prefix=b"header\n") == hashlib.sha256(b"header\n" + data).hexdigest()
