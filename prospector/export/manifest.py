"""JSON outputs (run manifest, metrics) written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prospector._runtime import atomic_output

__all__ = ["write_json"]


def write_json(data: dict[str, Any], path: str | Path, *, overwrite: bool = False) -> Path:
    """Write *data* as pretty, key-sorted JSON, atomically."""
    path = Path(path)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(
            json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
    return path
