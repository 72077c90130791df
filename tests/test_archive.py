"""Tests for prospector.ingest.archive.safe_extract."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from prospector.errors import ArchiveError, OutputExistsError
from prospector.ingest import archive as archive_module
from prospector.ingest.archive import safe_extract

SHP = bytes(range(256)) * 40
DBF = b"dBASE-ish attribute table\n" * 100
README = b"Surface Management Agency, BLM\n"


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def tar_add(tf: tarfile.TarFile, name: str, data: bytes = b"", **attrs: Any) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tf.addfile(info, io.BytesIO(data) if data else None)


def listing(directory: Path) -> list[str]:
    """All paths below ``directory`` (including hidden ones), relative."""
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


def test_extract_zip(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "sma.zip",
        {"sma/": b"", "sma/sma.shp": SHP, "sma/sma.dbf": DBF, "README.txt": README},
    )
    target = tmp_path / "out" / "sma"

    files = safe_extract(archive, target)

    assert files == [target / "sma" / "sma.shp", target / "sma" / "sma.dbf", target / "README.txt"]
    assert (target / "sma" / "sma.shp").read_bytes() == SHP
    assert (target / "sma" / "sma.dbf").read_bytes() == DBF
    assert (target / "README.txt").read_bytes() == README
    assert listing(tmp_path / "out") == [
        "sma",
        "sma/README.txt",
        "sma/sma",
        "sma/sma/sma.dbf",
        "sma/sma/sma.shp",
    ]  # no staging directory left behind


def test_extract_tar_gz_materialises_internal_links(tmp_path: Path) -> None:
    archive = tmp_path / "claims.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tar_add(tf, "./", type=tarfile.DIRTYPE)
        tar_add(tf, "./claims/", type=tarfile.DIRTYPE)
        tar_add(tf, "./claims/claims.shp", SHP)
        tar_add(tf, "claims/latest.shp", type=tarfile.SYMTYPE, linkname="claims.shp")
        tar_add(tf, "claims/copy.shp", type=tarfile.LNKTYPE, linkname="claims/claims.shp")
        tar_add(tf, "claims\\win.txt", README)  # backslash separators from Windows tools
    target = tmp_path / "claims"

    files = safe_extract(archive, target)

    assert [p.relative_to(target).as_posix() for p in files] == [
        "claims/claims.shp",
        "claims/latest.shp",
        "claims/copy.shp",
        "claims/win.txt",
    ]
    for name in ("claims.shp", "latest.shp", "copy.shp"):
        path = target / "claims" / name
        assert not path.is_symlink()
        assert path.read_bytes() == SHP
    assert (target / "claims" / "win.txt").read_bytes() == README


def test_existing_target_needs_overwrite(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"new.txt": b"new"})
    target = tmp_path / "target"
    target.mkdir()
    (target / "old.txt").write_bytes(b"old")

    with pytest.raises(OutputExistsError, match="overwrite=True"):
        safe_extract(archive, target)
    assert (target / "old.txt").read_bytes() == b"old"

    assert safe_extract(archive, target, overwrite=True) == [target / "new.txt"]
    assert listing(tmp_path) == ["a.zip", "target", "target/new.txt"]


def test_empty_existing_target_is_used(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"x.txt": b"x"})
    (tmp_path / "t").mkdir()
    assert safe_extract(archive, tmp_path / "t") == [tmp_path / "t" / "x.txt"]


def assert_refused(archive: Path, target: Path, *needles: str, **kwargs: Any) -> ArchiveError:
    before = listing(archive.parent)
    with pytest.raises(ArchiveError) as info:
        safe_extract(archive, target, **kwargs)
    message = str(info.value)
    assert str(archive) in message
    assert "Fix:" in message
    for needle in needles:
        assert needle in message
    assert listing(archive.parent) == before  # nothing written anywhere
    assert not target.exists()
    return info.value


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../evil.txt", "escapes the target directory"),
        ("data/../../evil.txt", "escapes the target directory"),
        ("..\\evil.txt", "escapes the target directory"),
        ("/evil.txt", "absolute path"),
        ("C:/evil.txt", "absolute path"),
    ],
)
def test_zip_path_escapes_are_refused(tmp_path: Path, member: str, reason: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    archive = make_zip(work / "slip.zip", {"good.txt": b"fine", member: b"pwned"})

    assert_refused(archive, work / "out", repr(member), reason)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "outside the target"),
        ({"type": tarfile.SYMTYPE, "linkname": "../../outside.txt"}, "outside the target"),
        ({"type": tarfile.LNKTYPE, "linkname": "../outside.txt"}, "outside the target"),
        ({"type": tarfile.SYMTYPE, "linkname": "missing.txt"}, "not in the archive"),
        ({"type": tarfile.SYMTYPE, "linkname": "."}, "directory"),
        ({"type": tarfile.FIFOTYPE}, "special file"),
    ],
)
def test_tar_unsafe_links_and_special_files(
    tmp_path: Path, kwargs: dict[str, Any], reason: str
) -> None:
    (tmp_path / "outside.txt").write_bytes(b"secret")
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "links.tar"
    with tarfile.open(archive, "w") as tf:
        tar_add(tf, "data/ok.txt", b"ok")
        tar_add(tf, "data/link", **kwargs)
        tar_add(tf, "data/link/evil.txt", b"pwned")  # would write through the link

    assert_refused(archive, work / "out", "'data/link'", reason)
    assert (tmp_path / "outside.txt").read_bytes() == b"secret"
    assert listing(tmp_path) == ["outside.txt", "work", "work/links.tar"]


def test_tar_absolute_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "abs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tar_add(tf, "/tmp/evil.txt", b"pwned")
    assert_refused(archive, tmp_path / "out", "absolute path")


def test_oversized_member_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "big.zip", {"small.txt": b"s", "big.bin": b"\0" * 1000})
    assert_refused(
        archive, tmp_path / "out", "'big.bin'", "max_member_bytes=100", max_member_bytes=100
    )


def test_total_size_limit(tmp_path: Path) -> None:
    archive = tmp_path / "many.tar"
    with tarfile.open(archive, "w") as tf:
        tar_add(tf, "a.bin", b"a" * 600)
        tar_add(tf, "b.bin", b"b" * 600)
    assert_refused(archive, tmp_path / "out", "max_total_bytes=1000", max_total_bytes=1000)
    assert (
        safe_extract(archive, tmp_path / "ok", max_total_bytes=1200)[1].read_bytes() == b"b" * 600
    )


def test_zip_with_lying_size_header_is_refused(tmp_path: Path) -> None:
    """A member declaring 10 bytes that inflates to 1 MiB must not be extracted."""
    archive = make_zip(tmp_path / "bomb.zip", {"ok.txt": b"fine", "bomb.bin": b"\0" * 2**20})
    with zipfile.ZipFile(archive) as zf:
        local = zf.getinfo("bomb.bin").header_offset
    data = bytearray(archive.read_bytes())
    # Patch the uncompressed size in the local header and the central directory.
    struct.pack_into("<I", data, local + 22, 10)
    central = data.index(b"PK\x01\x02", data.index(b"bomb.bin", local + 30))
    central = data.index(b"PK\x01\x02", central + 4)  # second entry is bomb.bin
    struct.pack_into("<I", data, central + 24, 10)
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("bomb.bin").file_size == 10  # the lie is in place

    assert_refused(archive, tmp_path / "out", "'bomb.bin'")


def test_streamed_byte_count_catches_more_data_than_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the archive reader ignored the declared size, counting stops it."""
    archive = make_zip(tmp_path / "liar.zip", {"first.txt": b"ok", "liar.bin": b"0123456789"})
    real_open = zipfile.ZipFile.open

    def lying_open(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        if info.filename == "liar.bin":
            return io.BytesIO(b"x" * (3 * archive_module._CHUNK_BYTES))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", lying_open)

    assert_refused(archive, tmp_path / "out", "'liar.bin'", "more than the 10 bytes")


def test_duplicate_and_conflicting_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "dup.tar"
    with tarfile.open(archive, "w") as tf:
        tar_add(tf, "a.txt", b"1")
        tar_add(tf, "./a.txt", b"2")
    assert_refused(archive, tmp_path / "out", "appears twice")

    archive = make_zip(tmp_path / "conflict.zip", {"a": b"file", "a/b.txt": b"x"})
    assert_refused(archive, tmp_path / "out", "not a directory")


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "sma.zip"
    bogus.write_bytes(b"<html>Service unavailable</html>")
    assert_refused(bogus, tmp_path / "out", "neither a zip nor a tar")
