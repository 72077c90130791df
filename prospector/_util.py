"""Small shared helpers with no geospatial dependencies."""

from __future__ import annotations

import datetime as _dt
import difflib
import os
from collections.abc import Iterable


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


def run_time() -> _dt.datetime:
    """Now in UTC, or ``$SOURCE_DATE_EPOCH`` when set (reproducible outputs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
    return _dt.datetime.now(_dt.timezone.utc)
