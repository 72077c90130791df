"""Atomic output: write to a temporary sibling, then rename; never clobber by accident."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prospector.errors import OutputExistsError, ProspectorError

__all__ = ["atomic_output", "check_writable"]


def check_writable(path: str | Path, *, overwrite: bool) -> Path:
    """Check that *path* may be written; raise a clear error otherwise."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists; pass --overwrite (overwrite=True) to replace it, or "
            "choose another output path."
        )
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProspectorError(f"cannot create the output folder {parent}: {exc}") from exc
    if not os.access(parent, os.W_OK):
        raise ProspectorError(
            f"cannot write to {parent}: permission denied. Choose a writable output folder."
        )
    return path


@contextlib.contextmanager
def atomic_output(
    path: str | Path, *, overwrite: bool = False, directory: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside *path*; on success move it into place.

    On any exception the temporary file (or folder) is removed and *path* is left
    exactly as it was.

    Parameters
    ----------
    path
        Final output path.
    overwrite
        Replace an existing output.
    directory
        Yield a temporary directory instead of a file path.
    """
    path = check_writable(path, overwrite=overwrite)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = tmp_dir / path.name
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        if directory:
            if path.exists():
                backup = path.with_name(f".{path.name}.old")
                os.replace(path, backup)
                os.replace(tmp, path)
                shutil.rmtree(backup, ignore_errors=True)
            else:
                os.replace(tmp, path)
        else:
            if not tmp.exists():
                raise ProspectorError(f"internal error: nothing was written for {path}")
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
