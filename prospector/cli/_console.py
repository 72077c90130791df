"""The consoles every command prints through, and how warnings and errors look there.

stdout carries results; stderr carries notes, warnings and errors, each with a
lower-case prefix (``note:``, ``warning:``, ``error:``) so that one form is grepped for.
"""

from __future__ import annotations

import os
import warnings

from rich.console import Console

from prospector.errors import MissingLayerWarning, ProspectorWarning

__all__ = ["err", "out", "print_error", "print_warnings"]

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal and "COLUMNS" not in os.environ:
    out.width = 120  # pipes and logs: wide enough for the top-parcels table


def print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print caught warnings once each: ``note:`` for Prospector's, ``warning:`` for others.

    Missing-layer warnings are skipped: commands list them after the run with what each
    missing layer means.
    """
    seen = set()
    for w in caught:
        text = str(w.message)
        if text in seen:
            continue
        seen.add(text)
        if issubclass(w.category, MissingLayerWarning):
            continue
        kind = "note" if issubclass(w.category, ProspectorWarning) else "warning"
        err.print(f"[yellow]{kind}:[/] {text}", markup=True)


def print_error(message: str) -> None:
    """Print an error the user can fix: ``error: MESSAGE`` on stderr."""
    err.print(f"error: {message}", markup=False)
