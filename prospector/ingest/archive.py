"""Extract downloaded .zip and .tar(.gz/.bz2/.xz) archives safely.

:func:`safe_extract` treats every archive as hostile:

* member paths are normalised and must stay inside the target directory
  (no absolute paths, drive letters or ``..`` escapes - "zip-slip");
* symbolic and hard links must point at a regular file inside the archive; they
  are materialised as plain copies, so no link is ever created on disk;
* device files, FIFOs, encrypted members and duplicate names are refused;
* sizes are checked from the headers before anything is written *and* counted
  while streaming, so an archive whose headers lie (or a decompression bomb)
  is stopped as soon as it produces more bytes than it declared or than the
  limits allow;
* everything is extracted into a temporary sibling directory that is renamed
  into place at the end, so a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Final, Literal

from prospector.errors import ArchiveError, OutputExistsError

__all__ = ["safe_extract"]

_CHUNK_BYTES: Final = 1024 * 1024
_MAX_LINK_DEPTH: Final = 32
_MAX_LINK_TARGET_BYTES: Final = 4096
_DRIVE_RE: Final = re.compile(r"^[A-Za-z]:")
_READ_ERRORS: Final = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
)
_FIX_UNSAFE: Final = (
    "Fix: do not use this archive - download it again from the official source, "
    "or unpack it by hand after checking its contents."
)

_Kind = Literal["file", "dir", "link"]


@dataclass(frozen=True)
class _Member:
    """One archive entry after path validation."""

    name: str
    rel: PurePosixPath
    kind: _Kind
    size: int
    link: PurePosixPath | None
    handle: zipfile.ZipInfo | tarfile.TarInfo


def safe_extract(
    archive_path: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    max_member_bytes: int = 2 * 1024**3,
    max_total_bytes: int = 8 * 1024**3,
    overwrite: bool = False,
) -> list[Path]:
    """Extract a zip or tar archive into ``target_dir``, refusing anything unsafe.

    Parameters
    ----------
    archive_path : str or os.PathLike
        A ``.zip`` or ``.tar`` file (optionally gzip, bzip2 or xz compressed);
        the format is detected from the content, not the extension.
    target_dir : str or os.PathLike
        Directory to create.  It must not exist or be empty unless
        ``overwrite`` is true.
    max_member_bytes : int, default 2 GiB
        Largest uncompressed size accepted for one member.
    max_total_bytes : int, default 8 GiB
        Largest uncompressed size accepted for the whole archive.
    overwrite : bool, default False
        Replace an existing, non-empty ``target_dir`` (only after the new
        contents were extracted completely).

    Returns
    -------
    list of pathlib.Path
        The extracted files (not directories) under ``target_dir``, in archive
        order.

    Raises
    ------
    ArchiveError
        The archive is not a zip/tar file, is corrupt, or has a member that
        escapes ``target_dir``, is a link to outside/missing content, is a
        special file, is encrypted, or is larger than allowed.  The message
        names the archive, the member and the fix.  Nothing is written.
    OutputExistsError
        ``target_dir`` exists, is not empty and ``overwrite`` is false.
    """
    archive = Path(archive_path)
    target = Path(os.path.abspath(target_dir))
    if max_member_bytes < 0 or max_total_bytes < 0:
        raise ValueError("max_member_bytes and max_total_bytes must be >= 0.")
    if not archive.is_file():
        raise ArchiveError(f"Archive {archive} does not exist or is not a file.")
    _check_target(target, overwrite=overwrite)

    with _open_archive(archive) as (members, opener):
        _validate(archive, members, max_member_bytes, max_total_bytes)
        target.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        staging = target.parent / f".{target.name}.{token}.partial"
        os.mkdir(staging)
        try:
            _extract_all(archive, members, opener, staging, max_member_bytes, max_total_bytes)
            _publish(staging, target, token)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return [target.joinpath(*m.rel.parts) for m in members if m.kind != "dir"]


def _check_target(target: Path, *, overwrite: bool) -> None:
    """Refuse a non-empty ``target`` unless ``overwrite``."""
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink() or not target.is_dir():
        raise OutputExistsError(
            f"Cannot extract into {target}: it exists and is not a directory. "
            "Fix: remove it or choose another target directory."
        )
    if not overwrite and any(target.iterdir()):
        raise OutputExistsError(
            f"Cannot extract into {target}: the directory is not empty. Fix: pass "
            "overwrite=True to replace it, or choose another target directory."
        )


@contextmanager
def _open_archive(
    archive: Path,
) -> Iterator[tuple[list[_Member], Callable[[_Member], IO[bytes]]]]:
    """Open ``archive`` and yield its validated members and a member opener.

    Only opening and listing are translated into :class:`ArchiveError`;
    exceptions raised by the caller's block propagate unchanged.
    """
    handle: zipfile.ZipFile | tarfile.TarFile
    try:
        if zipfile.is_zipfile(archive):
            handle = zipfile.ZipFile(archive)
        elif tarfile.is_tarfile(archive):
            handle = tarfile.open(archive, mode="r:*")  # noqa: SIM115 - closed below
        else:
            raise ArchiveError(
                f"{archive} is neither a zip nor a tar archive. Fix: check the "
                "download (an HTML error page saved under an archive name is a "
                "common cause)."
            )
    except _READ_ERRORS as exc:
        raise _corrupt(archive, exc) from exc
    with handle:
        opener: Callable[[_Member], IO[bytes]]
        try:
            if isinstance(handle, zipfile.ZipFile):
                zf = handle
                listed = [_zip_member(archive, zf, info) for info in zf.infolist()]
                opener = lambda m: zf.open(_as_zip(m.handle))  # noqa: E731
            else:
                tf = handle
                listed = [_tar_member(archive, info) for info in tf.getmembers()]
                opener = lambda m: _tar_open(tf, m)  # noqa: E731
        except _READ_ERRORS as exc:
            raise _corrupt(archive, exc) from exc
        yield [m for m in listed if m is not None], opener


def _corrupt(archive: Path, exc: BaseException) -> ArchiveError:
    """Build the error for an archive that cannot be read."""
    return ArchiveError(
        f"Archive {archive} is corrupt or unreadable ({type(exc).__name__}: {exc}). "
        "Fix: download it again (a sha256 in the layer catalogue catches truncated "
        "downloads); do not use it if the problem persists."
    )


def _as_zip(handle: zipfile.ZipInfo | tarfile.TarInfo) -> zipfile.ZipInfo:
    """Narrow a member handle to :class:`zipfile.ZipInfo`."""
    assert isinstance(handle, zipfile.ZipInfo)
    return handle


def _tar_open(tf: tarfile.TarFile, member: _Member) -> IO[bytes]:
    """Open a regular tar member for reading."""
    assert isinstance(member.handle, tarfile.TarInfo)
    stream = tf.extractfile(member.handle)
    if stream is None:  # pragma: no cover - only regular files are opened
        raise ArchiveError(f"Member {member.name!r} has no data.")
    return stream


def _zip_member(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member | None:
    """Classify and validate one zip entry."""
    rel = _safe_relpath(archive, info.filename, info.filename)
    if rel is None:
        return None
    if info.flag_bits & 0x1:
        raise _unsafe(archive, info.filename, "is encrypted", "Fix: decrypt and repack it.")
    mode = info.external_attr >> 16
    kind_bits = stat.S_IFMT(mode)
    if info.is_dir() or kind_bits == stat.S_IFDIR:
        return _Member(info.filename, rel, "dir", 0, None, info)
    if kind_bits == stat.S_IFLNK:
        if info.file_size > _MAX_LINK_TARGET_BYTES:
            raise _unsafe(archive, info.filename, "is a symbolic link with an oversized target")
        with zf.open(info) as stream:
            link_text = stream.read(_MAX_LINK_TARGET_BYTES + 1).decode("utf-8", "replace")
        link = _link_target(archive, info.filename, rel, link_text, symbolic=True)
        return _Member(info.filename, rel, "link", 0, link, info)
    if kind_bits not in (0, stat.S_IFREG):
        raise _unsafe(archive, info.filename, f"is a special file (mode {oct(mode)})")
    return _Member(info.filename, rel, "file", info.file_size, None, info)


def _tar_member(archive: Path, info: tarfile.TarInfo) -> _Member | None:
    """Classify and validate one tar entry."""
    rel = _safe_relpath(archive, info.name, info.name)
    if rel is None:
        return None
    if info.isreg():
        return _Member(info.name, rel, "file", info.size, None, info)
    if info.isdir():
        return _Member(info.name, rel, "dir", 0, None, info)
    if info.issym() or info.islnk():
        link = _link_target(archive, info.name, rel, info.linkname, symbolic=info.issym())
        return _Member(info.name, rel, "link", 0, link, info)
    raise _unsafe(archive, info.name, "is a device file, FIFO or other special file")


def _safe_relpath(archive: Path, member: str, path: str) -> PurePosixPath | None:
    """Normalise ``path`` to a relative path that cannot leave the target.

    Backslashes count as separators (Windows-made archives).  Returns ``None``
    for the archive root itself.
    """
    text = path.replace("\\", "/")
    if "\x00" in text:
        raise _unsafe(archive, member, "has a NUL byte in its name")
    if text.startswith("/") or _DRIVE_RE.match(text):
        raise _unsafe(archive, member, "has an absolute path")
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _unsafe(archive, member, "escapes the target directory with '..'")
            parts.pop()
        else:
            parts.append(part)
    return PurePosixPath(*parts) if parts else None


def _link_target(
    archive: Path, member: str, rel: PurePosixPath, link_text: str, *, symbolic: bool
) -> PurePosixPath:
    """Return the in-archive path a link points at, refusing escapes."""
    text = link_text.replace("\\", "/")
    if not text or text.startswith("/") or _DRIVE_RE.match(text):
        raise _unsafe(archive, member, f"is a link to {link_text!r}, outside the target directory")
    # Symbolic links are relative to their directory, hard links to the root.
    joined = f"{rel.parent.as_posix()}/{text}" if symbolic else text
    try:
        target = _safe_relpath(archive, member, joined)
    except ArchiveError:
        raise _unsafe(
            archive, member, f"is a link to {link_text!r}, outside the target directory"
        ) from None
    if target is None:
        raise _unsafe(archive, member, "is a link to the target directory itself")
    return target


def _validate(
    archive: Path, members: list[_Member], max_member_bytes: int, max_total_bytes: int
) -> None:
    """Check names, links and declared sizes before anything is written."""
    by_path: dict[PurePosixPath, _Member] = {}
    for member in members:
        previous = by_path.get(member.rel)
        if previous is not None and not (previous.kind == member.kind == "dir"):
            raise _unsafe(archive, member.name, "appears twice in the archive")
        by_path[member.rel] = member
    # Links first: a bad link is a clearer message than what lies below it.
    total = sum(_resolve(archive, m, by_path).size for m in members if m.kind != "dir")
    for member in members:
        for ancestor in member.rel.parents:
            parent = by_path.get(ancestor)
            if parent is not None and parent.kind != "dir":
                raise _unsafe(
                    archive, member.name, f"lies below {parent.name!r}, which is not a directory"
                )
        if member.kind == "file" and member.size > max_member_bytes:
            raise _too_big(archive, member.name, member.size, max_member_bytes, "max_member_bytes")
    if total > max_total_bytes:
        raise _too_big(archive, "(all members)", total, max_total_bytes, "max_total_bytes")


def _resolve(archive: Path, member: _Member, by_path: dict[PurePosixPath, _Member]) -> _Member:
    """Follow a chain of links to the regular file it ends at."""
    current = member
    for _ in range(_MAX_LINK_DEPTH):
        if current.kind == "file":
            return current
        if current.kind == "dir" or current.link is None or _is_implied_dir(current.link, by_path):
            raise _unsafe(
                archive,
                member.name,
                "is a link to a directory (not supported)",
                "Fix: repack the archive without links.",
            )
        nxt = by_path.get(current.link)
        if nxt is None:
            raise _unsafe(
                archive,
                member.name,
                f"is a link to {current.link.as_posix()!r}, which is not in the archive",
                "Fix: repack the archive without links.",
            )
        current = nxt
    raise _unsafe(archive, member.name, "is part of a link loop")


def _is_implied_dir(path: PurePosixPath, by_path: dict[PurePosixPath, _Member]) -> bool:
    """Return whether ``path`` is a directory only implied by deeper members."""
    return path not in by_path and any(path in rel.parents for rel in by_path)


def _extract_all(
    archive: Path,
    members: list[_Member],
    opener: Callable[[_Member], IO[bytes]],
    staging: Path,
    max_member_bytes: int,
    max_total_bytes: int,
) -> None:
    """Write every member below ``staging``, counting bytes as they stream."""
    by_path = {m.rel: m for m in members}
    written = 0
    for member in members:
        destination = staging.joinpath(*member.rel.parts)
        if member.kind == "dir":
            destination.mkdir(parents=True, exist_ok=True)
        elif member.kind == "file":
            destination.parent.mkdir(parents=True, exist_ok=True)
            written += _copy_member(
                archive,
                member,
                opener,
                destination,
                limit=min(member.size, max_member_bytes),
                budget=max_total_bytes - written,
            )
    for member in members:  # links last: their targets now exist
        if member.kind != "link":
            continue
        source = _resolve(archive, member, by_path)
        size = staging.joinpath(*source.rel.parts).stat().st_size
        if size > max_total_bytes - written:
            raise _too_big(archive, member.name, written + size, max_total_bytes, "max_total_bytes")
        destination = staging.joinpath(*member.rel.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staging.joinpath(*source.rel.parts), destination)
        written += size


def _copy_member(
    archive: Path,
    member: _Member,
    opener: Callable[[_Member], IO[bytes]],
    destination: Path,
    *,
    limit: int,
    budget: int,
) -> int:
    """Stream one member to ``destination``; stop once it exceeds its limits.

    ``limit`` is the declared size (already checked against
    ``max_member_bytes``): producing more than declared means the header lies.
    """
    try:
        source = opener(member)
    except _READ_ERRORS as exc:
        raise _corrupt(archive, exc) from exc
    count = 0
    with source, open(destination, "xb") as sink:
        while True:
            try:
                chunk = source.read(_CHUNK_BYTES)
            except _READ_ERRORS as exc:
                raise ArchiveError(
                    f"Member {member.name!r} of {archive} is corrupt "
                    f"({type(exc).__name__}: {exc}); its header may lie about its "
                    "size or checksum. Fix: download the archive again; do not use "
                    "it if the problem persists."
                ) from exc
            if not chunk:
                break
            count += len(chunk)
            if count > limit:
                raise _unsafe(
                    archive,
                    member.name,
                    f"produced more than the {limit} bytes its header declares "
                    "(lying header or decompression bomb)",
                )
            if count > budget:
                raise _too_big(archive, member.name, count, budget, "max_total_bytes")
            sink.write(chunk)
    if count != member.size:
        raise ArchiveError(
            f"Member {member.name!r} of {archive} declares {member.size} bytes but "
            f"contains {count}. Fix: download the archive again; do not use it if "
            "the problem persists."
        )
    return count


def _publish(staging: Path, target: Path, token: str) -> None:
    """Move the finished ``staging`` directory to ``target``."""
    if target.is_dir():
        retired = target.parent / f".{target.name}.{token}.old"
        os.rename(target, retired)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(retired, target)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staging, target)


def _unsafe(archive: Path, member: str, problem: str, fix: str = _FIX_UNSAFE) -> ArchiveError:
    """Build the error for a refused member."""
    return ArchiveError(f"Refusing to extract {archive}: member {member!r} {problem}. {fix}")


def _too_big(archive: Path, member: str, size: int, limit: int, option: str) -> ArchiveError:
    """Build the error for a size limit that was exceeded."""
    return ArchiveError(
        f"Refusing to extract {archive}: member {member!r} needs {size} bytes, more "
        f"than {option}={limit}. Fix: if the archive is genuine, raise {option}; "
        "otherwise it may be a decompression bomb - do not use it."
    )
