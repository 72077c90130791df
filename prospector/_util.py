"""Small shared helpers with no geospatial dependencies."""

from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prospector._compat import tomllib
from prospector.errors import ProspectorError


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def check_keys(given: Iterable[str], allowed: Iterable[str], *, where: str) -> list[str]:
    """List one problem per unknown key, each with a did-you-mean suggestion."""
    allowed = list(allowed)
    return [
        f"{where}: unknown key {key!r}.{did_you_mean(key, allowed)} "
        f"Allowed keys: {', '.join(sorted(allowed))}."
        for key in given
        if key not in allowed
    ]


def available_memory_bytes() -> int | None:
    """Return the memory this process can still use, in bytes.

    Linux ``MemAvailable`` capped by a cgroup v2 limit, else the free physical pages; None
    when the system does not say.
    """
    available: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if available is None:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                room = int(limit) - int(fh.read().strip())
            available = room if available is None else min(available, room)
    except (OSError, ValueError):
        pass
    return available


def run_time() -> _dt.datetime:
    """Now in UTC, or ``$SOURCE_DATE_EPOCH`` when set (reproducible outputs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
    return _dt.datetime.now(_dt.timezone.utc)


def read_toml(path: Path, *, what: str, give: str, error: type[ProspectorError]) -> dict[str, Any]:
    """Read the TOML file *path*; every failure raises *error* naming the file and the fix.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages (``"config"``, ``"region"``).
    give
        What to give instead, for messages (``"give a TOML config file"``).
    error
        The :class:`~prospector.errors.ProspectorError` subclass to raise.
    """
    if path.is_dir():
        raise error(f"{what} {path} is a folder; {give}.")
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{what} file not found: {path}") from exc
    except OSError as exc:
        raise error(f"cannot read {what} file {path}: {exc.strerror or exc}.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path} is not a {what} file: byte {exc.start} is not UTF-8 text (a binary "
            f"file?); {give}."
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc}). Fix the syntax.") from exc
